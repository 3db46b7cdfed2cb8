package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/airlock-kafka/airlock/chaos"
	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/logging"
	"github.com/airlock-kafka/airlock/internal/version"
)

const envPrefix = "AIRLOCK_CHAOS_"

// Commands.
const (
	cmdList = "list"
	cmdRun  = "run"
	// allScenarios runs the whole catalogue in turn.
	allScenarios = "all"
)

// config is everything the command line and environment set.
type config struct {
	command  string
	scenario string
	form     chaos.FormName
	seed     int64
	duration time.Duration
	events   int64
	report   string
	dryRun   bool
	sample   time.Duration
	progress time.Duration
	log      logging.Options
	config   string
	// bridgeArgs and kafkaVersion shape the environment.
	bridgeArgs   flagenv.StringList
	kafkaVersion string
}

func usage(w io.Writer) {
	_, _ = fmt.Fprintf(w, `airlock-chaos %s: fault scenarios against the docker testbed

usage:
  airlock-chaos list                        the built-in scenarios
  airlock-chaos run <scenario|all> [flags]  run scenarios, print and write their reports
  airlock-chaos run <scenario> --dry-run    print the fault schedule only

A run starts the topology the scenario needs, runs producer + bridge, applies
and heals the faults on schedule, waits for the bridge to catch up, checks the
target against the producer's ledger and judges the invariants: no loss, no
duplicates, no aborted reads, per-key order, only proxy addresses, recovery
within the bound. Exit status: 0 pass, 1 an invariant failed, 2 usage, 3 the
run could not happen (no docker testbed, for one).

'airlock-chaos run --help' lists the run flags.
`, version.Version)
}

// parseArgs parses the command line; flags may come before or after the
// scenario name.
func parseArgs(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	if len(args) == 0 {
		usage(out)
		return nil, errors.New("need a command: list or run")
	}
	c := &config{command: args[0]}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(out)
		return nil, flag.ErrHelp
	case "--version", "-version", "version":
		_, _ = fmt.Fprintln(out, "airlock-chaos", version.Version)
		return nil, flag.ErrHelp
	case cmdList:
		fs := flag.NewFlagSet("airlock-chaos list", flag.ContinueOnError)
		fs.SetOutput(out)
		c.log.Register(fs)
		if err := flagenv.Parse(fs, envPrefix, args[1:], getenv); err != nil {
			return nil, err
		}
		if fs.NArg() > 0 {
			return nil, fmt.Errorf("list takes no arguments, got %q", fs.Args())
		}
		return c, nil
	case cmdRun:
		return c, c.parseRun(args[1:], getenv, out)
	}
	usage(out)
	return nil, fmt.Errorf("unknown command %q: want list or run", args[0])
}

func (c *config) parseRun(args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("airlock-chaos run", flag.ContinueOnError)
	fs.SetOutput(out)
	var form string
	fs.StringVar(&form, "form", string(chaos.Long), "scenario size: short (what 'make test' runs) or long")
	fs.Int64Var(&c.seed, "seed", 0, "seed of the nemesis schedule: the same seed gives the same schedule (0: pick one at random and print it)")
	fs.DurationVar(&c.duration, "duration", 0, "length of the fault phase, overriding the form's (a fixed schedule is stretched to fit)")
	fs.Int64Var(&c.events, "events", 0, "events the producer sends, overriding the form's")
	fs.StringVar(&c.report, "report", "", "directory for report.txt, report.json and timeline.svg (with 'all', one subdirectory per scenario); empty: print the text report only")
	fs.BoolVar(&c.dryRun, "dry-run", false, "print the fault schedule and exit without running anything")
	fs.DurationVar(&c.sample, "sample-interval", time.Second, "how often the bridge's and proxies' /metrics are sampled")
	fs.DurationVar(&c.progress, "progress-interval", 5*time.Second, "how often progress is logged")
	fs.Var(&c.bridgeArgs, "bridge-arg", "extra airlock-bridge flag for every bridge instance, e.g. --bridge-arg=--log-level=debug (repeatable)")
	fs.StringVar(&c.kafkaVersion, "kafka-version", "", "Kafka release the test brokers emulate, e.g. 3.9 (default: the newest)")
	c.log.Register(fs)
	fs.StringVar(&c.config, flagenv.ConfigFlag, "", "config file of name = value lines")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(fs.Output(), "airlock-chaos %s\n\nusage: airlock-chaos run <scenario|all> [flags]\n\nscenarios: %s, all\n\nflags:\n",
			version.Version, strings.Join(scenarioNames(), ", "))
		fs.PrintDefaults()
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.scenario, args = args[0], args[1:]
	}
	if err := flagenv.Parse(fs, envPrefix, args, getenv); err != nil {
		return err
	}
	rest := fs.Args()
	if c.scenario == "" && len(rest) > 0 {
		c.scenario, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	if c.scenario == "" {
		return fmt.Errorf("run: need a scenario (one of %s, or all)", strings.Join(scenarioNames(), ", "))
	}
	if c.scenario != allScenarios {
		if _, err := chaos.Lookup(c.scenario); err != nil {
			return err
		}
	}
	f, err := chaos.ParseForm(form)
	if err != nil {
		return fmt.Errorf("--form: %w", err)
	}
	c.form = f
	switch {
	case c.duration < 0:
		return fmt.Errorf("--duration %v < 0", c.duration)
	case c.events < 0:
		return fmt.Errorf("--events %d < 0", c.events)
	case c.sample <= 0 || c.progress <= 0:
		return fmt.Errorf("--sample-interval and --progress-interval must be positive")
	}
	return nil
}

func scenarioNames() []string {
	var out []string
	for _, s := range chaos.Catalogue() {
		out = append(out, s.Name)
	}
	return out
}
