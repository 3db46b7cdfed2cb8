package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/airlock-kafka/airlock/bridge"
	"github.com/airlock-kafka/airlock/internal/clientsec"
	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/logging"
	"github.com/airlock-kafka/airlock/internal/schema"
	"github.com/airlock-kafka/airlock/internal/version"
)

const envPrefix = "AIRLOCK_BRIDGE_"

type config struct {
	log        logging.Options
	configFile string

	name          string
	sourceBrokers string
	targetBrokers string
	source        clientsec.Options
	target        clientsec.Options

	topics       flagenv.StringList
	include      flagenv.StringList
	exclude      flagenv.StringList
	rename       string
	sourceName   string
	targetName   string
	topicConfigs flagenv.StringList
	replication  int
	checkpoint   string
	dlq          string
	dlqParts     int
	control      string
	offsetsGroup string
	taskGroup    string

	tasks        int
	mode         string
	coordination string
	startOffset  string
	txnRecords   int
	txnInterval  time.Duration
	txnTimeout   time.Duration
	discovery    time.Duration
	lagProbe     time.Duration
	shutdown     time.Duration
	groupSession time.Duration
	httpAddr     string

	avroTopics flagenv.StringList
	avroRegex  flagenv.StringList
	avroTarget string
	schemas    schema.Flags

	validator bridge.Validator // nil: every record passes
	opts      []bridge.Opt
}

const usageHeader = `airlock-bridge: exactly-once replication between two Kafka clusters.

Copies the selected topics of the source cluster into the target cluster,
partition for partition, with provenance headers on every record. Each of
--tasks tasks owns a fixed share of the source partitions and a transactional
id "<name>-<task>" on the target; the source offsets are committed on the
target inside the same transactions, so a crash, a restart or a duplicate
instance never loses or repeats a record.

Example:
  airlock-bridge --name east-west \
    --source-brokers east-kafka:9092 --target-brokers west-proxy:9092 \
    --topic-regex 'orders\..*' --rename 'east.{{.Topic}}'

Run several instances with the same --name to share the tasks (coordination
group); SIGTERM commits or aborts open transactions within --shutdown-timeout.

Avro: --avro-topics and --avro-topic-regex select source topics whose values
are Avro in the Confluent wire format; writer schemas come from --schema,
--schema-dir or --schema-registry. A value that does not decode goes to the
dead-letter topic with the reason in its headers; a registry outage pauses
copying instead. --avro-target-schema re-encodes values for another schema.

Every flag can also be set by the environment variable shown, or in a --config
file (one "name = value" per line). Flags win over env, env over the file.

Exit status: 0 stopped on request, 1 failed, 2 bad configuration,
3 fenced by another instance (static coordination: a newer instance with the
same name fenced this one and committed its partitions).

Flags:
`

// parseFlags parses args; it returns a nil config after --help or
// --version.
func parseFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (*config, error) {
	c := &config{}
	fs, showVersion := c.flagSet(stderr)
	if err := flagenv.Parse(fs, envPrefix, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if *showVersion {
		_, _ = fmt.Fprintln(stdout, "airlock-bridge", version.Version)
		return nil, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only; see --help)", fs.Args())
	}
	if err := c.build(); err != nil {
		return nil, err
	}
	return c, nil
}

// flagSet defines every flag on a new flag set writing usage to out.
func (c *config) flagSet(out io.Writer) (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet("airlock-bridge", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		_, _ = fmt.Fprint(fs.Output(), usageHeader)
		fs.PrintDefaults()
	}
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.StringVar(&c.configFile, flagenv.ConfigFlag, "", "config file of name = value lines")
	c.log.Register(fs)
	fs.StringVar(&c.name, "name", "", "bridge name (required): prefixes transactional ids, the offsets group and the bridge's own topics")
	fs.StringVar(&c.sourceBrokers, "source-brokers", "", "comma-separated seed brokers of the source cluster (required)")
	fs.StringVar(&c.targetBrokers, "target-brokers", "", "comma-separated seed brokers of the target cluster (required)")
	c.source.Register(fs, "source-", "the source cluster")
	c.target.Register(fs, "target-", "the target cluster")

	fs.Var(&c.topics, "topic", "source topic to copy, by exact name (repeatable)")
	fs.Var(&c.include, "topic-regex", "copy source topics whose whole name matches this regular expression (repeatable)")
	fs.Var(&c.exclude, "exclude-regex", "do not copy topics whose whole name matches this regular expression (repeatable)")
	fs.StringVar(&c.rename, "rename", bridge.DefaultRename, "target topic name: a Go template with {{.Topic}} and {{.SourceCluster}}, or a plain prefix such as 'source.'")
	fs.StringVar(&c.sourceName, "source-cluster-name", "", "source name written into provenance headers (default: the source's cluster id)")
	fs.StringVar(&c.targetName, "target-cluster-name", "", "name whose provenance marks records copied out of the target; they are not copied back (default: the target's cluster id)")
	fs.Var(&c.topicConfigs, "target-topic-config", "config of target topics the bridge creates, as key=value (repeatable)")
	fs.IntVar(&c.replication, "target-replication-factor", -1, "replication factor of created target topics (-1: broker default)")
	fs.StringVar(&c.checkpoint, "checkpoint-topic", "", "target topic of checkpoint records, source offset -> target offset (default: airlock-bridge.<name>.checkpoints)")
	fs.StringVar(&c.dlq, "dlq-topic", "", "target topic of records that fail validation (default: airlock-bridge.<name>.dlq)")
	fs.IntVar(&c.dlqParts, "dlq-partitions", 1, "partitions of a created dead-letter topic")
	fs.StringVar(&c.control, "control-topic", "", "target topic whose partitions are the tasks under group coordination (default: airlock-bridge.<name>.control)")
	fs.StringVar(&c.offsetsGroup, "offsets-group", "", "target group storing the source offsets; it never has members (default: airlock-bridge.<name>)")
	fs.StringVar(&c.taskGroup, "task-group", "", "consumer group instances join to share tasks (default: airlock-bridge.<name>.tasks)")

	fs.IntVar(&c.tasks, "tasks", bridge.DefaultTasks, "number of tasks; every instance must use the same number (stop all instances to change it)")
	fs.StringVar(&c.mode, "mode", "exactly-once", "delivery: exactly-once (target transactions) or at-least-once (no transactions)")
	fs.StringVar(&c.coordination, "coordination", "group", "group: instances share tasks through a consumer group on the target; static: this instance runs every task")
	fs.StringVar(&c.startOffset, "start-offset", "earliest", "where a partition with no stored offset starts: earliest or latest")
	fs.IntVar(&c.txnRecords, "txn-max-records", bridge.DefaultTxnMaxRecords, "end a transaction after this many source records")
	fs.DurationVar(&c.txnInterval, "txn-interval", bridge.DefaultTxnInterval, "end a transaction this long after its first record")
	fs.DurationVar(&c.txnTimeout, "txn-timeout", bridge.DefaultTxnTimeout, "transaction timeout on the target; a crashed instance's transaction blocks readers at most this long")
	fs.DurationVar(&c.discovery, "discovery-interval", bridge.DefaultDiscovery, "how often source topics and partitions are listed again")
	fs.DurationVar(&c.lagProbe, "lag-probe-interval", bridge.DefaultLagProbe, "how often each task asks the source for its partitions' end offsets, so lag stays current when no record flows and source_staleness_seconds grows when the source stops answering (0: off)")
	fs.DurationVar(&c.shutdown, "shutdown-timeout", bridge.DefaultShutdownTimeout, "on SIGTERM, how long open transactions may take to commit or abort (0: abandon them)")
	fs.DurationVar(&c.groupSession, "group-session-timeout", 45*time.Second, "how long a silent instance keeps its tasks under group coordination")
	fs.StringVar(&c.httpAddr, "http-listen-address", "0.0.0.0:9081", "address of /healthz, /readyz and /metrics (empty: off)")

	fs.Var(&c.avroTopics, "avro-topics", "source topics whose values are Avro in the Confluent wire format, comma-separated (repeatable): each value is decoded with its writer schema and dead-lettered when it cannot be")
	fs.Var(&c.avroRegex, "avro-topic-regex", "validate as Avro the source topics whose whole name matches this regular expression (repeatable)")
	fs.StringVar(&c.avroTarget, "avro-target-schema", "", "re-encode Avro values for this schema, as id=path.avsc; the id (of the target side's registry) goes into the wire header")
	c.schemas.Register(fs, "")
	return fs, showVersion
}

// build validates the flags that need parsing and turns them into bridge
// options; bridge.New validates the rest.
func (c *config) build() error {
	mode, err := bridge.ParseMode(c.mode)
	if err != nil {
		return fmt.Errorf("--mode: %w", err)
	}
	coord, err := bridge.ParseCoordination(c.coordination)
	if err != nil {
		return fmt.Errorf("--coordination: %w", err)
	}
	start, err := bridge.ParseStartFrom(c.startOffset)
	if err != nil {
		return fmt.Errorf("--start-offset: %w", err)
	}
	configs := map[string]string{}
	for _, kv := range c.topicConfigs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("--target-topic-config %q: want key=value", kv)
		}
		configs[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if c.replication < -1 || c.replication > 32767 || c.replication == 0 {
		return fmt.Errorf("--target-replication-factor %d: want -1 or 1..32767", c.replication)
	}
	srcOpts, err := c.source.KgoOpts()
	if err != nil {
		return fmt.Errorf("source security: %w", err)
	}
	dstOpts, err := c.target.KgoOpts()
	if err != nil {
		return fmt.Errorf("target security: %w", err)
	}
	if c.validator, err = c.avroValidator(); err != nil {
		return err
	}
	c.opts = []bridge.Opt{
		bridge.Name(c.name),
		bridge.SourceBrokers(splitList(c.sourceBrokers)...),
		bridge.TargetBrokers(splitList(c.targetBrokers)...),
		bridge.SourceClientOpts(srcOpts...),
		bridge.TargetClientOpts(dstOpts...),
		bridge.Topics(c.topics...),
		bridge.IncludeRegex(c.include...),
		bridge.ExcludeRegex(c.exclude...),
		bridge.Rename(c.rename),
		bridge.SourceClusterName(c.sourceName),
		bridge.TargetClusterName(c.targetName),
		bridge.TargetTopicConfigs(configs),
		bridge.TargetReplicationFactor(int16(c.replication)),
		bridge.CheckpointTopic(c.checkpoint),
		bridge.DLQTopic(c.dlq),
		bridge.DLQPartitions(int32(c.dlqParts)),
		bridge.ControlTopic(c.control),
		bridge.OffsetsGroup(c.offsetsGroup),
		bridge.TaskGroup(c.taskGroup),
		bridge.Tasks(c.tasks),
		bridge.WithMode(mode),
		bridge.WithCoordination(coord),
		bridge.WithStartFrom(start),
		bridge.TxnMaxRecords(c.txnRecords),
		bridge.TxnInterval(c.txnInterval),
		bridge.TxnTimeout(c.txnTimeout),
		bridge.DiscoveryInterval(c.discovery),
		bridge.LagProbeInterval(c.lagProbe),
		bridge.ShutdownTimeout(c.shutdown),
		bridge.GroupSessionTimeout(c.groupSession),
		bridge.HTTPAddr(c.httpAddr),
	}
	if c.validator != nil {
		c.opts = append(c.opts, bridge.WithValidator(c.validator))
	}
	return nil
}

// avroValidator builds the Avro validator the flags ask for, or nil when no
// topic is Avro. Schema flags without Avro topics are an error rather than
// ignored: the operator meant something to be validated.
func (c *config) avroValidator() (bridge.Validator, error) {
	if err := c.schemas.Resolve(); err != nil {
		return nil, err
	}
	var topics []string
	for _, v := range c.avroTopics {
		topics = append(topics, splitList(v)...)
	}
	avroSet := len(topics) > 0 || len(c.avroRegex) > 0
	schemaSet := c.schemas.Registry != "" || len(c.schemas.Specs) > 0 || c.schemas.Dir != ""
	switch {
	case !avroSet && (schemaSet || c.avroTarget != ""):
		return nil, errors.New("schema flags given without --avro-topics or --avro-topic-regex: nothing would be validated")
	case !avroSet:
		return nil, nil
	case !schemaSet:
		return nil, errors.New("--avro-topics and --avro-topic-regex need writer schemas: --schema, --schema-dir or --schema-registry")
	}
	store, err := c.schemas.Open()
	if err != nil {
		return nil, fmt.Errorf("writer schemas: %w", err)
	}
	opts := []bridge.AvroOpt{bridge.AvroTopics(topics...), bridge.AvroTopicRegex(c.avroRegex...)}
	if c.avroTarget != "" {
		id, path, err := schema.ParseSpec(c.avroTarget)
		if err != nil {
			return nil, fmt.Errorf("--avro-target-schema: %w", err)
		}
		target, err := schema.ParseFile(path)
		if err != nil {
			return nil, fmt.Errorf("--avro-target-schema: %w", err)
		}
		opts = append(opts, bridge.AvroTarget(target, id))
	}
	v, err := bridge.NewAvroValidator(store, opts...)
	if err != nil {
		return nil, fmt.Errorf("avro: %w", err)
	}
	return v, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
