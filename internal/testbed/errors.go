package testbed

import "errors"

// Sentinel errors.
var (
	// ErrMissingImage is returned when an image the testbed needs is not present
	// locally; the testbed never pulls. `make images` builds them.
	ErrMissingImage = errors.New("image not present locally (run `make images`)")
	// ErrBadSpec is returned for an invalid Options, BrokerSpec or ContainerSpec.
	ErrBadSpec = errors.New("bad testbed spec")
	// ErrUnknownAddr is returned by a host dialer for an address no broker advertises.
	ErrUnknownAddr = errors.New("address not advertised by this broker")
	// ErrAdmin is returned when a broker's admin API answers with an error.
	ErrAdmin = errors.New("testbroker admin API")
	// ErrNoTopology is returned by the workload starters when the sides they
	// need were not started.
	ErrNoTopology = errors.New("topology side not started")
	// ErrNotFound is returned by Workload.CopyOut when the container has no
	// such file.
	ErrNotFound = errors.New("file not in container")
)
