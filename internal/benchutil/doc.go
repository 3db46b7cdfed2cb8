// Package benchutil measures what a Kafka proxy costs: it runs a fake broker
// (kfake) and franz-go clients in-process, puts each proxy under test in its own
// process so its CPU time and memory can be read from /proc, and compares three
// paths to the broker: direct, through a plain splice forwarder (the physical
// limit of one extra TCP hop) and through airlock-proxy.
//
// The broker blackholes produced records and serves fetches from one canned batch
// (kfake's benchmark modes), so broker storage neither competes for the two cores
// nor grows with the amount moved; what differs between paths is the hop.
//
// Run drives the whole benchmark and returns a Report; the pieces it is built from
// (the forwarder, /proc parsing, statistics, table rendering) are exported for the
// command and for tests.
package benchutil
