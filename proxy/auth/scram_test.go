package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// scramFirstRound runs the client-first round with franz-go's client and returns the
// session, the server-first message and the client-final message the client would send.
func scramFirstRound(t *testing.T, a *Authenticator, mech, user, pass string) (Session, string, string) {
	t.Helper()
	ctx := context.Background()
	m := clientMechanism(t, mech, user, pass)
	cs, first, err := m.Authenticate(ctx, "proxy:9092")
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.Start(mech)
	if err != nil {
		t.Fatal(err)
	}
	serverFirst, done, err := s.Step(ctx, first)
	if err != nil || done {
		t.Fatalf("client-first: done=%v err=%v", done, err)
	}
	_, final, err := cs.Challenge(serverFirst)
	if err != nil {
		t.Fatalf("client rejected server-first %q: %v", serverFirst, err)
	}
	return s, string(serverFirst), string(final)
}

func TestSCRAMClientFinalTampering(t *testing.T) {
	ctx := context.Background()
	a, err := NewAuthenticator(testVerifiers(t)["static"])
	if err != nil {
		t.Fatal(err)
	}
	flipProof := func(final string) string {
		i := strings.LastIndex(final, ",p=")
		proof, _ := base64.StdEncoding.DecodeString(final[i+3:])
		proof[0] ^= 1
		return final[:i+3] + base64.StdEncoding.EncodeToString(proof)
	}
	replaceNonce := func(final string, f func(string) string) string {
		attrs := strings.Split(final, ",")
		attrs[1] = "r=" + f(attrs[1][2:])
		return strings.Join(attrs, ",")
	}
	cases := []struct {
		name       string
		tamper     func(final string) string
		wantReason string
	}{
		{"untouched", func(f string) string { return f }, ReasonOK},
		{"proof bit flipped", flipProof, ReasonBadCredentials},
		{"proof truncated", func(f string) string { return f[:len(f)-8] + "AAAA" }, ReasonBadCredentials},
		{"proof empty", func(f string) string { return f[:strings.LastIndex(f, ",p=")+3] }, ReasonBadCredentials},
		{"server nonce part changed", func(f string) string {
			return replaceNonce(f, func(n string) string { return n[:len(n)-1] + string(n[len(n)-1]^1) })
		}, ReasonMalformed},
		{"only the client nonce", func(f string) string {
			return replaceNonce(f, func(n string) string { return n[:10] })
		}, ReasonMalformed},
		{"nonce with a suffix", func(f string) string {
			return replaceNonce(f, func(n string) string { return n + "x" })
		}, ReasonMalformed},
		{"channel binding of another header", func(f string) string {
			return strings.Replace(f, "c=biws", "c="+base64.StdEncoding.EncodeToString([]byte("y,,")), 1)
		}, ReasonMalformed},
		{"channel binding not base64", func(f string) string { return strings.Replace(f, "c=biws", "c=!!", 1) }, ReasonMalformed},
		{"extension before the proof", func(f string) string {
			i := strings.LastIndex(f, ",p=")
			return f[:i] + ",x=1" + f[i:]
		}, ReasonMalformed},
		{"no proof", func(f string) string { return f[:strings.LastIndex(f, ",p=")] }, ReasonMalformed},
		{"proof not base64", func(f string) string { return f[:strings.LastIndex(f, ",p=")+3] + "***" }, ReasonMalformed},
		{"attributes swapped", func(f string) string {
			attrs := strings.Split(f, ",")
			attrs[0], attrs[1] = attrs[1], attrs[0]
			return strings.Join(attrs, ",")
		}, ReasonMalformed},
	}
	for _, mech := range []string{MechanismSCRAMSHA256, MechanismSCRAMSHA512} {
		for _, tc := range cases {
			t.Run(mech+"/"+tc.name, func(t *testing.T) {
				s, _, final := scramFirstRound(t, a, mech, "alice", "alice-secret")
				out, done, err := s.Step(ctx, []byte(tc.tamper(final)))
				if got := Reason(err); got != tc.wantReason {
					t.Fatalf("reason %q, want %q (err %v)", got, tc.wantReason, err)
				}
				if err != nil {
					if done || out != nil || s.Principal() != "" {
						t.Fatalf("failed step: done=%v out=%q principal=%q", done, out, s.Principal())
					}
					if KafkaError(err) != kerr.SaslAuthenticationFailed {
						t.Fatalf("kafka error %v", KafkaError(err))
					}
					return
				}
				if !done || !bytes.HasPrefix(out, []byte("v=")) {
					t.Fatalf("server-final %q done=%v", out, done)
				}
			})
		}
	}
}

func TestSCRAMClientFirstGrammar(t *testing.T) {
	ctx := context.Background()
	a, err := NewAuthenticator(testVerifiers(t)["static"])
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		msg        string
		wantReason string // of the first step
	}{
		{"plain n flag", "n,,n=alice,r=abc", ReasonOK},
		{"y flag: client could bind, server cannot", "y,,n=alice,r=abc", ReasonOK},
		{"authzid equal to user", "n,a=alice,n=alice,r=abc", ReasonOK},
		{"escaped user name", "n,,n=a=2Cb=3Dc,r=abc", ReasonOK},
		{"channel binding requested", "p=tls-unique,,n=alice,r=abc", ReasonMalformed},
		{"unknown flag", "x,,n=alice,r=abc", ReasonMalformed},
		{"authzid of another user", "n,a=bob,n=alice,r=abc", ReasonMalformed},
		{"authzid without a=", "n,bob,n=alice,r=abc", ReasonMalformed},
		{"mandatory extension", "n,,m=ext,n=alice,r=abc", ReasonMalformed},
		{"token auth extension", "n,,n=alice,r=abc,tokenauth=true", ReasonMalformed},
		{"unknown extension", "n,,n=alice,r=abc,x=1", ReasonMalformed},
		{"bad escape", "n,,n=al=ice,r=abc", ReasonMalformed},
		{"attributes swapped", "n,,r=abc,n=alice", ReasonMalformed},
		{"empty user", "n,,n=,r=abc", ReasonMalformed},
		{"empty nonce", "n,,n=alice,r=", ReasonMalformed},
		{"nonce with a control character", "n,,n=alice,r=a\x01c", ReasonMalformed},
		{"no gs2 header", "n=alice,r=abc", ReasonMalformed},
		{"only a flag", "n", ReasonMalformed},
		{"empty", "", ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := a.Start(MechanismSCRAMSHA256)
			if err != nil {
				t.Fatal(err)
			}
			out, done, err := s.Step(ctx, []byte(tc.msg))
			if got := Reason(err); got != tc.wantReason {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.wantReason, err)
			}
			if done {
				t.Fatal("done after client-first")
			}
			if err == nil {
				nonce := strings.SplitN(string(out), ",", 2)[0]
				if !strings.HasPrefix(nonce, "r=abc") || len(nonce) <= len("r=abc") {
					t.Fatalf("server-first %q does not extend the client nonce", out)
				}
				return
			}
			if _, _, err := s.Step(ctx, []byte("c=biws,r=abc,p=AAAA")); !errors.Is(err, ErrIllegalState) {
				t.Fatalf("step after a failure: %v, want ErrIllegalState", err)
			}
		})
	}
}

// TestSCRAMUnknownUserLooksReal checks that an unknown user's exchange is
// indistinguishable from a known user's up to the failure: same shape, same
// iteration count, a salt stable across attempts, and the same client message.
func TestSCRAMUnknownUserLooksReal(t *testing.T) {
	ctx := context.Background()
	secret := []byte("0123456789abcdef0123456789abcdef")
	a, err := NewAuthenticator(testVerifiers(t)["static"], WithFakeSecret(secret))
	if err != nil {
		t.Fatal(err)
	}
	salt := func(serverFirst string) string {
		for _, attr := range strings.Split(serverFirst, ",") {
			if strings.HasPrefix(attr, "s=") {
				return attr[2:]
			}
		}
		t.Fatalf("no salt in %q", serverFirst)
		return ""
	}
	iter := func(serverFirst string) string { return serverFirst[strings.LastIndex(serverFirst, ",i=")+3:] }

	for _, mech := range []string{MechanismSCRAMSHA256, MechanismSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			realS, realFirst, realFinal := scramFirstRound(t, a, mech, "alice", "wrong")
			fakeS, fakeFirst, fakeFinal := scramFirstRound(t, a, mech, "mallory", "wrong")
			_, fakeFirst2, _ := scramFirstRound(t, a, mech, "mallory", "other")
			_, otherFirst, _ := scramFirstRound(t, a, mech, "trudy", "wrong")

			if iter(fakeFirst) != iter(realFirst) {
				t.Fatalf("iterations differ: fake %q real %q", fakeFirst, realFirst)
			}
			if len(salt(fakeFirst)) != len(salt(realFirst)) {
				t.Fatalf("salt lengths differ: fake %q real %q", fakeFirst, realFirst)
			}
			if salt(fakeFirst) != salt(fakeFirst2) {
				t.Fatal("unknown user's salt changes between attempts")
			}
			if salt(fakeFirst) == salt(otherFirst) {
				t.Fatal("two unknown users share a salt")
			}
			_, _, realErr := realS.Step(ctx, []byte(realFinal))
			_, _, fakeErr := fakeS.Step(ctx, []byte(fakeFinal))
			if Reason(realErr) != ReasonBadCredentials || Reason(fakeErr) != ReasonUnknownUser {
				t.Fatalf("reasons: real %q fake %q", Reason(realErr), Reason(fakeErr))
			}
			if ClientMessage(realErr) != ClientMessage(fakeErr) || KafkaError(realErr) != KafkaError(fakeErr) {
				t.Fatalf("client sees a difference: %q/%v vs %q/%v", ClientMessage(realErr), KafkaError(realErr), ClientMessage(fakeErr), KafkaError(fakeErr))
			}
		})
	}

	// The same secret gives the same fake salt on another replica.
	b, err := NewAuthenticator(testVerifiers(t)["static"], WithFakeSecret(secret))
	if err != nil {
		t.Fatal(err)
	}
	_, first1, _ := scramFirstRound(t, a, MechanismSCRAMSHA256, "mallory", "x")
	_, first2, _ := scramFirstRound(t, b, MechanismSCRAMSHA256, "mallory", "x")
	if salt(first1) != salt(first2) {
		t.Fatal("replicas with one secret disagree on the fake salt")
	}
}

// TestSCRAMServerSignatureChecked makes sure the server-final message is the one
// the franz-go client verifies, by corrupting it on the way.
func TestSCRAMServerSignatureChecked(t *testing.T) {
	ctx := context.Background()
	a, err := NewAuthenticator(testVerifiers(t)["static"])
	if err != nil {
		t.Fatal(err)
	}
	m := scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism()
	cs, first, err := m.Authenticate(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := a.Start(MechanismSCRAMSHA256)
	serverFirst, _, err := s.Step(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	_, final, err := cs.Challenge(serverFirst)
	if err != nil {
		t.Fatal(err)
	}
	serverFinal, done, err := s.Step(ctx, final)
	if err != nil || !done {
		t.Fatalf("done=%v err=%v", done, err)
	}
	serverFinal[len(serverFinal)-3] ^= 1
	if _, _, err := cs.Challenge(serverFinal); err == nil {
		t.Fatal("client accepted a corrupted server signature")
	}
}

func TestNewSCRAMCredential(t *testing.T) {
	cases := []struct {
		name       string
		mech, pass string
		iter       int
		wantErr    error
	}{
		{"sha-256", MechanismSCRAMSHA256, "pw", 4096, nil},
		{"sha-512", MechanismSCRAMSHA512, "pw", 8192, nil},
		{"too few iterations", MechanismSCRAMSHA256, "pw", 4095, ErrBadEntry},
		{"too many iterations", MechanismSCRAMSHA256, "pw", MaxSCRAMIterations + 1, ErrBadEntry},
		{"empty password", MechanismSCRAMSHA256, "", 4096, ErrBadEntry},
		{"not SCRAM", MechanismPlain, "pw", 4096, ErrUnsupportedMechanism},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewSCRAMCredential(tc.mech, tc.pass, tc.iter)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if c.Iterations != tc.iter || len(c.Salt) != scramSaltLen || c.validate(tc.mech) != nil {
				t.Fatalf("bad credential %+v", c)
			}
			if !checkSCRAMPassword(tc.mech, tc.pass, c) || checkSCRAMPassword(tc.mech, tc.pass+"x", c) {
				t.Fatal("password check disagrees with the credential")
			}
			c2, _ := NewSCRAMCredential(tc.mech, tc.pass, tc.iter)
			if bytes.Equal(c.Salt, c2.Salt) {
				t.Fatal("two credentials share a salt")
			}
		})
	}
}

// TestSCRAMRefusedUserFailsAtProof checks that a user the verifier refuses outright
// (a locked account) fails at the same step as a wrong password, not earlier.
func TestSCRAMRefusedUserFailsAtProof(t *testing.T) {
	a, err := NewAuthenticator(stubVerifier{err: fmt.Errorf("account locked: %w", ErrAuthFailed)})
	if err != nil {
		t.Fatal(err)
	}
	s, serverFirst, final := scramFirstRound(t, a, MechanismSCRAMSHA512, "alice", "pw")
	if !strings.Contains(serverFirst, ",i=4096") {
		t.Fatalf("server-first %q", serverFirst)
	}
	_, _, err = s.Step(context.Background(), []byte(final))
	if Reason(err) != ReasonBadCredentials || !strings.Contains(err.Error(), "account locked") {
		t.Fatalf("client-final: %v", err)
	}
}
