package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
)

// DefaultMaxMessageSize bounds one client SASL message. Real PLAIN and SCRAM messages
// are a few hundred bytes; the bound keeps a hostile client from making the server
// parse megabytes before it is authenticated.
const DefaultMaxMessageSize = 16 << 10

// Session is one server-side SASL exchange, driven by the proxy with the auth bytes of
// each SaslAuthenticate request (or each raw token after a v0 SaslHandshake). A
// Session is not safe for concurrent use; a connection owns it.
type Session interface {
	// Mechanism is the mechanism the session was started for.
	Mechanism() string
	// Step consumes one client message and returns the server's answer. done reports
	// a successful end: send serverMsg as the last SaslAuthenticate response and treat
	// the connection as authenticated as Principal. On error the exchange is over and
	// every later Step returns ErrIllegalState; answer with KafkaError(err) and
	// ClientMessage(err) and close the connection. serverMsg may be empty and still
	// must be sent (PLAIN answers with no bytes).
	Step(ctx context.Context, clientMsg []byte) (serverMsg []byte, done bool, err error)
	// Principal is the authenticated principal once Step reported done; empty before.
	Principal() string
}

// Authenticator is the server side of SASL for the proxy's clients: it starts
// Sessions for the enabled mechanisms and checks credentials with a Verifier. It is
// safe for concurrent use and holds no per-connection state.
type Authenticator struct {
	verifier       Verifier
	mechanisms     []string
	fakeSecret     []byte
	fakeIterations int
	maxMessage     int
	limiter        *Limiter
}

// Option configures an Authenticator.
type Option func(*Authenticator) error

// WithMechanisms enables only the given mechanisms, in the given preference order
// (the order SaslHandshake lists them). The default is PLAIN, SCRAM-SHA-512,
// SCRAM-SHA-256. Use it to turn PLAIN off on a listener without TLS.
func WithMechanisms(mechanisms ...string) Option {
	return func(a *Authenticator) error {
		if len(mechanisms) == 0 {
			return fmt.Errorf("%w: no mechanism enabled", ErrUnsupportedMechanism)
		}
		a.mechanisms = a.mechanisms[:0]
		for _, m := range mechanisms {
			switch m {
			case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
			default:
				return fmt.Errorf("%w: %q", ErrUnsupportedMechanism, m)
			}
			if !slices.Contains(a.mechanisms, m) {
				a.mechanisms = append(a.mechanisms, m)
			}
		}
		return nil
	}
}

// WithFakeSecret sets the secret that derives the fake SCRAM salt of unknown users
// (at least 16 bytes). By default a random secret is drawn at start; set the same
// secret on every replica, and keep it across restarts, so that a probing client
// cannot notice an unknown user's salt changing while real users' salts stay put.
func WithFakeSecret(secret []byte) Option {
	return func(a *Authenticator) error {
		if len(secret) < 16 {
			return errors.New("fake secret must be at least 16 bytes")
		}
		a.fakeSecret = bytes.Clone(secret)
		return nil
	}
}

// WithFakeIterations sets the SCRAM iteration count announced for unknown users;
// make it the count most real users have (default 4096).
func WithFakeIterations(n int) Option {
	return func(a *Authenticator) error {
		if err := checkIterations(n); err != nil {
			return err
		}
		a.fakeIterations = n
		return nil
	}
}

// WithMaxMessageSize bounds one client SASL message (default DefaultMaxMessageSize).
func WithMaxMessageSize(n int) Option {
	return func(a *Authenticator) error {
		if n < 256 {
			return fmt.Errorf("max message size %d is below 256 bytes", n)
		}
		a.maxMessage = n
		return nil
	}
}

// WithLimiter makes StartFrom refuse addresses that failed too often and count every
// failed session against its address.
func WithLimiter(l *Limiter) Option {
	return func(a *Authenticator) error {
		a.limiter = l
		return nil
	}
}

// NewAuthenticator returns an Authenticator that checks credentials with v.
func NewAuthenticator(v Verifier, opts ...Option) (*Authenticator, error) {
	if v == nil {
		return nil, errors.New("nil verifier")
	}
	a := &Authenticator{
		verifier:       v,
		mechanisms:     []string{MechanismPlain, MechanismSCRAMSHA512, MechanismSCRAMSHA256},
		fakeIterations: defaultSCRAMIteration,
		maxMessage:     DefaultMaxMessageSize,
	}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, fmt.Errorf("authenticator: %w", err)
		}
	}
	if a.fakeSecret == nil {
		a.fakeSecret = make([]byte, 32)
		if _, err := rand.Read(a.fakeSecret); err != nil {
			return nil, fmt.Errorf("authenticator: fake secret: %w", err)
		}
	}
	return a, nil
}

// Mechanisms returns the enabled mechanisms, for the SaslHandshake response.
func (a *Authenticator) Mechanisms() []string { return slices.Clone(a.mechanisms) }

// Start begins an exchange for mechanism (as named in SaslHandshake; Kafka names are
// upper case and matched exactly). It fails with ErrUnsupportedMechanism for a
// mechanism that is not enabled.
func (a *Authenticator) Start(mechanism string) (Session, error) {
	if !slices.Contains(a.mechanisms, mechanism) {
		return nil, fmt.Errorf("%w: %q (enabled: %v)", ErrUnsupportedMechanism, mechanism, a.mechanisms)
	}
	var s Session
	if mechanism == MechanismPlain {
		s = &plainSession{a: a}
	} else {
		h, err := scramHash(mechanism)
		if err != nil {
			return nil, err
		}
		s = &scramSession{a: a, mechanism: mechanism, h: h}
	}
	return &boundedSession{Session: s, max: a.maxMessage}, nil
}

// StartFrom is Start for a client at addr ("host:port" or a bare host): with a
// Limiter configured it returns ErrRateLimited while addr is locked out, and a failed
// session counts once against addr, as does asking for an unsupported mechanism
// (probing is not free). Failures that are not the client's doing (ErrUnavailable, a
// canceled context) do not count. Without a Limiter it is Start.
func (a *Authenticator) StartFrom(addr, mechanism string) (Session, error) {
	if a.limiter == nil {
		return a.Start(mechanism)
	}
	if !a.limiter.Allow(addr) {
		return nil, fmt.Errorf("client %s: %w", addr, ErrRateLimited)
	}
	s, err := a.Start(mechanism)
	if err != nil {
		a.limiter.Fail(addr)
		return nil, err
	}
	return &limitedSession{Session: s, limiter: a.limiter, addr: addr}, nil
}

// boundedSession rejects oversized messages before any parsing.
type boundedSession struct {
	Session
	max    int
	failed bool
}

func (b *boundedSession) Step(ctx context.Context, msg []byte) ([]byte, bool, error) {
	if b.failed {
		return nil, false, fmt.Errorf("%s: %w", b.Mechanism(), ErrIllegalState)
	}
	if len(msg) > b.max {
		b.failed = true
		return nil, false, malformed("%s message of %d bytes exceeds %d", b.Mechanism(), len(msg), b.max)
	}
	return b.Session.Step(ctx, msg)
}

// limitedSession reports failures to the limiter, once per session.
type limitedSession struct {
	Session
	limiter  *Limiter
	addr     string
	reported bool
}

func (l *limitedSession) Step(ctx context.Context, msg []byte) ([]byte, bool, error) {
	out, done, err := l.Session.Step(ctx, msg)
	if err != nil && !l.reported && countsAsFailure(err) {
		l.reported = true
		l.limiter.Fail(l.addr)
	}
	return out, done, err
}

// countsAsFailure leaves out failures that are not the client's doing.
func countsAsFailure(err error) bool {
	return !errors.Is(err, ErrUnavailable) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, context.DeadlineExceeded)
}

// plainSession is RFC 4616: one message "authzid NUL authcid NUL passwd".
type plainSession struct {
	a         *Authenticator
	done      bool
	principal string
}

func (p *plainSession) Mechanism() string { return MechanismPlain }
func (p *plainSession) Principal() string { return p.principal }

func (p *plainSession) Step(ctx context.Context, msg []byte) ([]byte, bool, error) {
	if p.done {
		return nil, false, fmt.Errorf("PLAIN: %w", ErrIllegalState)
	}
	p.done = true
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return nil, false, malformed("PLAIN: want authzid NUL user NUL password, got %d fields", len(parts))
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if user == "" || pass == "" {
		return nil, false, malformed("PLAIN: empty user name or password")
	}
	if authz != "" && authz != user {
		// As Kafka: a session cannot act for another principal.
		return nil, false, malformed("PLAIN: authzid %q differs from user %q", authz, user)
	}
	principal, err := p.a.verifier.VerifyPlain(ctx, user, pass)
	if err != nil {
		return nil, false, lookupError(MechanismPlain, user, err)
	}
	if principal == "" {
		principal = user
	}
	p.principal = principal
	return []byte{}, true, nil
}
