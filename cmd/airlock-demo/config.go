package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/version"
)

const envPrefix = "AIRLOCK_DEMO_"

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the verification found anomalies
	exitError  = 2 // the demo could not run
	exitUsage  = 64
)

type config struct {
	events     int64
	rate       float64
	version    string
	keep       bool
	latency    time.Duration
	faultAfter time.Duration
	faultFor   time.Duration
	down       string
	logLevel   string
	config     string
}

// parseArgs returns nil, nil after --help.
func parseArgs(args []string, getenv func(string) string, usage io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("airlock-demo", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Int64Var(&c.events, "events", 3000, "events to produce (with --rate: how long the stream runs)")
	fs.Float64Var(&c.rate, "rate", 50, "events per second")
	fs.StringVar(&c.version, "kafka-version", "", "Kafka release the test brokers emulate (default newest)")
	fs.BoolVar(&c.keep, "keep", false, "leave the topology running and print how to reach it and tear it down")
	fs.DurationVar(&c.latency, "latency", 200*time.Millisecond, "latency toxic on the source side")
	fs.DurationVar(&c.faultAfter, "fault-after", 10*time.Second, "when the latency toxic starts, after the producer")
	fs.DurationVar(&c.faultFor, "fault-for", 15*time.Second, "how long the latency toxic stays; the bridge is killed 5s later")
	fs.StringVar(&c.down, "down", "", "remove the kept topology of this run id, and nothing else")
	fs.StringVar(&c.logLevel, "log-level", "warn", "testbed logging on stderr: debug, info, warn or error")
	fs.StringVar(&c.config, flagenv.ConfigFlag, "", "config file of name = value lines")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "airlock-demo %s: Airlock's topology in docker, events under faults, verified\n\n", version.Version)
		fs.PrintDefaults()
	}
	if err := flagenv.Parse(fs, envPrefix, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.events <= 0 || c.rate <= 0 {
		return nil, fmt.Errorf("--events and --rate must be positive")
	}
	if c.latency < 0 || c.faultAfter < 0 || c.faultFor < 0 {
		return nil, fmt.Errorf("--latency, --fault-after and --fault-for must not be negative")
	}
	return c, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})), nil
}
