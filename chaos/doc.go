// Package chaos runs fault scenarios against Airlock's docker topology: a
// workload (producer, bridge, consumer) runs while a schedule of faults is
// applied and healed, then invariants are checked and a report is written.
//
// The pieces, bottom up:
//
//   - Fault primitives (Fault): toxiproxy toxics and proxy down (Toxics, the
//     toxiproxy Go client), docker faults (Containers: stop, kill, pause,
//     network partition) and broker faults (BrokerAdmin: leader moves, node
//     removal). Each knows how to undo itself.
//   - Fault specs (FaultSpec): the same faults named by role ("the target
//     proxy", "every source node") rather than by container, so a scenario is
//     data that fits any topology; Build resolves them against a Topology.
//   - Schedules: timed windows (Window), a Runner that applies and heals them
//     on time and always heals everything on the way out (cancel or panic
//     included), recording a Timeline. Nemesis draws windows from a seed:
//     same seed, same schedule.
//   - Scenarios (Catalogue): schedule, workload size and invariants, in a
//     short form (for `make test`) and a long one (for `make chaos`).
//   - A Sampler polling Prometheus endpoints (bridge and proxy /metrics) for
//     the throughput and lag series; Evaluate turns the checker's verdict,
//     the addresses the bridge used and the lag series into invariant results.
//   - Report: a text table, JSON and an SVG timeline with the fault windows
//     shaded.
//
// Run ties them together over an Environment, which the docker testbed
// implements; this package never talks to docker itself, so everything here
// is tested with fakes and an in-process toxiproxy.
package chaos
