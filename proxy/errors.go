package proxy

import (
	"errors"
	"fmt"
)

// Sentinel errors. Connection-level errors wrap one of these so metrics can count
// them by reason.
var (
	// ErrUnmapped means a response named a broker the proxy has no address for.
	ErrUnmapped = errors.New("broker address not mapped")
	// ErrFrameTooLarge means a request exceeded --max-request-size.
	ErrFrameTooLarge = errors.New("frame exceeds max request size")
	// ErrUnknownAPIKey means a request used an API key neither kmsg nor the broker knows.
	ErrUnknownAPIKey = errors.New("unknown API key")
	// ErrUnsupportedVersion means a request used a version above what the proxy can decode.
	ErrUnsupportedVersion = errors.New("API version above what the proxy can decode")
	// ErrUnexpectedResponse means a response arrived that matches no in-flight request.
	ErrUnexpectedResponse = errors.New("response matches no in-flight request")
	// ErrForbiddenAPIKey means a request used an API key blocked by --forbidden-api-keys.
	ErrForbiddenAPIKey = errors.New("forbidden API key")
	// ErrBadMapping means a mapping flag could not be parsed.
	ErrBadMapping = errors.New("bad mapping")
	// ErrUpstreamUnreachable means the proxy could not connect to the broker.
	ErrUpstreamUnreachable = errors.New("upstream unreachable")

	errMalformed = errors.New("malformed frame")
)

// UnmappedError names the broker that could not be mapped and the flag that would
// map it, so the log line tells the operator what to do.
type UnmappedError struct {
	NodeID int32
	Addr   string
	Hint   string
}

func (e *UnmappedError) Error() string {
	return fmt.Sprintf("broker %d at %s is not mapped to a proxy address (%s)", e.NodeID, e.Addr, e.Hint)
}

// Unwrap makes errors.Is(err, ErrUnmapped) true.
func (e *UnmappedError) Unwrap() error { return ErrUnmapped }

// errReason maps an error to a short metric label.
func errReason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrUnmapped):
		return "unmapped_broker"
	case errors.Is(err, ErrFrameTooLarge):
		return "frame_too_large"
	case errors.Is(err, ErrUnknownAPIKey):
		return "unknown_api_key"
	case errors.Is(err, ErrUnsupportedVersion):
		return "unsupported_version"
	case errors.Is(err, ErrUnexpectedResponse):
		return "unexpected_response"
	case errors.Is(err, ErrForbiddenAPIKey):
		return "forbidden_api_key"
	case errors.Is(err, errMalformed):
		return "malformed"
	case errors.Is(err, ErrUpstreamUnreachable):
		return "upstream_unreachable"
	default:
		return "io"
	}
}
