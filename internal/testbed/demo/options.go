package demo

import (
	"io"
	"log/slog"
	"time"
)

// config is what Run does; see the options for the defaults.
type config struct {
	events     int64
	rate       float64
	version    string
	keep       bool
	latency    time.Duration
	faultAfter time.Duration
	faultFor   time.Duration
	out        io.Writer
	log        *slog.Logger
}

func defaults() config {
	return config{
		events:     3000,
		rate:       50,
		latency:    200 * time.Millisecond,
		faultAfter: 10 * time.Second,
		faultFor:   15 * time.Second,
		out:        io.Discard,
		log:        slog.New(slog.DiscardHandler),
	}
}

// Opt configures Run.
type Opt func(*config)

// Events sets how many events the producer writes (default 3000); with Rate it
// sets how long the stream runs (default about a minute).
func Events(n int64) Opt { return func(c *config) { c.events = n } }

// Rate sets the producer's events per second (default 50).
func Rate(r float64) Opt { return func(c *config) { c.rate = r } }

// KafkaVersion sets the release both test brokers emulate (default newest).
func KafkaVersion(v string) Opt { return func(c *config) { c.version = v } }

// Keep leaves the topology running after the verification, for a look at the
// proxies' and the bridge's metrics; Run prints how to tear it down.
func Keep(keep bool) Opt { return func(c *config) { c.keep = keep } }

// Latency is the latency toxic on the source side (default 200ms), added
// after FaultAfter (default 10s) for FaultFor (default 15s); the bridge is
// killed with SIGKILL and restarted once the toxic is gone.
func Latency(d time.Duration) Opt { return func(c *config) { c.latency = d } }

// FaultAfter sets when, after the producer started, the faults begin.
func FaultAfter(d time.Duration) Opt { return func(c *config) { c.faultAfter = d } }

// FaultFor sets how long the latency toxic stays.
func FaultFor(d time.Duration) Opt { return func(c *config) { c.faultFor = d } }

// Output receives the demo's report for people (default discard).
func Output(w io.Writer) Opt { return func(c *config) { c.out = w } }

// Logger receives progress and the testbed's logging (default discard).
func Logger(l *slog.Logger) Opt { return func(c *config) { c.log = l } }
