package event

import "errors"

// Sentinel errors of the event model.
var (
	// ErrInvalid: a record decodes with its schema but is not a plausible event.
	ErrInvalid = errors.New("invalid event")
	// ErrBadLedger: a ledger line that is not a valid entry.
	ErrBadLedger = errors.New("bad ledger entry")
)
