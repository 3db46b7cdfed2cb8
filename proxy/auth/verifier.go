package auth

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"strings"
	"sync"
)

// SASL mechanism names, as Kafka spells them in SaslHandshake.
const (
	MechanismPlain        = "PLAIN"
	MechanismSCRAMSHA256  = "SCRAM-SHA-256"
	MechanismSCRAMSHA512  = "SCRAM-SHA-512"
	defaultSCRAMIteration = 4096
)

// Verifier checks credentials. Implementations must be safe for concurrent use and
// must honour ctx. They report a user they do not know with ErrUnknownUser, a user
// without a credential for the mechanism with ErrNoCredential, and a wrong password
// with ErrAuthFailed (all may be wrapped with detail for the logs); any other error
// means the verifier could not decide (see ErrUnavailable).
type Verifier interface {
	// VerifyPlain checks a PLAIN user and password and returns the principal the
	// session authenticates as (usually the user name).
	VerifyPlain(ctx context.Context, user, pass string) (principal string, err error)
	// SCRAMCredentials returns the stored SCRAM credential of user for mechanism
	// (MechanismSCRAMSHA256 or MechanismSCRAMSHA512). The password never leaves the
	// verifier: the server side of SCRAM needs only the salted keys.
	SCRAMCredentials(ctx context.Context, mechanism, user string) (SCRAMCredential, error)
}

// SCRAMCredential is what a SCRAM server stores for one user and mechanism (RFC 5802
// section 3): enough to verify a client proof and sign the answer, not enough to log
// in as the user.
type SCRAMCredential struct {
	Salt       []byte
	Iterations int
	// StoredKey is H(ClientKey); ServerKey is HMAC(SaltedPassword, "Server Key").
	StoredKey []byte
	ServerKey []byte
	// Principal, when set, is what the session authenticates as; empty means the user
	// name. It lets a directory-backed verifier map user names.
	Principal string
}

// StaticVerifier is a Verifier over an in-memory user=password table: the example
// plugin serves one, and tests use it. SCRAM credentials are derived once per user
// and mechanism with a random salt, so a session sees a stable salt for the process
// lifetime.
type StaticVerifier struct {
	passwords  map[string]string
	iterations int

	mu    sync.Mutex
	creds map[[2]string]SCRAMCredential
}

// NewStaticVerifier returns a verifier over users (user name to password). iterations
// is the SCRAM iteration count; 0 means 4096.
func NewStaticVerifier(users map[string]string, iterations int) (*StaticVerifier, error) {
	if iterations == 0 {
		iterations = defaultSCRAMIteration
	}
	if err := checkIterations(iterations); err != nil {
		return nil, err
	}
	p := make(map[string]string, len(users))
	for u, pw := range users {
		if u == "" || pw == "" {
			return nil, fmt.Errorf("%w: empty user name or password", ErrBadEntry)
		}
		p[u] = pw
	}
	return &StaticVerifier{passwords: p, iterations: iterations, creds: map[[2]string]SCRAMCredential{}}, nil
}

// VerifyPlain implements Verifier. Passwords are compared as SHA-256 digests in
// constant time, and an unknown user is compared against a dummy, so the answer
// time does not depend on the user or the password length.
func (s *StaticVerifier) VerifyPlain(ctx context.Context, user, pass string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	want, ok := s.passwords[user]
	if !ok {
		want = "\x00unknown-user-dummy"
	}
	a, b := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(want))
	match := subtle.ConstantTimeCompare(a[:], b[:]) == 1
	switch {
	case !ok:
		return "", ErrUnknownUser
	case !match:
		return "", fmt.Errorf("wrong password: %w", ErrAuthFailed)
	}
	return user, nil
}

// SCRAMCredentials implements Verifier.
func (s *StaticVerifier) SCRAMCredentials(ctx context.Context, mechanism, user string) (SCRAMCredential, error) {
	if err := ctx.Err(); err != nil {
		return SCRAMCredential{}, err
	}
	pass, ok := s.passwords[user]
	if !ok {
		return SCRAMCredential{}, ErrUnknownUser
	}
	key := [2]string{mechanism, user}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.creds[key]; ok {
		return c, nil
	}
	c, err := NewSCRAMCredential(mechanism, pass, s.iterations)
	if err != nil {
		return SCRAMCredential{}, err
	}
	s.creds[key] = c
	return c, nil
}

// ParseStaticUsers reads user=password lines (the example plugin's format): blank
// lines and lines starting with # are skipped, the user name is trimmed, the password
// is everything after the first '=' as written. name labels errors ("file:line").
// Every bad line is reported, each matching ErrBadEntry.
func ParseStaticUsers(r io.Reader, name string) (map[string]string, error) {
	users := map[string]string{}
	seen := map[string]int{}
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := AddStaticUser(users, line); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
			continue
		}
		u, _, _ := strings.Cut(line, "=")
		u = strings.TrimSpace(u)
		if first, dup := seen[u]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: %w: user %q already defined on line %d", name, n, ErrBadEntry, u, first))
			continue
		}
		seen[u] = n
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return users, nil
}

// AddStaticUser parses one user=password entry into users (a later entry for the
// same user replaces the earlier one).
func AddStaticUser(users map[string]string, entry string) error {
	u, p, ok := strings.Cut(entry, "=")
	u = strings.TrimSpace(u)
	switch {
	case !ok:
		return fmt.Errorf("%w: want user=password", ErrBadEntry)
	case u == "":
		return fmt.Errorf("%w: empty user name", ErrBadEntry)
	case p == "":
		return fmt.Errorf("%w: user %q: empty password", ErrBadEntry, u)
	}
	users[u] = p
	return nil
}
