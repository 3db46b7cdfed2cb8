package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/airlock-kafka/airlock/internal/clientsec"
	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/logging"
	"github.com/airlock-kafka/airlock/internal/schema"
	"github.com/airlock-kafka/airlock/internal/version"
)

const envPrefix = "AIRLOCK_CONSUMER_"

// config is everything the flags set.
type config struct {
	brokers string
	topics  flagenv.StringList
	sec     clientsec.Options
	schemas schema.Flags

	expect   int64
	idle     time.Duration
	settle   time.Duration
	deadline time.Duration

	ledgers     flagenv.StringList
	report      string
	maxExamples int

	sourceBrokers string
	sourceSec     clientsec.Options
	lookupIdle    time.Duration

	progress  time.Duration
	logLevel  string
	logFormat string
	config    string
}

// parseArgs parses flags, then environment variables, then the config file.
func parseArgs(args []string, getenv func(string) string, usage io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("airlock-consumer", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.brokers, "brokers", "localhost:9092", "comma-separated seed brokers")
	fs.Var(&c.topics, "topics", "topics to read, comma-separated (repeatable)")
	c.sec.Register(fs, "", "the Kafka cluster")
	c.schemas.Register(fs, "")
	fs.Int64Var(&c.expect, "expect", 0, "stop after this many records (then --settle without new ones); 0: no count")
	fs.DurationVar(&c.idle, "idle-timeout", 30*time.Second, "stop when no record arrived for this long (0: never)")
	fs.DurationVar(&c.settle, "settle", time.Second, "after --expect records, keep reading until none arrived for this long")
	fs.DurationVar(&c.deadline, "deadline", 0, "stop after this long in total (0: none)")
	fs.Var(&c.ledgers, "ledger", "producer ledger file(s) to check against, comma-separated (repeatable)")
	fs.StringVar(&c.report, "report", "", "write the JSON report to this file")
	fs.IntVar(&c.maxExamples, "max-examples", 5, "examples kept per anomaly class")
	fs.StringVar(&c.sourceBrokers, "source-brokers", "", "source cluster to verify provenance headers against (comma-separated seed brokers)")
	c.sourceSec.Register(fs, "source-", "the source cluster")
	fs.DurationVar(&c.lookupIdle, "lookup-idle", 5*time.Second, "provenance lookup: give up on a source partition that returns nothing for this long")
	fs.DurationVar(&c.progress, "progress-interval", 5*time.Second, "how often to log progress")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.config, flagenv.ConfigFlag, "", "config file of name = value lines")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "airlock-consumer %s: read topics read_committed and check them against producer ledgers\n\n", version.Version)
		fs.PrintDefaults()
	}
	if err := flagenv.Parse(fs, envPrefix, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(c.topicList()) == 0 {
		return nil, fmt.Errorf("need --topics")
	}
	if c.expect <= 0 && c.idle <= 0 && c.deadline <= 0 {
		return nil, fmt.Errorf("need --expect, --idle-timeout or --deadline to know when to stop")
	}
	if c.maxExamples < 0 {
		return nil, fmt.Errorf("--max-examples %d < 0", c.maxExamples)
	}
	return c, nil
}

func (c *config) topicList() []string  { return splitAll(c.topics) }
func (c *config) ledgerList() []string { return splitAll(c.ledgers) }
func (c *config) brokerList() []string { return splitAll([]string{c.brokers}) }
func (c *config) sourceList() []string { return splitAll([]string{c.sourceBrokers}) }

func splitAll(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// newLogger builds the process logger (the shared --log-level/--log-format logic).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	return logging.Options{Level: level, Format: format}.New(w)
}
