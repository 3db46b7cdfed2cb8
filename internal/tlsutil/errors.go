package tlsutil

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// Sentinel errors. A rejected client certificate comes as a *ClientCertError that
// matches one of the ErrClientCert* sentinels (or ErrSubjectNotAllowed) with
// errors.Is; Reason turns any handshake error into a short metric label.
var (
	ErrClientCertMissing     = errors.New("client certificate required but none presented")
	ErrClientCertExpired     = errors.New("client certificate expired")
	ErrClientCertNotYetValid = errors.New("client certificate not valid yet")
	ErrClientCertUntrusted   = errors.New("client certificate not signed by a trusted CA")
	ErrClientCertUsage       = errors.New("client certificate not valid for client authentication")
	ErrClientCertInvalid     = errors.New("client certificate invalid")
	ErrSubjectNotAllowed     = errors.New("client certificate subject not allowed")

	// ErrInvalidConfig is returned for a setting that cannot work: an unknown TLS
	// version, cipher suite or client-auth mode, a bad subject pattern, or a
	// combination such as client auth without a client CA file.
	ErrInvalidConfig = errors.New("invalid TLS configuration")
)

// Reasons returned by Reason: a small, fixed set, safe as a metric label.
const (
	ReasonMissing          = "missing"           // no client certificate where one is required
	ReasonExpired          = "expired"           // a certificate in the chain has expired
	ReasonNotYetValid      = "not_yet_valid"     // a certificate is not valid yet (clock skew?)
	ReasonUnknownAuthority = "unknown_authority" // not signed by a trusted CA
	ReasonUsage            = "usage"             // wrong extended key usage (a client cert used as server or vice versa)
	ReasonSubject          = "subject"           // trusted, but the subject is not in RequiredSubjects
	ReasonHostname         = "hostname"          // server certificate not valid for the dialed name
	ReasonInvalid          = "invalid"           // any other certificate problem
	ReasonTimeout          = "timeout"           // the peer was too slow
	ReasonHandshake        = "handshake"         // protocol error, closed connection, alert from the peer
)

// ClientCertError is the handshake error of a rejected client certificate.
type ClientCertError struct {
	// Reason is one of the Reason* constants.
	Reason string
	// Subject is the rejected certificate's subject, empty when none was presented.
	Subject string
	// Err is the underlying cause (an x509 verification error, or the patterns the
	// subject failed), nil if there is nothing more to say.
	Err error
}

// Error says what was rejected and why, for the server's log.
func (e *ClientCertError) Error() string {
	s := sentinelFor(e.Reason).Error()
	if e.Subject != "" {
		s = fmt.Sprintf("%s (subject %q)", s, e.Subject)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the sentinel for the reason and the cause.
func (e *ClientCertError) Unwrap() []error {
	if e.Err == nil {
		return []error{sentinelFor(e.Reason)}
	}
	return []error{sentinelFor(e.Reason), e.Err}
}

func sentinelFor(reason string) error {
	switch reason {
	case ReasonMissing:
		return ErrClientCertMissing
	case ReasonExpired:
		return ErrClientCertExpired
	case ReasonNotYetValid:
		return ErrClientCertNotYetValid
	case ReasonUnknownAuthority:
		return ErrClientCertUntrusted
	case ReasonUsage:
		return ErrClientCertUsage
	case ReasonSubject:
		return ErrSubjectNotAllowed
	default:
		return ErrClientCertInvalid
	}
}

// Reason classifies a handshake error for metrics: "" for nil, otherwise one of the
// Reason* constants. It understands this package's ClientCertError as well as the
// x509 errors inside crypto/tls's own verification failures (a client rejecting a
// server certificate), so both ends of a connection count failures the same way.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var cce *ClientCertError
	if errors.As(err, &cce) {
		return cce.Reason
	}
	if r := x509Reason(err); r != "" {
		return r
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return ReasonTimeout
	}
	return ReasonHandshake
}

// x509Reason maps an x509 verification error to a reason, "" if err is not one.
func x509Reason(err error) string {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			// x509 reports both ends of the validity period as Expired; only the
			// detail ("current time X is before Y") tells them apart.
			if strings.Contains(inv.Detail, " is before ") {
				return ReasonNotYetValid
			}
			return ReasonExpired
		case x509.IncompatibleUsage:
			return ReasonUsage
		default:
			return ReasonInvalid
		}
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return ReasonUnknownAuthority
	}
	var he x509.HostnameError
	if errors.As(err, &he) {
		return ReasonHostname
	}
	var ce x509.ConstraintViolationError
	var ue x509.UnhandledCriticalExtension
	var ie x509.InsecureAlgorithmError
	if errors.As(err, &ce) || errors.As(err, &ue) || errors.As(err, &ie) {
		return ReasonInvalid
	}
	return ""
}
