package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// clientMechanism returns franz-go's client side of mechanism for user and pass.
func clientMechanism(t *testing.T, mechanism, user, pass string) sasl.Mechanism {
	t.Helper()
	switch mechanism {
	case MechanismPlain:
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case MechanismSCRAMSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case MechanismSCRAMSHA512:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	}
	t.Fatalf("no client for %s", mechanism)
	return nil
}

// exchange runs a franz-go client mechanism against a server session, exactly as
// a broker connection would, and returns the server's principal. A client-side
// failure (e.g. a bad server signature) is returned wrapped with "client:".
func exchange(ctx context.Context, m sasl.Mechanism, s Session) (string, error) {
	cs, msg, err := m.Authenticate(ctx, "proxy:9092")
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	for range 4 {
		out, done, err := s.Step(ctx, msg)
		if err != nil {
			return "", err
		}
		cdone, next, err := cs.Challenge(out)
		if err != nil {
			return "", fmt.Errorf("client: %w", err)
		}
		if done != cdone {
			return "", fmt.Errorf("server done=%v but client done=%v", done, cdone)
		}
		if done {
			return s.Principal(), nil
		}
		msg = next
	}
	return "", errors.New("exchange did not finish in 4 steps")
}

func testVerifiers(t *testing.T) map[string]Verifier {
	t.Helper()
	static, err := NewStaticVerifier(map[string]string{"alice": "alice-secret", "bob": "bob-secret"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/users.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	users, err := ParseUsers(f, "testdata/users.txt")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Verifier{"static": static, "usersfile": users}
}

func TestExchangeWithFranzGoClients(t *testing.T) {
	ctx := context.Background()
	mechs := []string{MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512}
	cases := []struct {
		name, user, pass string
		wantReason       string
	}{
		{"success", "alice", "alice-secret", ReasonOK},
		{"wrong password", "alice", "nope", ReasonBadCredentials},
		{"unknown user", "mallory", "alice-secret", ReasonUnknownUser},
		{"user name with escapes", "a=b,c", "x", ReasonUnknownUser},
	}
	for vname, v := range testVerifiers(t) {
		a, err := NewAuthenticator(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, mech := range mechs {
			for _, tc := range cases {
				t.Run(vname+"/"+mech+"/"+tc.name, func(t *testing.T) {
					s, err := a.Start(mech)
					if err != nil {
						t.Fatal(err)
					}
					principal, err := exchange(ctx, clientMechanism(t, mech, tc.user, tc.pass), s)
					if got := Reason(err); got != tc.wantReason {
						t.Fatalf("reason %q, want %q (err %v)", got, tc.wantReason, err)
					}
					if err == nil && principal != tc.user {
						t.Fatalf("principal %q, want %q", principal, tc.user)
					}
					if err != nil && principal != "" {
						t.Fatalf("failed session has principal %q", principal)
					}
					if err != nil && strings.HasPrefix(err.Error(), "client:") {
						t.Fatalf("failure detected by the client, not the server: %v", err)
					}
					// The exchange is over either way.
					if _, _, err := s.Step(ctx, []byte("n,,n=alice,r=x")); !errors.Is(err, ErrIllegalState) {
						t.Fatalf("step after the end: %v, want ErrIllegalState", err)
					}
				})
			}
		}
	}
}

func TestUsersFileMechanismCrossover(t *testing.T) {
	ctx := context.Background()
	v := testVerifiers(t)["usersfile"]
	a, err := NewAuthenticator(v)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, mech, user, pass, wantReason string
	}{
		{"scram-only user logs in with PLAIN", MechanismPlain, "bob", "bob-secret", ReasonOK},
		{"scram-only user, wrong PLAIN password", MechanismPlain, "bob", "bob-secret!", ReasonBadCredentials},
		{"scram-only user with its mechanism", MechanismSCRAMSHA512, "bob", "bob-secret", ReasonOK},
		{"scram-only user lacks the other SCRAM", MechanismSCRAMSHA256, "bob", "bob-secret", ReasonNoCredential},
		{"bcrypt-only user with PLAIN", MechanismPlain, "carol", "carol-secret", ReasonOK},
		{"bcrypt-only user with SCRAM", MechanismSCRAMSHA512, "carol", "carol-secret", ReasonNoCredential},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := a.Start(tc.mech)
			if err != nil {
				t.Fatal(err)
			}
			_, err = exchange(ctx, clientMechanism(t, tc.mech, tc.user, tc.pass), s)
			if got := Reason(err); got != tc.wantReason {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.wantReason, err)
			}
		})
	}
}

func TestStartMechanisms(t *testing.T) {
	v := testVerifiers(t)["static"]
	cases := []struct {
		name    string
		opts    []Option
		mech    string
		wantErr error
	}{
		{"default PLAIN", nil, MechanismPlain, nil},
		{"default SCRAM-SHA-512", nil, MechanismSCRAMSHA512, nil},
		{"unknown mechanism", nil, "GSSAPI", ErrUnsupportedMechanism},
		{"lower case is another name", nil, "plain", ErrUnsupportedMechanism},
		{"disabled mechanism", []Option{WithMechanisms(MechanismSCRAMSHA256)}, MechanismPlain, ErrUnsupportedMechanism},
		{"enabled mechanism", []Option{WithMechanisms(MechanismSCRAMSHA256)}, MechanismSCRAMSHA256, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAuthenticator(v, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Start(tc.mech)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Start(%q) = %v, want %v", tc.mech, err, tc.wantErr)
			}
			if err != nil && KafkaError(err) != kerr.UnsupportedSaslMechanism {
				t.Fatalf("kafka error %v", KafkaError(err))
			}
		})
	}
	if _, err := NewAuthenticator(v, WithMechanisms("GSSAPI")); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("WithMechanisms(GSSAPI): %v", err)
	}
	a, _ := NewAuthenticator(v, WithMechanisms(MechanismSCRAMSHA256, MechanismPlain, MechanismPlain))
	if got := strings.Join(a.Mechanisms(), ","); got != "SCRAM-SHA-256,PLAIN" {
		t.Fatalf("Mechanisms() = %s", got)
	}
}

func TestPlainMessages(t *testing.T) {
	ctx := context.Background()
	a, err := NewAuthenticator(testVerifiers(t)["static"])
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		msg        string
		wantReason string
	}{
		{"ok", "\x00alice\x00alice-secret", ReasonOK},
		{"authzid equal to user", "alice\x00alice\x00alice-secret", ReasonOK},
		{"authzid of another user", "bob\x00alice\x00alice-secret", ReasonMalformed},
		{"two fields", "alice\x00alice-secret", ReasonMalformed},
		{"four fields", "\x00alice\x00alice-secret\x00", ReasonMalformed},
		{"empty user", "\x00\x00alice-secret", ReasonMalformed},
		{"empty password", "\x00alice\x00", ReasonMalformed},
		{"empty message", "", ReasonMalformed},
		{"oversized", "\x00alice\x00" + strings.Repeat("x", DefaultMaxMessageSize), ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := a.Start(MechanismPlain)
			if err != nil {
				t.Fatal(err)
			}
			out, done, err := s.Step(ctx, []byte(tc.msg))
			if got := Reason(err); got != tc.wantReason {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.wantReason, err)
			}
			if done != (err == nil) || len(out) != 0 {
				t.Fatalf("done=%v out=%q with err %v", done, out, err)
			}
			if err == nil && s.Principal() != "alice" {
				t.Fatalf("principal %q", s.Principal())
			}
		})
	}
}

// stubVerifier returns fixed answers, to test how the engine treats verifier results.
type stubVerifier struct {
	principal string
	cred      SCRAMCredential
	err       error
}

func (s stubVerifier) VerifyPlain(context.Context, string, string) (string, error) {
	return s.principal, s.err
}

func (s stubVerifier) SCRAMCredentials(context.Context, string, string) (SCRAMCredential, error) {
	return s.cred, s.err
}

func TestVerifierResults(t *testing.T) {
	ctx := context.Background()
	good, err := NewSCRAMCredential(MechanismSCRAMSHA256, "pw", 4096)
	if err != nil {
		t.Fatal(err)
	}
	mapped := good
	mapped.Principal = "User:alice@corp"
	short := good
	short.StoredKey = good.StoredKey[:5]
	cases := []struct {
		name          string
		v             stubVerifier
		mech          string
		wantReason    string
		wantPrincipal string
	}{
		{"PLAIN principal mapped", stubVerifier{principal: "User:alice@corp"}, MechanismPlain, ReasonOK, "User:alice@corp"},
		{"PLAIN empty principal is the user", stubVerifier{}, MechanismPlain, ReasonOK, "alice"},
		{"PLAIN backend down", stubVerifier{err: errors.New("ldap: connection refused")}, MechanismPlain, ReasonUnavailable, ""},
		{"PLAIN backend timeout", stubVerifier{err: context.DeadlineExceeded}, MechanismPlain, ReasonCanceled, ""},
		{"SCRAM principal mapped", stubVerifier{cred: mapped}, MechanismSCRAMSHA256, ReasonOK, "User:alice@corp"},
		{"SCRAM principal default", stubVerifier{cred: good}, MechanismSCRAMSHA256, ReasonOK, "alice"},
		{"SCRAM backend down", stubVerifier{err: errors.New("ldap: connection refused")}, MechanismSCRAMSHA256, ReasonUnavailable, ""},
		{"SCRAM bad credential from verifier", stubVerifier{cred: short}, MechanismSCRAMSHA256, ReasonUnavailable, ""},
		{"SCRAM wrong-mechanism credential", stubVerifier{cred: good}, MechanismSCRAMSHA512, ReasonUnavailable, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAuthenticator(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			s, err := a.Start(tc.mech)
			if err != nil {
				t.Fatal(err)
			}
			p, err := exchange(ctx, clientMechanism(t, tc.mech, "alice", "pw"), s)
			if got := Reason(err); got != tc.wantReason {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.wantReason, err)
			}
			if p != tc.wantPrincipal {
				t.Fatalf("principal %q, want %q", p, tc.wantPrincipal)
			}
		})
	}
}

func TestStartFromRateLimits(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	lim, err := NewLimiter(2, time.Minute, WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuthenticator(testVerifiers(t)["static"], WithLimiter(lim))
	if err != nil {
		t.Fatal(err)
	}
	try := func(addr, pass string) error {
		s, err := a.StartFrom(addr, MechanismSCRAMSHA256)
		if err != nil {
			return err
		}
		_, err = exchange(ctx, clientMechanism(t, MechanismSCRAMSHA256, "alice", pass), s)
		return err
	}
	steps := []struct {
		name       string
		addr, pass string
		advance    time.Duration
		wantReason string
	}{
		{"success spends nothing", "10.0.0.1:5000", "alice-secret", 0, ReasonOK},
		{"first failure", "10.0.0.1:5001", "bad", 0, ReasonBadCredentials},
		{"second failure", "10.0.0.1:5002", "bad", 0, ReasonBadCredentials},
		{"locked out, right password or not", "10.0.0.1:5003", "alice-secret", 0, ReasonRateLimited},
		{"other host unaffected", "10.0.0.2:5000", "alice-secret", 0, ReasonOK},
		{"one attempt back after the interval", "10.0.0.1:5004", "alice-secret", time.Minute, ReasonOK},
	}
	for _, st := range steps {
		clock.advance(st.advance)
		if got := Reason(try(st.addr, st.pass)); got != st.wantReason {
			t.Fatalf("%s: reason %q, want %q", st.name, got, st.wantReason)
		}
	}
	// An unsupported mechanism counts too: probing mechanisms is not free.
	if _, err := a.StartFrom("10.0.0.3:1", "GSSAPI"); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatal(err)
	}
	if lim.Allow("10.0.0.3") != true || lim.Len() != 2 {
		t.Fatalf("limiter state after a mechanism probe: allow=%v len=%d", lim.Allow("10.0.0.3"), lim.Len())
	}
}

func TestAuthenticatorOptions(t *testing.T) {
	v := testVerifiers(t)["static"]
	cases := []struct {
		name string
		opts []Option
	}{
		{"short secret", []Option{WithFakeSecret([]byte("short"))}},
		{"few iterations", []Option{WithFakeIterations(1000)}},
		{"tiny messages", []Option{WithMaxMessageSize(10)}},
		{"no mechanisms", []Option{WithMechanisms()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewAuthenticator(v, tc.opts...); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	if _, err := NewAuthenticator(nil); err == nil {
		t.Fatal("nil verifier accepted")
	}
}
