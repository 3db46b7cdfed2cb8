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

const envPrefix = "AIRLOCK_PRODUCER_"

// config is everything the flags set.
type config struct {
	brokers     string
	topic       string
	createTopic bool
	partitions  int
	replicas    int

	producerID  string
	events      int64
	duration    time.Duration
	rate        float64
	keys        int
	payloadSize int

	idempotent      bool
	deliveryTimeout time.Duration
	linger          time.Duration

	txnID         string
	txnSize       int
	abortFraction float64
	txnTimeout    time.Duration

	ledger       string
	writerSchema string
	subject      string
	schemas      schema.Flags
	sec          clientsec.Options

	progress  time.Duration
	logLevel  string
	logFormat string
	config    string
}

// parseArgs parses flags, then environment variables, then the config file.
func parseArgs(args []string, getenv func(string) string, usage io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("airlock-producer", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.brokers, "brokers", "localhost:9092", "comma-separated seed brokers")
	fs.StringVar(&c.topic, "topic", "airlock-events", "topic to produce to")
	fs.BoolVar(&c.createTopic, "create-topic", false, "create the topic first (an existing one is kept)")
	fs.IntVar(&c.partitions, "partitions", 3, "partitions of a created topic")
	fs.IntVar(&c.replicas, "replication-factor", -1, "replication factor of a created topic (-1: broker default)")
	fs.StringVar(&c.producerID, "producer-id", "", "producer id written in every event (default: random p-<hex>; unique per run)")
	fs.Int64Var(&c.events, "events", 0, "events to produce (0: until --duration)")
	fs.DurationVar(&c.duration, "duration", 0, "stop producing after this long (0: until --events)")
	fs.Float64Var(&c.rate, "rate", 0, "events per second (0: as fast as possible)")
	fs.IntVar(&c.keys, "keys", 100, "number of distinct keys, used round-robin")
	fs.IntVar(&c.payloadSize, "payload-size", 100, "payload bytes per event")
	fs.BoolVar(&c.idempotent, "idempotent", true, "use the idempotent producer")
	fs.DurationVar(&c.deliveryTimeout, "delivery-timeout", 0, "fail a record not acknowledged within this (0: no limit)")
	fs.DurationVar(&c.linger, "linger", 0, "producer linger (0: franz-go default)")
	fs.StringVar(&c.txnID, "transactional-id", "", "produce in transactions under this transactional id")
	fs.IntVar(&c.txnSize, "txn-size", 100, "events per transaction")
	fs.Float64Var(&c.abortFraction, "abort-fraction", 0, "fraction of transactions aborted on purpose (0..1)")
	fs.DurationVar(&c.txnTimeout, "txn-timeout", 60*time.Second, "transaction timeout")
	fs.StringVar(&c.ledger, "ledger", "", "write the JSON-lines ledger to this file")
	fs.StringVar(&c.writerSchema, "writer-schema", "v1", "schema to write: v1, v2 (embedded event schemas) or an .avsc path")
	fs.StringVar(&c.subject, "subject", "", "registry subject (default <topic>-value)")
	c.schemas.Register(fs, "")
	c.sec.Register(fs, "", "the Kafka cluster")
	fs.DurationVar(&c.progress, "progress-interval", 5*time.Second, "how often to log progress")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.config, flagenv.ConfigFlag, "", "config file of name = value lines")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "airlock-producer %s: write Avro test events and a ledger of their fate\n\n", version.Version)
		fs.PrintDefaults()
	}
	if err := flagenv.Parse(fs, envPrefix, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.events == 0 && c.duration == 0 {
		return nil, fmt.Errorf("need --events or --duration")
	}
	if c.abortFraction != 0 && c.txnID == "" {
		return nil, fmt.Errorf("--abort-fraction needs --transactional-id")
	}
	if c.partitions < 1 || c.partitions > 1<<20 {
		return nil, fmt.Errorf("--partitions %d out of range", c.partitions)
	}
	if c.replicas < -1 || c.replicas > 1<<15-1 {
		return nil, fmt.Errorf("--replication-factor %d out of range", c.replicas)
	}
	return c, nil
}

func (c *config) brokerList() []string {
	var out []string
	for _, b := range strings.Split(c.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// newLogger builds the process logger (the shared --log-level/--log-format logic).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	return logging.Options{Level: level, Format: format}.New(w)
}
