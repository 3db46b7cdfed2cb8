package chaos

import (
	"context"
	"fmt"
)

// Environment is a running topology built for a scenario's Needs: the docker
// testbed implements it (internal/testbed), tests fake it. Besides the fault
// targets it runs the workload.
type Environment interface {
	Targets
	// StartWorkload starts the producer, the bridge instances (Needs.Bridges,
	// sharing tasks through a group, with the Needs' timeouts) and whatever
	// records what the bridge dials, and returns once they run. The
	// producer spreads w.Events over the fault phase at w.Rate.
	StartWorkload(ctx context.Context, w WorkloadSpec) (Workload, error)
	// Close tears the environment down; it must work after a failed run.
	Close(ctx context.Context) error
}

// Progress is the workload's counts so far.
type Progress struct {
	// Produced is events sent, Acked those the source acknowledged
	// (committed, for a transactional producer).
	Produced, Acked int64
}

// Workload is a running producer + bridge (+ consumer at the end).
type Workload interface {
	// Progress returns the counts so far; it is called every sample, so it
	// must be cheap and safe for concurrent use.
	Progress() Progress
	// WaitProduced returns once the producer has sent every event and knows
	// the fate of each (acked, aborted or uncertain), or ctx ends.
	WaitProduced(ctx context.Context) error
	// Check reads the target topic to its end (read_committed) and runs the
	// checker against the producer's ledger (consumer.Check); the result is
	// converted with chaos/consumercheck.
	Check(ctx context.Context) (*CheckResult, error)
	// BridgeAddresses returns every broker address (host:port) the bridge
	// instances dialled during the run, from their logs or a recording
	// dialer; repeats are fine.
	BridgeAddresses(ctx context.Context) ([]string, error)
	// Stop stops the producer and the bridges; Run calls it once at the end.
	Stop(ctx context.Context) error
}

// LagProber is a Workload that measures the bridge's lag from outside: the
// source's end offsets minus the offsets the bridge committed on the target.
// Run then takes the lag series from it rather than from the bridges'
// metrics, which cover only the tasks running somewhere and only what a
// source fetch has seen: a blackholed source, a killed instance or a
// rebalance would read as no lag at all.
type LagProber interface {
	Lag(ctx context.Context) (float64, error)
}

// EnvironmentFactory builds an environment for a scenario's needs.
type EnvironmentFactory func(ctx context.Context, needs Needs) (Environment, error)

// NoEnvironment is the factory of a build without a docker testbed: every
// call fails with ErrNoEnvironment and reason.
func NoEnvironment(reason string) EnvironmentFactory {
	return func(context.Context, Needs) (Environment, error) {
		return nil, fmt.Errorf("%w: %s", ErrNoEnvironment, reason)
	}
}
