package main

import "github.com/airlock-kafka/airlock/chaos"

// environment returns the factory of the environments scenarios run in.
// Until internal/testbed implements chaos.Environment, there is none: `run`
// fails clearly, while `list` and `run --dry-run` work. Wiring the testbed in
// is a change to this function only.
func environment() chaos.EnvironmentFactory {
	return chaos.NoEnvironment("internal/testbed does not implement chaos.Environment yet; `list` and `run --dry-run` work without it")
}
