package auth

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// SCRAM iteration bounds. Clients (franz-go, the Java client) refuse fewer than 4096;
// the upper bound keeps one login from costing a client seconds of CPU.
const (
	MinSCRAMIterations = 4096
	MaxSCRAMIterations = 1 << 20
	scramSaltLen       = 24
	scramNonceLen      = 24
)

func scramHash(mechanism string) (func() hash.Hash, error) {
	switch mechanism {
	case MechanismSCRAMSHA256:
		return sha256.New, nil
	case MechanismSCRAMSHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("%w: %q is not a SCRAM mechanism", ErrUnsupportedMechanism, mechanism)
}

func checkIterations(n int) error {
	if n < MinSCRAMIterations || n > MaxSCRAMIterations {
		return fmt.Errorf("%w: SCRAM iterations %d outside [%d, %d]", ErrBadEntry, n, MinSCRAMIterations, MaxSCRAMIterations)
	}
	return nil
}

func hmacSum(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// NewSCRAMCredential derives the stored credential for pass with a fresh random salt
// (RFC 5802: SaltedPassword = Hi(pass, salt, i); StoredKey = H(HMAC(SaltedPassword,
// "Client Key")); ServerKey = HMAC(SaltedPassword, "Server Key")). The password is not
// normalized with SASLprep, like Kafka and franz-go.
func NewSCRAMCredential(mechanism, pass string, iterations int) (SCRAMCredential, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return SCRAMCredential{}, fmt.Errorf("salt: %w", err)
	}
	return deriveSCRAM(mechanism, pass, salt, iterations)
}

func deriveSCRAM(mechanism, pass string, salt []byte, iterations int) (SCRAMCredential, error) {
	h, err := scramHash(mechanism)
	if err != nil {
		return SCRAMCredential{}, err
	}
	if err := checkIterations(iterations); err != nil {
		return SCRAMCredential{}, err
	}
	if pass == "" {
		return SCRAMCredential{}, fmt.Errorf("%w: empty password", ErrBadEntry)
	}
	salted, err := pbkdf2.Key(h, pass, salt, iterations, h().Size())
	if err != nil {
		return SCRAMCredential{}, fmt.Errorf("pbkdf2: %w", err)
	}
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	stored := h()
	stored.Write(clientKey)
	return SCRAMCredential{
		Salt:       salt,
		Iterations: iterations,
		StoredKey:  stored.Sum(nil),
		ServerKey:  hmacSum(h, salted, []byte("Server Key")),
	}, nil
}

// checkSCRAMPassword reports whether pass matches c, which lets a SCRAM-only user log
// in with PLAIN too.
func checkSCRAMPassword(mechanism, pass string, c SCRAMCredential) bool {
	d, err := deriveSCRAM(mechanism, pass, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(d.StoredKey, c.StoredKey) == 1
}

func (c SCRAMCredential) validate(mechanism string) error {
	h, err := scramHash(mechanism)
	if err != nil {
		return err
	}
	if err := checkIterations(c.Iterations); err != nil {
		return err
	}
	switch size := h().Size(); {
	case len(c.Salt) == 0:
		return fmt.Errorf("%w: empty salt", ErrBadEntry)
	case len(c.StoredKey) != size || len(c.ServerKey) != size:
		return fmt.Errorf("%w: %s keys must be %d bytes", ErrBadEntry, mechanism, size)
	}
	return nil
}

// scramSession is the server side of one SCRAM exchange (RFC 5802 section 5, RFC 7677).
type scramSession struct {
	a         *Authenticator
	mechanism string
	h         func() hash.Hash
	step      int // 0: want client-first, 1: want client-final, 2: done or failed

	user       string
	gs2Header  string
	clientBare string
	serverMsg1 string
	nonce      string // client nonce + server nonce
	cred       SCRAMCredential
	lookupErr  error // set when the user is refused: the exchange goes on with a fake credential
	principal  string
}

func (s *scramSession) Mechanism() string { return s.mechanism }
func (s *scramSession) Principal() string { return s.principal }

func (s *scramSession) Step(ctx context.Context, msg []byte) ([]byte, bool, error) {
	step := s.step
	s.step = 2 // any failure ends the session; success below moves it on
	switch step {
	case 0:
		out, err := s.clientFirst(ctx, msg)
		if err != nil {
			return nil, false, err
		}
		s.step = 1
		return out, false, nil
	case 1:
		out, err := s.clientFinal(msg)
		if err != nil {
			return nil, false, err
		}
		return out, true, nil
	}
	return nil, false, fmt.Errorf("%s: %w", s.mechanism, ErrIllegalState)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// decodeSaslname undoes the RFC 5802 escaping of ',' and '=' (=2C, =3D); any other
// '=' is invalid.
func decodeSaslname(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", malformed("bad escape in name %q", s)
		}
		i += 2
	}
	return b.String(), nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}

// clientFirst parses
//
//	gs2-cbind-flag "," [ "a=" saslname ] "," ["m=" ext ","] "n=" saslname "," "r=" nonce ["," extensions]
//
// and answers "r=" nonce "," "s=" salt "," "i=" iterations.
func (s *scramSession) clientFirst(ctx context.Context, msg []byte) ([]byte, error) {
	m := string(msg)
	flag, rest, ok := strings.Cut(m, ",")
	if !ok {
		return nil, malformed("client-first: no gs2 header")
	}
	switch {
	case flag == "n", flag == "y":
		// "y": the client could bind but believes we cannot; we advertise no -PLUS
		// mechanism, so that belief is right and the exchange goes on.
	case strings.HasPrefix(flag, "p="):
		return nil, malformed("client-first: channel binding %q is not supported", flag[2:])
	default:
		return nil, malformed("client-first: bad channel binding flag %q", flag)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, malformed("client-first: gs2 header not terminated")
	}
	if authz != "" && !strings.HasPrefix(authz, "a=") {
		return nil, malformed("client-first: bad authzid %q", authz)
	}
	s.gs2Header = flag + "," + authz + ","
	s.clientBare = bare

	attrs := strings.Split(bare, ",")
	if len(attrs) > 0 && strings.HasPrefix(attrs[0], "m=") {
		return nil, malformed("client-first: mandatory extension not supported")
	}
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, malformed("client-first: want n=user,r=nonce")
	}
	if len(attrs) > 2 {
		// Kafka's only extension is tokenauth (delegation tokens), which this server
		// does not issue; anything else is unknown.
		return nil, malformed("client-first: unsupported extension %q", attrs[2])
	}
	user, err := decodeSaslname(attrs[0][2:])
	if err != nil {
		return nil, err
	}
	if user == "" {
		return nil, malformed("client-first: empty user name")
	}
	if authz != "" {
		az, err := decodeSaslname(authz[2:])
		if err != nil {
			return nil, err
		}
		if az != user {
			// As Kafka: a session cannot act for another principal.
			return nil, malformed("client-first: authzid %q differs from user %q", az, user)
		}
	}
	cnonce := attrs[1][2:]
	if cnonce == "" || !printable(cnonce) {
		return nil, malformed("client-first: bad nonce")
	}
	s.user = user

	cred, err := s.a.verifier.SCRAMCredentials(ctx, s.mechanism, user)
	switch {
	case errors.Is(err, ErrAuthFailed):
		// An unknown user (or one the verifier refuses outright, e.g. locked): go on
		// with a fake credential so the client sees the same exchange it would for a
		// real user and fails only at the proof.
		s.lookupErr = err
		cred = s.a.fakeCredential(s.mechanism, user)
	case err != nil:
		return nil, lookupError(s.mechanism, user, err)
	default:
		if verr := cred.validate(s.mechanism); verr != nil {
			return nil, fmt.Errorf("%s user %q: verifier returned a bad credential: %v: %w", s.mechanism, user, verr, ErrUnavailable)
		}
	}
	s.cred = cred

	snonce := make([]byte, scramNonceLen)
	if _, err := rand.Read(snonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	s.nonce = cnonce + base64.RawStdEncoding.EncodeToString(snonce)
	s.serverMsg1 = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(cred.Iterations)
	return []byte(s.serverMsg1), nil
}

// clientFinal parses "c=" cbind "," "r=" nonce ["," extensions] "," "p=" proof, checks
// the proof and answers "v=" server-signature.
func (s *scramSession) clientFinal(msg []byte) ([]byte, error) {
	m := string(msg)
	i := strings.LastIndex(m, ",p=")
	if i < 0 {
		return nil, malformed("client-final: no proof")
	}
	withoutProof, proofB64 := m[:i], m[i+3:]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) != 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, malformed("client-final: want c=binding,r=nonce,p=proof without extensions")
	}
	cbind, err := base64.StdEncoding.DecodeString(attrs[0][2:])
	if err != nil {
		return nil, malformed("client-final: channel binding is not base64")
	}
	if string(cbind) != s.gs2Header {
		return nil, malformed("client-final: channel binding %q does not repeat the gs2 header %q", cbind, s.gs2Header)
	}
	// Kafka's ScramSaslServer only checks that the nonce ends with the one it sent,
	// and librdkafka relies on that (it repeats the client nonce); the client proof
	// covers the message as sent, so this is as safe as Kafka.
	if got := attrs[1][2:]; !strings.HasSuffix(got, s.nonce) || len(got) > 2*len(s.nonce) {
		return nil, malformed("client-final: nonce does not match the one this server sent")
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil {
		return nil, malformed("client-final: proof is not base64")
	}

	authMsg := []byte(s.clientBare + "," + s.serverMsg1 + "," + withoutProof)
	clientSig := hmacSum(s.h, s.cred.StoredKey, authMsg)
	ok := len(proof) == len(clientSig)
	clientKey := make([]byte, len(clientSig))
	if ok {
		subtle.XORBytes(clientKey, proof, clientSig)
	}
	hk := s.h()
	hk.Write(clientKey)
	ok = subtle.ConstantTimeCompare(hk.Sum(nil), s.cred.StoredKey) == 1 && ok
	switch {
	case s.lookupErr != nil:
		return nil, lookupError(s.mechanism, s.user, s.lookupErr)
	case !ok:
		return nil, fmt.Errorf("%s user %q: wrong proof: %w", s.mechanism, s.user, ErrAuthFailed)
	}
	s.principal = s.cred.Principal
	if s.principal == "" {
		s.principal = s.user
	}
	sig := hmacSum(s.h, s.cred.ServerKey, authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(sig)), nil
}

// lookupError wraps a verifier error for the logs, keeping its kind; an error of no
// known kind means the verifier could not decide.
func lookupError(mechanism, user string, err error) error {
	if errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrUnavailable) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s user %q: %w", mechanism, user, err)
	}
	return fmt.Errorf("%s user %q: %w: %w", mechanism, user, ErrUnavailable, err)
}

// fakeSalt and the fake keys are derived from the server secret so an unknown user
// always gets the same salt, exactly as a real user would.
func (a *Authenticator) fakeCredential(mechanism, user string) SCRAMCredential {
	h, _ := scramHash(mechanism)
	label := []byte(mechanism + "\x00" + user)
	return SCRAMCredential{
		Salt:       hmacSum(sha256.New, a.fakeSecret, []byte("salt\x00"), label)[:scramSaltLen],
		Iterations: a.fakeIterations,
		StoredKey:  hmacSum(h, a.fakeSecret, []byte("stored\x00"), label),
		ServerKey:  hmacSum(h, a.fakeSecret, []byte("server\x00"), label),
	}
}
