package auth

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// kindError is a sentinel that may belong to a broader sentinel, so that
// errors.Is(ErrUnknownUser, ErrAuthFailed) holds: the proxy answers every credential
// failure the same way while logs and metrics still tell them apart.
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.parent }

var (
	// ErrAuthFailed means the credentials were wrong: a bad password, a bad SCRAM proof,
	// or (through ErrUnknownUser) a user that does not exist. Kafka code
	// SASL_AUTHENTICATION_FAILED. Verifiers return it for a wrong password.
	ErrAuthFailed = errors.New("authentication failed")

	// ErrUnknownUser means the user does not exist. It matches ErrAuthFailed too, and
	// its text must never reach the client (see ClientMessage). Verifiers return it
	// (possibly wrapped) for a user they do not know.
	ErrUnknownUser error = &kindError{"unknown user", ErrAuthFailed}

	// ErrNoCredential means the user exists but has no credential for the mechanism
	// asked for (a bcrypt-only user trying SCRAM). It matches ErrUnknownUser and
	// ErrAuthFailed, so the exchange looks exactly like an unknown user to the client.
	ErrNoCredential error = &kindError{"no credential for this mechanism", ErrUnknownUser}

	// ErrMalformed means a client message broke the SASL or SCRAM grammar, or used a
	// feature this server refuses (channel binding, extensions, a foreign authzid).
	// Kafka code SASL_AUTHENTICATION_FAILED, as Kafka itself answers.
	ErrMalformed = errors.New("malformed SASL message")

	// ErrUnsupportedMechanism means the client asked for a mechanism that is not
	// enabled. Kafka code UNSUPPORTED_SASL_MECHANISM.
	ErrUnsupportedMechanism = errors.New("unsupported SASL mechanism")

	// ErrIllegalState means a message arrived after the exchange had finished or
	// failed. Kafka code ILLEGAL_SASL_STATE.
	ErrIllegalState = errors.New("illegal SASL state")

	// ErrRateLimited means the client address failed too often recently and may not
	// try again yet. Kafka code SASL_AUTHENTICATION_FAILED.
	ErrRateLimited = errors.New("too many failed authentication attempts")

	// ErrUnavailable means the verifier could not answer (plugin crashed, backend
	// down). Nothing about the user is known. Kafka code SASL_AUTHENTICATION_FAILED.
	ErrUnavailable = errors.New("credential verifier unavailable")

	// ErrNotPlugin is returned by ServePlugin when the process was not launched by a
	// plugin host (the handshake cookie is missing).
	ErrNotPlugin = errors.New("not launched as an airlock auth plugin")

	// ErrBadEntry is matched by every users file and static users parse error.
	ErrBadEntry = errors.New("bad users entry")
)

// Reason labels used by Reason, stable for metrics and alerts.
const (
	ReasonOK             = "ok"
	ReasonBadCredentials = "bad_credentials"
	ReasonUnknownUser    = "unknown_user"
	ReasonNoCredential   = "no_credential"
	ReasonMalformed      = "malformed"
	ReasonMechanism      = "mechanism"
	ReasonIllegalState   = "illegal_state"
	ReasonRateLimited    = "rate_limited"
	ReasonUnavailable    = "unavailable"
	ReasonCanceled       = "canceled"
	ReasonError          = "error"
)

// Reason returns a short, bounded label for err, for a metric label or a log field:
// one of the Reason* constants. A nil error is ReasonOK. The most specific kind wins,
// so an unknown user is "unknown_user", not "bad_credentials".
func Reason(err error) string {
	switch {
	case err == nil:
		return ReasonOK
	case errors.Is(err, ErrNoCredential):
		return ReasonNoCredential
	case errors.Is(err, ErrUnknownUser):
		return ReasonUnknownUser
	case errors.Is(err, ErrAuthFailed):
		return ReasonBadCredentials
	case errors.Is(err, ErrMalformed):
		return ReasonMalformed
	case errors.Is(err, ErrUnsupportedMechanism):
		return ReasonMechanism
	case errors.Is(err, ErrIllegalState):
		return ReasonIllegalState
	case errors.Is(err, ErrRateLimited):
		return ReasonRateLimited
	case errors.Is(err, ErrUnavailable):
		return ReasonUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ReasonCanceled
	default:
		return ReasonError
	}
}

// KafkaError returns the Kafka error the proxy should answer err with, or nil for a
// nil err. Anything that is not a mechanism or state problem is an authentication
// failure: Kafka has no retriable SASL error, and clients treat this one as fatal.
func KafkaError(err error) *kerr.Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnsupportedMechanism):
		return kerr.UnsupportedSaslMechanism
	case errors.Is(err, ErrIllegalState):
		return kerr.IllegalSaslState
	default:
		return kerr.SaslAuthenticationFailed
	}
}

// ClientMessage returns the error message to put in the SaslAuthenticate response.
// Never send err.Error() to a client: it says whether the user exists. Every
// credential failure gets the same text here.
func ClientMessage(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrAuthFailed):
		return "Authentication failed: invalid username or password"
	case errors.Is(err, ErrMalformed):
		return "Authentication failed: malformed SASL message"
	case errors.Is(err, ErrUnsupportedMechanism):
		return "Unsupported SASL mechanism"
	case errors.Is(err, ErrIllegalState):
		return "Unexpected SASL message: the authentication exchange is over"
	case errors.Is(err, ErrRateLimited):
		return "Authentication failed: too many failed attempts, try again later"
	default:
		return "Authentication failed: the credential service is unavailable"
	}
}
