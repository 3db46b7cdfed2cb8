package benchutil

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Opt configures Run.
type Opt interface{ apply(*cfg) }

type opt struct{ fn func(*cfg) }

func (o opt) apply(c *cfg) { o.fn(c) }

type cfg struct {
	log         *slog.Logger
	procOut     io.Writer
	rounds      int
	mb          int
	latencyReqs int
	idleConns   int
	partitions  int
	pathTimeout time.Duration

	proxyBin  string
	proxyArgs []string
	fwdBin    string
	fwdArgs   []string

	candidates []candidate
}

// candidate is another airlock-proxy build measured as a row of its own.
type candidate struct {
	name string
	bin  string
	args []string
}

// paths returns every path of a run in table order.
func (c *cfg) paths() []string {
	ps := append([]string(nil), Paths...)
	for _, cd := range c.candidates {
		ps = append(ps, cd.name)
	}
	return ps
}

// proxyCommand returns the binary and extra arguments of a proxy path.
func (c *cfg) proxyCommand(path string) (string, []string, bool) {
	if path == PathProxy {
		return c.proxyBin, c.proxyArgs, true
	}
	for _, cd := range c.candidates {
		if cd.name == path {
			return cd.bin, cd.args, true
		}
	}
	return "", nil, false
}

func defaultCfg() cfg {
	return cfg{
		log:         slog.New(slog.DiscardHandler),
		procOut:     io.Discard,
		rounds:      5,
		mb:          1024,
		latencyReqs: 2000,
		idleConns:   1000,
		partitions:  4,
		pathTimeout: 3 * time.Minute,
		proxyBin:    "bin/airlock-proxy",
	}
}

func (c *cfg) validate() error {
	switch {
	case c.rounds < 1 || c.rounds > 100:
		return fmt.Errorf("%w: rounds %d, want 1..100", ErrBadOption, c.rounds)
	case c.mb < 1 || c.mb > 64<<10:
		return fmt.Errorf("%w: %d MB per phase, want 1..65536", ErrBadOption, c.mb)
	case c.latencyReqs < 1 || c.latencyReqs > 1e6:
		return fmt.Errorf("%w: %d latency requests, want 1..1000000", ErrBadOption, c.latencyReqs)
	case c.idleConns < 1 || c.idleConns > 20000:
		return fmt.Errorf("%w: %d idle connections, want 1..20000", ErrBadOption, c.idleConns)
	case c.partitions < 1 || c.partitions > 1000:
		return fmt.Errorf("%w: %d partitions, want 1..1000", ErrBadOption, c.partitions)
	case c.pathTimeout <= 0:
		return fmt.Errorf("%w: path timeout %s", ErrBadOption, c.pathTimeout)
	case c.proxyBin == "":
		return fmt.Errorf("%w: no airlock-proxy binary", ErrBadOption)
	case c.fwdBin == "":
		return fmt.Errorf("%w: no forwarder command (ForwarderCommand)", ErrBadOption)
	}
	seen := map[string]bool{}
	for _, p := range Paths {
		seen[p] = true
	}
	for _, cd := range c.candidates {
		if cd.name == "" || cd.bin == "" || seen[cd.name] {
			return fmt.Errorf("%w: candidate %q (%s): names must be unique and not empty, the binary given", ErrBadOption, cd.name, cd.bin)
		}
		seen[cd.name] = true
	}
	return nil
}

// WithLogger sets where progress is logged; the default discards.
func WithLogger(l *slog.Logger) Opt { return opt{func(c *cfg) { c.log = l }} }

// ProcessOutput sends the stdout and stderr of processes under test to w; the
// default discards them.
func ProcessOutput(w io.Writer) Opt { return opt{func(c *cfg) { c.procOut = w }} }

// Rounds sets how many times every path is measured (default 5). Each round runs
// the paths in a different order, so drift in machine load does not always hit
// the same path.
func Rounds(n int) Opt { return opt{func(c *cfg) { c.rounds = n }} }

// MB sets the megabytes (10^6 bytes) of record payload produced, and consumed,
// per path and round (default 1024).
func MB(n int) Opt { return opt{func(c *cfg) { c.mb = n }} }

// LatencyRequests sets how many sequential produce round trips are timed per path
// and round (default 2000).
func LatencyRequests(n int) Opt { return opt{func(c *cfg) { c.latencyReqs = n }} }

// IdleConns sets how many idle connections are opened to measure the memory and
// goroutines each costs (default 1000).
func IdleConns(n int) Opt { return opt{func(c *cfg) { c.idleConns = n }} }

// Partitions sets the partitions of the benchmark topic (default 4).
func Partitions(n int) Opt { return opt{func(c *cfg) { c.partitions = n }} }

// PathTimeout bounds one path in one round, all phases included (default 3m).
func PathTimeout(d time.Duration) Opt { return opt{func(c *cfg) { c.pathTimeout = d }} }

// ProxyCommand sets the airlock-proxy binary (default bin/airlock-proxy) and extra
// arguments. Run adds --bootstrap-server-mapping, --http-listen-address and
// --log-level warn after args.
func ProxyCommand(path string, args ...string) Opt {
	return opt{func(c *cfg) { c.proxyBin, c.proxyArgs = path, args }}
}

// ForwarderCommand sets the command that runs ServeForwarder in its own process
// (the benchmark binary re-executing itself). Run appends
// "--listen ADDR --target ADDR --http-listen-address ADDR".
func ForwarderCommand(path string, args ...string) Opt {
	return opt{func(c *cfg) { c.fwdBin, c.fwdArgs = path, args }}
}

// Candidate measures another airlock-proxy build (path, with extra args) as a row
// named name, in the same rounds as the others: a fix compared with the current
// build under the same machine load.
func Candidate(name, path string, args ...string) Opt {
	return opt{func(c *cfg) { c.candidates = append(c.candidates, candidate{name: name, bin: path, args: args}) }}
}
