package auth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Kinds of entries in a users file (the second field of a line).
const (
	KindPlainBcrypt = "plain-bcrypt"
	KindSCRAMSHA256 = "scram-sha-256"
	KindSCRAMSHA512 = "scram-sha-512"
)

// maxReportedErrors bounds how many bad lines one parse error lists.
const maxReportedErrors = 20

// Users is one parsed users file: an immutable Verifier. See the package doc for the
// format.
type Users struct {
	plain map[string][]byte             // user -> bcrypt hash
	scram map[[2]string]SCRAMCredential // {mechanism, user} -> credential
	lines map[[2]string]int             // {kind, user} -> line, for duplicate reports
	names map[string]struct{}           // every user with any entry
	cost  int                           // highest bcrypt cost in the file
	dummy func() []byte                 // bcrypt hash compared for unknown users, nil without bcrypt entries
}

// ParseUsers parses a users file from r; name labels errors ("name:line: ..."). Every
// bad line is reported (up to 20), each error matching ErrBadEntry; a file with any
// bad line yields no Users at all, so a typo never silently drops a user.
func ParseUsers(r io.Reader, name string) (*Users, error) {
	u := &Users{
		plain: map[string][]byte{},
		scram: map[[2]string]SCRAMCredential{},
		lines: map[[2]string]int{},
		names: map[string]struct{}{},
	}
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := u.add(line, n); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	if cost := u.cost; cost > 0 {
		u.dummy = sync.OnceValue(func() []byte {
			h, _ := bcrypt.GenerateFromPassword([]byte("airlock-unknown-user"), cost)
			return h
		})
	}
	return u, nil
}

func joinErrors(errs []error) error {
	if len(errs) > maxReportedErrors {
		more := len(errs) - maxReportedErrors
		errs = append(errs[:maxReportedErrors:maxReportedErrors], fmt.Errorf("... and %d more bad lines", more))
	}
	return errors.Join(errs...)
}

// parsedEntry is one users file line, split.
type parsedEntry struct {
	user, kind string
	hash       []byte
	cred       SCRAMCredential
}

func parseEntry(line string) (parsedEntry, error) {
	f := strings.Split(line, ":")
	if len(f) < 2 {
		return parsedEntry{}, fmt.Errorf("%w: want user:kind:..., got %d fields", ErrBadEntry, len(f))
	}
	e := parsedEntry{user: f[0], kind: f[1]}
	if err := checkUserName(e.user); err != nil {
		return parsedEntry{}, err
	}
	switch e.kind {
	case KindPlainBcrypt:
		if len(f) != 3 {
			return parsedEntry{}, fmt.Errorf("%w: %s wants user:%s:<bcrypt hash>", ErrBadEntry, e.kind, e.kind)
		}
		if _, err := bcrypt.Cost([]byte(f[2])); err != nil {
			return parsedEntry{}, fmt.Errorf("%w: user %q: bad bcrypt hash: %v", ErrBadEntry, e.user, err)
		}
		e.hash = []byte(f[2])
	case KindSCRAMSHA256, KindSCRAMSHA512:
		if len(f) != 6 {
			return parsedEntry{}, fmt.Errorf("%w: %s wants user:%s:<iterations>:<salt>:<stored key>:<server key> (base64)", ErrBadEntry, e.kind, e.kind)
		}
		iter, err := strconv.Atoi(f[2])
		if err != nil {
			return parsedEntry{}, fmt.Errorf("%w: user %q: iterations %q is not a number", ErrBadEntry, e.user, f[2])
		}
		var keys [3][]byte
		for i, what := range []string{"salt", "stored key", "server key"} {
			if keys[i], err = base64.StdEncoding.DecodeString(f[3+i]); err != nil {
				return parsedEntry{}, fmt.Errorf("%w: user %q: %s is not base64: %v", ErrBadEntry, e.user, what, err)
			}
		}
		e.cred = SCRAMCredential{Iterations: iter, Salt: keys[0], StoredKey: keys[1], ServerKey: keys[2]}
		if err := e.cred.validate(kindMechanism(e.kind)); err != nil {
			return parsedEntry{}, fmt.Errorf("user %q: %w", e.user, err)
		}
	default:
		return parsedEntry{}, fmt.Errorf("%w: user %q: unknown kind %q (want %s, %s or %s)", ErrBadEntry, e.user, e.kind, KindPlainBcrypt, KindSCRAMSHA256, KindSCRAMSHA512)
	}
	return e, nil
}

func kindMechanism(kind string) string {
	switch kind {
	case KindSCRAMSHA256:
		return MechanismSCRAMSHA256
	case KindSCRAMSHA512:
		return MechanismSCRAMSHA512
	}
	return MechanismPlain
}

func mechanismKind(mechanism string) (string, error) {
	switch mechanism {
	case MechanismSCRAMSHA256:
		return KindSCRAMSHA256, nil
	case MechanismSCRAMSHA512:
		return KindSCRAMSHA512, nil
	}
	return "", fmt.Errorf("%w: %q is not a SCRAM mechanism", ErrUnsupportedMechanism, mechanism)
}

// checkUserName keeps names representable in the file: ':' separates fields, a
// leading '#' starts a comment, and spaces or control characters would be trimmed
// or invisible.
func checkUserName(u string) error {
	switch {
	case u == "":
		return fmt.Errorf("%w: empty user name", ErrBadEntry)
	case !utf8.ValidString(u):
		return fmt.Errorf("%w: user name is not UTF-8", ErrBadEntry)
	case strings.HasPrefix(u, "#"):
		return fmt.Errorf("%w: user name %q starts with #", ErrBadEntry, u)
	case strings.IndexFunc(u, func(r rune) bool { return r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("%w: user name %q contains ':', a space or a control character", ErrBadEntry, u)
	}
	return nil
}

func (u *Users) add(line string, n int) error {
	e, err := parseEntry(line)
	if err != nil {
		return err
	}
	key := [2]string{e.kind, e.user}
	if first, dup := u.lines[key]; dup {
		return fmt.Errorf("%w: user %q already has a %s entry on line %d", ErrBadEntry, e.user, e.kind, first)
	}
	u.lines[key] = n
	u.names[e.user] = struct{}{}
	if e.kind == KindPlainBcrypt {
		u.plain[e.user] = e.hash
		if c, _ := bcrypt.Cost(e.hash); c > u.cost {
			u.cost = c
		}
		return nil
	}
	u.scram[[2]string{kindMechanism(e.kind), e.user}] = e.cred
	return nil
}

// Len returns the number of distinct users.
func (u *Users) Len() int { return len(u.names) }

// VerifyPlain implements Verifier. A user with a bcrypt entry is checked against it;
// a user with only SCRAM entries is checked against the SCRAM credential, so one
// entry serves both mechanisms. An unknown user costs one dummy bcrypt comparison, so
// timing does not tell users apart.
func (u *Users) VerifyPlain(ctx context.Context, user, pass string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if h, ok := u.plain[user]; ok {
		if err := bcrypt.CompareHashAndPassword(h, []byte(pass)); err != nil {
			return "", fmt.Errorf("wrong password: %w", ErrAuthFailed)
		}
		return user, nil
	}
	for _, m := range []string{MechanismSCRAMSHA512, MechanismSCRAMSHA256} {
		if c, ok := u.scram[[2]string{m, user}]; ok {
			if !checkSCRAMPassword(m, pass, c) {
				return "", fmt.Errorf("wrong password (checked against %s): %w", m, ErrAuthFailed)
			}
			return user, nil
		}
	}
	// Spend what a known user would have cost.
	if u.dummy != nil {
		_ = bcrypt.CompareHashAndPassword(u.dummy(), []byte(pass))
	} else {
		_, _ = deriveSCRAM(MechanismSCRAMSHA512, pass, []byte("airlock-unknown-user"), defaultSCRAMIteration)
	}
	return "", ErrUnknownUser
}

// SCRAMCredentials implements Verifier.
func (u *Users) SCRAMCredentials(ctx context.Context, mechanism, user string) (SCRAMCredential, error) {
	if err := ctx.Err(); err != nil {
		return SCRAMCredential{}, err
	}
	if _, err := mechanismKind(mechanism); err != nil {
		return SCRAMCredential{}, err
	}
	if c, ok := u.scram[[2]string{mechanism, user}]; ok {
		return c, nil
	}
	if _, ok := u.names[user]; ok {
		return SCRAMCredential{}, fmt.Errorf("user has no %s entry: %w", mechanism, ErrNoCredential)
	}
	return SCRAMCredential{}, ErrUnknownUser
}

// HashPlain returns the bcrypt hash of pass at bcrypt.DefaultCost, for a
// plain-bcrypt entry. bcrypt refuses passwords longer than 72 bytes.
func HashPlain(pass string) (string, error) {
	return HashPlainCost(pass, bcrypt.DefaultCost)
}

// HashPlainCost is HashPlain with an explicit bcrypt cost (4 to 31). Each step
// doubles the CPU of every PLAIN login.
func HashPlainCost(pass string, cost int) (string, error) {
	if pass == "" {
		return "", fmt.Errorf("%w: empty password", ErrBadEntry)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pass), cost)
	if err != nil {
		return "", fmt.Errorf("bcrypt: %w", err)
	}
	return string(h), nil
}

// FormatPlainLine returns the users file line "user:plain-bcrypt:<hash>".
func FormatPlainLine(user, bcryptHash string) (string, error) {
	line := user + ":" + KindPlainBcrypt + ":" + bcryptHash
	if _, err := parseEntry(line); err != nil {
		return "", err
	}
	return line, nil
}

// FormatSCRAMLine returns the users file line
// "user:scram-sha-<n>:<iterations>:<salt>:<stored key>:<server key>" for c. The
// Principal of c is not stored: a users file entry authenticates as its user name.
func FormatSCRAMLine(user, mechanism string, c SCRAMCredential) (string, error) {
	kind, err := mechanismKind(mechanism)
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString
	line := strings.Join([]string{user, kind, strconv.Itoa(c.Iterations), b64(c.Salt), b64(c.StoredKey), b64(c.ServerKey)}, ":")
	if _, err := parseEntry(line); err != nil {
		return "", err
	}
	return line, nil
}

// setEntry returns content with line replacing the entry of the same user and kind,
// or appended. The result is parsed in full, so a bad file is never produced.
func setEntry(content []byte, line string) ([]byte, error) {
	e, err := parseEntry(line)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	replaced := false
	for l := range strings.Lines(string(content)) {
		if old, err := parseEntry(strings.TrimSpace(l)); err == nil && old.user == e.user && old.kind == e.kind {
			if !replaced {
				out.WriteString(line + "\n")
				replaced = true
			}
			continue
		}
		out.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			out.WriteByte('\n')
		}
	}
	if !replaced {
		out.WriteString(line + "\n")
	}
	if _, err := ParseUsers(bytes.NewReader(out.Bytes()), "result"); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// removeUser returns content without any entry of user, and how many were removed.
func removeUser(content []byte, user string) ([]byte, int) {
	var out bytes.Buffer
	n := 0
	for l := range strings.Lines(string(content)) {
		if old, err := parseEntry(strings.TrimSpace(l)); err == nil && old.user == user {
			n++
			continue
		}
		out.WriteString(l)
	}
	return out.Bytes(), n
}
