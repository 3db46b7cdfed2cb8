package demo

import "errors"

// Sentinel errors.
var (
	// ErrNotExactlyOnce is returned by Run when the consumer's checker found
	// an anomaly (lost, duplicated, aborted read, ...): the demo failed.
	ErrNotExactlyOnce = errors.New("verification failed: not exactly once")
	// ErrWorkload is returned when the producer or consumer could not run.
	ErrWorkload = errors.New("workload failed")
)
