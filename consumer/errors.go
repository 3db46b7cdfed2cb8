package consumer

import "errors"

// Sentinel errors.
var (
	// ErrConfig wraps every configuration error Consume returns.
	ErrConfig = errors.New("consumer config")
	// ErrLookup wraps a provenance lookup that failed as a whole.
	ErrLookup = errors.New("provenance lookup")
)
