package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestErrorMapping(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("SCRAM-SHA-256 user %q: %w", "x", err) }
	cases := []struct {
		name       string
		err        error
		wantReason string
		wantKafka  *kerr.Error
	}{
		{"nil", nil, ReasonOK, nil},
		{"bad password", wrap(ErrAuthFailed), ReasonBadCredentials, kerr.SaslAuthenticationFailed},
		{"unknown user", wrap(ErrUnknownUser), ReasonUnknownUser, kerr.SaslAuthenticationFailed},
		{"no credential", wrap(ErrNoCredential), ReasonNoCredential, kerr.SaslAuthenticationFailed},
		{"malformed", wrap(ErrMalformed), ReasonMalformed, kerr.SaslAuthenticationFailed},
		{"mechanism", wrap(ErrUnsupportedMechanism), ReasonMechanism, kerr.UnsupportedSaslMechanism},
		{"illegal state", wrap(ErrIllegalState), ReasonIllegalState, kerr.IllegalSaslState},
		{"rate limited", wrap(ErrRateLimited), ReasonRateLimited, kerr.SaslAuthenticationFailed},
		{"unavailable", wrap(ErrUnavailable), ReasonUnavailable, kerr.SaslAuthenticationFailed},
		{"canceled", wrap(context.Canceled), ReasonCanceled, kerr.SaslAuthenticationFailed},
		{"anything else", errors.New("boom"), ReasonError, kerr.SaslAuthenticationFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Reason(tc.err); got != tc.wantReason {
				t.Errorf("Reason = %q, want %q", got, tc.wantReason)
			}
			if got := KafkaError(tc.err); got != tc.wantKafka {
				t.Errorf("KafkaError = %v, want %v", got, tc.wantKafka)
			}
			if msg := ClientMessage(tc.err); (msg == "") != (tc.err == nil) {
				t.Errorf("ClientMessage = %q", msg)
			}
		})
	}
}

func TestClientMessageHidesUserExistence(t *testing.T) {
	want := ClientMessage(ErrAuthFailed)
	for _, err := range []error{ErrUnknownUser, ErrNoCredential, fmt.Errorf("user %q: %w", "bob", ErrUnknownUser)} {
		if got := ClientMessage(err); got != want {
			t.Errorf("ClientMessage(%v) = %q, want %q", err, got, want)
		}
		if !errors.Is(err, ErrAuthFailed) {
			t.Errorf("%v does not match ErrAuthFailed", err)
		}
	}
}
