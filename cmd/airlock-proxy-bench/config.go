package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/logging"
	"github.com/airlock-kafka/airlock/internal/version"
)

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1
	exitUsage  = 2
	exitMissed = 3 // --check and a target was missed
)

const (
	envPrefix = "AIRLOCK_PROXY_BENCH_"
	// forwarderCmd is the subcommand the benchmark runs itself as to be the
	// splice forwarder.
	forwarderCmd       = "forwarder"
	forwarderEnvPrefix = "AIRLOCK_PROXY_BENCH_FORWARDER_"
)

type config struct {
	log        logging.Options
	configFile string

	// forwarder is set in forwarder mode; the other fields are then unused.
	forwarder *forwarderConfig

	rounds      int
	mb          int
	latencyReqs int
	idleConns   int
	partitions  int
	proxyBin    string
	proxyArgs   flagenv.StringList
	candidates  []candidate
	candFlags   flagenv.StringList
	pathTimeout time.Duration
	timeout     time.Duration
	json        bool
	check       bool
}

// candidate is another proxy build measured alongside airlock-proxy.
type candidate struct{ name, bin string }

type forwarderConfig struct {
	listen   string
	target   string
	httpAddr string
}

const usageHeader = `airlock-proxy-bench: what airlock-proxy costs, measured on this machine.

Runs a fake Kafka broker (kfake) and franz-go clients in this process and
compares three paths to the broker: direct, through a plain splice forwarder
(started as "airlock-proxy-bench forwarder", the physical limit of a proxy hop)
and through airlock-proxy (--proxy-bin, built by make build). Each round runs
the paths in a rotating order; every process under test is fresh per path and
round. Per path and round: idle connections (RSS and goroutines each), then
--mb MB produced and consumed (1 KiB records, no compression; CPU-s per GB the
process moved, from /proc), then --latency-requests sequential produce round
trips. Prints one table of median [min..max] over the rounds.

Example:
  make build && go run ./cmd/airlock-proxy-bench --rounds 5 --mb 1024

Every flag can also be set by the environment variable shown, or in a --config
file (one "name = value" per line). Flags win over env, env over the file.

Flags:
`

// parseArgs returns nil, nil when --help or --version was handled.
func parseArgs(args []string, getenv func(string) string) (*config, error) {
	if len(args) > 0 && args[0] == forwarderCmd {
		return parseForwarder(args[1:], getenv)
	}
	c := &config{}
	fs := flag.NewFlagSet("airlock-proxy-bench", flag.ContinueOnError)
	fs.Usage = func() {
		_, _ = fmt.Fprint(fs.Output(), usageHeader)
		fs.PrintDefaults()
	}
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.StringVar(&c.configFile, flagenv.ConfigFlag, "", "config file of name = value lines")
	c.log.Register(fs)
	fs.IntVar(&c.rounds, "rounds", 5, "rounds; every path is measured once per round")
	fs.IntVar(&c.mb, "mb", 1024, "MB (10^6 bytes) of record payload produced, and consumed, per path and round")
	fs.IntVar(&c.latencyReqs, "latency-requests", 2000, "sequential produce round trips timed per path and round")
	fs.IntVar(&c.idleConns, "idle-conns", 1000, "idle connections opened to measure RSS and goroutines per connection")
	fs.IntVar(&c.partitions, "partitions", 4, "partitions of the benchmark topic")
	fs.StringVar(&c.proxyBin, "proxy-bin", "bin/airlock-proxy", "airlock-proxy binary to measure")
	fs.Var(&c.proxyArgs, "proxy-arg", "extra argument for airlock-proxy, e.g. --proxy-arg=--socket-read-buffer=262144 (repeatable)")
	fs.Var(&c.candFlags, "candidate", `"NAME=PATH": also measure another airlock-proxy build as row NAME, in the same rounds (repeatable)`)
	fs.DurationVar(&c.pathTimeout, "path-timeout", 3*time.Minute, "bound on one path in one round, all phases")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON (every round's raw numbers too) instead of the table")
	fs.BoolVar(&c.check, "check", false, "exit 3 when airlock-proxy misses a target")
	if err := flagenv.Parse(fs, envPrefix, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if *showVersion {
		_, _ = fmt.Fprintln(os.Stdout, "airlock-proxy-bench", version.Version)
		return nil, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only; see --help)", fs.Args())
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, got %s", c.timeout)
	}
	for _, f := range c.candFlags {
		name, bin, ok := strings.Cut(f, "=")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(bin) == "" {
			return nil, fmt.Errorf("--candidate %q: want NAME=PATH", f)
		}
		c.candidates = append(c.candidates, candidate{name: strings.TrimSpace(name), bin: strings.TrimSpace(bin)})
	}
	// The remaining ranges are checked by benchutil, which owns them.
	return c, nil
}

func parseForwarder(args []string, getenv func(string) string) (*config, error) {
	f := &forwarderConfig{}
	c := &config{forwarder: f}
	fs := flag.NewFlagSet("airlock-proxy-bench forwarder", flag.ContinueOnError)
	c.log.Register(fs)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "address to accept clients on")
	fs.StringVar(&f.target, "target", "", "address every connection is forwarded to")
	fs.StringVar(&f.httpAddr, "http-listen-address", "127.0.0.1:0", "address of /metrics (Go runtime metrics)")
	if err := flagenv.Parse(fs, forwarderEnvPrefix, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if f.target == "" {
		return nil, errors.New("forwarder: --target is required")
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("forwarder: unexpected arguments %q", fs.Args())
	}
	return c, nil
}
