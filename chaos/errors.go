package chaos

import "errors"

// Sentinel errors. Wrapped errors carry the details; match with errors.Is.
var (
	// ErrNoEnvironment means no docker testbed is available to run a scenario
	// in; the CLI reports it as "docker testbed not available: ...".
	ErrNoEnvironment = errors.New("docker testbed not available")

	// ErrUnknownScenario is returned for a scenario name not in the catalogue.
	ErrUnknownScenario = errors.New("unknown scenario")

	// ErrBadSpec marks an invalid fault spec, window, scenario or option.
	ErrBadSpec = errors.New("invalid chaos spec")

	// ErrNoTarget means a fault spec names something the topology does not
	// have (a third bridge in a topology with one, a zone without a network).
	ErrNoTarget = errors.New("fault target not in the topology")

	// ErrUnsupported means the environment cannot perform a kind of fault (it
	// has no toxiproxy, no docker access or no broker admin API).
	ErrUnsupported = errors.New("fault not supported by this environment")

	// ErrFault wraps a failed Apply or Heal during a run.
	ErrFault = errors.New("fault failed")

	// ErrMetrics marks an unreadable metrics exposition or a failed scrape.
	ErrMetrics = errors.New("metrics")

	// ErrViolation is what Report.Err wraps when an invariant failed.
	ErrViolation = errors.New("invariant violated")
)
