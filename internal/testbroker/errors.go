package testbroker

import "errors"

// Sentinel errors. Callers (the admin API, the command) map them to HTTP status codes
// and exit codes with errors.Is.
var (
	// ErrUnknownVersion is returned for a Kafka version the broker cannot emulate.
	ErrUnknownVersion = errors.New("unknown Kafka version")
	// ErrBadSeedTopic is returned for a malformed name:partitions seed topic.
	ErrBadSeedTopic = errors.New("bad seed topic")
	// ErrBadSASLUser is returned for a malformed user:pass:MECHANISM SASL user.
	ErrBadSASLUser = errors.New("bad SASL user")
	// ErrBadConfig is returned for an inconsistent set of options.
	ErrBadConfig = errors.New("bad configuration")
	// ErrBadArgument is returned for an admin call argument out of range.
	ErrBadArgument = errors.New("bad argument")
	// ErrUnknownNode is returned when an admin call names a node that does not exist.
	ErrUnknownNode = errors.New("unknown node")
	// ErrUnknownPartition is returned when an admin call names a topic partition that
	// does not exist.
	ErrUnknownPartition = errors.New("unknown topic partition")
	// ErrConflict is returned when an admin call cannot be applied to the current
	// state (adding a node that exists, removing the last node).
	ErrConflict = errors.New("conflict")
	// ErrClosed is returned by admin calls after Close: kfake's own admin calls
	// would block forever on a closed cluster.
	ErrClosed = errors.New("broker closed")
)
