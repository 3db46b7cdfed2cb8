package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Mode selects the delivery guarantee.
type Mode int

const (
	// ExactlyOnce copies inside target transactions that also commit the
	// source offsets. The default.
	ExactlyOnce Mode = iota
	// AtLeastOnce produces without transactions and commits the source
	// offsets after each flushed batch: a crash can duplicate the records
	// of one batch. It exists as the benchmark's baseline and for targets
	// that do not support transactions.
	AtLeastOnce
)

// String returns the flag spelling of m.
func (m Mode) String() string {
	if m == AtLeastOnce {
		return "at-least-once"
	}
	return "exactly-once"
}

// ParseMode parses "exactly-once" or "at-least-once".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "exactly-once", "eos":
		return ExactlyOnce, nil
	case "at-least-once", "alo":
		return AtLeastOnce, nil
	}
	return 0, fmt.Errorf("%w: mode %q (want exactly-once or at-least-once)", ErrConfig, s)
}

// Coordination selects how tasks are spread over bridge instances.
type Coordination int

const (
	// GroupCoordination shares the tasks through a consumer group on the
	// control topic of the target: several instances can run side by side
	// and take over each other's tasks. The default.
	GroupCoordination Coordination = iota
	// StaticCoordination runs every task in this instance. A second
	// instance with the same name fences this one, which then stops with
	// ErrFenced.
	StaticCoordination
)

// String returns the flag spelling of c.
func (c Coordination) String() string {
	if c == StaticCoordination {
		return "static"
	}
	return "group"
}

// ParseCoordination parses "group" or "static".
func ParseCoordination(s string) (Coordination, error) {
	switch strings.ToLower(s) {
	case "group":
		return GroupCoordination, nil
	case "static":
		return StaticCoordination, nil
	}
	return 0, fmt.Errorf("%w: coordination %q (want group or static)", ErrConfig, s)
}

// StartFrom says where a partition with no stored offset starts.
type StartFrom int

const (
	// StartEarliest copies a new partition from its first record. The
	// default.
	StartEarliest StartFrom = iota
	// StartLatest skips what a new partition already holds. A crash before
	// the first commit re-evaluates "latest", so records appended meanwhile
	// are skipped too.
	StartLatest
)

// ParseStartFrom parses "earliest" or "latest".
func ParseStartFrom(s string) (StartFrom, error) {
	switch strings.ToLower(s) {
	case "earliest":
		return StartEarliest, nil
	case "latest":
		return StartLatest, nil
	}
	return 0, fmt.Errorf("%w: start offset %q (want earliest or latest)", ErrConfig, s)
}

// Defaults, chosen by the benchmark (see bridge/bench): the transaction cost
// is per transaction, so bigger transactions are cheaper but add latency.
const (
	DefaultTasks           = 4
	DefaultTxnMaxRecords   = 10000
	DefaultTxnInterval     = 250 * time.Millisecond
	DefaultTxnTimeout      = 30 * time.Second
	DefaultDiscovery       = 30 * time.Second
	DefaultLagProbe        = 10 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultRename          = "{{.Topic}}"
)

// Opt configures a Bridge.
type Opt interface{ apply(*cfg) }

type opt struct{ fn func(*cfg) }

func (o opt) apply(c *cfg) { o.fn(c) }

// HookPoint names a place in a task's transaction loop, for fault-injection
// tests that cancel the bridge at exact moments.
type HookPoint int

// Hook points, in the order a transaction passes them.
const (
	HookBeforeProduce HookPoint = iota // before the first record of a transaction is produced
	HookBeforeFlush                    // records are produced, the flush has not started
	HookBeforeOffsets                  // records and checkpoint are flushed, offsets not yet committed
	HookBeforeEndTxn                   // offsets are in the transaction too, EndTxn not yet sent
	HookAfterEndTxn                    // the transaction (or batch) is committed
)

type cfg struct {
	name string

	srcSeeds, dstSeeds []string
	srcOpts, dstOpts   []kgo.Opt

	topics          []string
	include         []string
	exclude         []string
	rename          string
	srcName         string
	dstName         string
	topicConfigs    map[string]string
	replication     int16
	checkpointTopic string
	dlqTopic        string
	dlqPartitions   int32
	controlTopic    string
	offsetsGroup    string
	taskGroup       string

	tasks         int
	mode          Mode
	coord         Coordination
	start         StartFrom
	txnMaxRecords int
	txnInterval   time.Duration
	txnTimeout    time.Duration
	discovery     time.Duration
	lagProbe      time.Duration
	shutdown      time.Duration
	backoff       time.Duration
	maxBackoff    time.Duration
	fencedBackoff time.Duration
	groupSession  time.Duration

	validator Validator
	logger    *slog.Logger
	registry  *prometheus.Registry
	httpAddr  string
	hook      func(ctx context.Context, task int, p HookPoint)

	// compiled in validate
	includeRE, excludeRE []*regexp.Regexp
}

func defaultCfg() cfg {
	return cfg{
		rename:        DefaultRename,
		replication:   -1,
		dlqPartitions: 1,
		tasks:         DefaultTasks,
		txnMaxRecords: DefaultTxnMaxRecords,
		txnInterval:   DefaultTxnInterval,
		txnTimeout:    DefaultTxnTimeout,
		discovery:     DefaultDiscovery,
		lagProbe:      DefaultLagProbe,
		shutdown:      DefaultShutdownTimeout,
		backoff:       200 * time.Millisecond,
		maxBackoff:    10 * time.Second,
		fencedBackoff: 30 * time.Second,
		groupSession:  45 * time.Second,
	}
}

// Name names the bridge; it prefixes the transactional ids, the offsets
// group and the bridge's own topics, so two bridges into one target need two
// names. Required.
func Name(name string) Opt { return opt{func(c *cfg) { c.name = name }} }

// SourceBrokers sets the seed brokers of the source cluster. Required.
func SourceBrokers(seeds ...string) Opt {
	return opt{func(c *cfg) { c.srcSeeds = append(c.srcSeeds, seeds...) }}
}

// TargetBrokers sets the seed brokers of the target cluster. Required.
func TargetBrokers(seeds ...string) Opt {
	return opt{func(c *cfg) { c.dstSeeds = append(c.dstSeeds, seeds...) }}
}

// SourceClientOpts adds franz-go options to every source client (TLS, SASL,
// dialers; see internal/clientsec).
func SourceClientOpts(opts ...kgo.Opt) Opt {
	return opt{func(c *cfg) { c.srcOpts = append(c.srcOpts, opts...) }}
}

// TargetClientOpts adds franz-go options to every target client.
func TargetClientOpts(opts ...kgo.Opt) Opt {
	return opt{func(c *cfg) { c.dstOpts = append(c.dstOpts, opts...) }}
}

// Topics selects source topics by exact name.
func Topics(topics ...string) Opt {
	return opt{func(c *cfg) { c.topics = append(c.topics, topics...) }}
}

// IncludeRegex selects source topics whose whole name matches one of the
// regular expressions.
func IncludeRegex(res ...string) Opt {
	return opt{func(c *cfg) { c.include = append(c.include, res...) }}
}

// ExcludeRegex drops selected topics whose whole name matches one of the
// regular expressions. Internal topics (names starting "__") are never copied.
func ExcludeRegex(res ...string) Opt {
	return opt{func(c *cfg) { c.exclude = append(c.exclude, res...) }}
}

// Rename sets the target topic name template (text/template with .Topic and
// .SourceCluster). A template without "{{" is a prefix: "source." renames
// "orders" to "source.orders". The default "{{.Topic}}" keeps names.
func Rename(template string) Opt { return opt{func(c *cfg) { c.rename = template }} }

// SourceClusterName overrides the source cluster name written into the
// provenance headers (default: the source's cluster id).
func SourceClusterName(name string) Opt { return opt{func(c *cfg) { c.srcName = name }} }

// TargetClusterName overrides the name that marks records as already copied
// into the target (default: the target's cluster id). Records whose
// provenance names it are not copied again, which breaks replication cycles.
func TargetClusterName(name string) Opt { return opt{func(c *cfg) { c.dstName = name }} }

// TargetTopicConfigs sets the configs of target topics the bridge creates.
func TargetTopicConfigs(configs map[string]string) Opt {
	return opt{func(c *cfg) {
		if c.topicConfigs == nil {
			c.topicConfigs = map[string]string{}
		}
		for k, v := range configs {
			c.topicConfigs[k] = v
		}
	}}
}

// TargetReplicationFactor sets the replication factor of created target
// topics (default -1: the broker's default).
func TargetReplicationFactor(rf int16) Opt { return opt{func(c *cfg) { c.replication = rf }} }

// CheckpointTopic names the target topic of checkpoint records (default
// "airlock-bridge.<name>.checkpoints").
func CheckpointTopic(topic string) Opt { return opt{func(c *cfg) { c.checkpointTopic = topic }} }

// DLQTopic names the dead-letter topic on the target (default
// "airlock-bridge.<name>.dlq").
func DLQTopic(topic string) Opt { return opt{func(c *cfg) { c.dlqTopic = topic }} }

// DLQPartitions sets the partition count of a created dead-letter topic
// (default 1). A rejected record goes to partition source-partition % count.
func DLQPartitions(n int32) Opt { return opt{func(c *cfg) { c.dlqPartitions = n }} }

// ControlTopic names the target topic whose partitions are the tasks in
// group coordination (default "airlock-bridge.<name>.control").
func ControlTopic(topic string) Opt { return opt{func(c *cfg) { c.controlTopic = topic }} }

// OffsetsGroup names the target group that stores source offsets (default
// "airlock-bridge.<name>"). It must never have members.
func OffsetsGroup(group string) Opt { return opt{func(c *cfg) { c.offsetsGroup = group }} }

// TaskGroup names the consumer group instances join in group coordination
// (default "airlock-bridge.<name>.tasks").
func TaskGroup(group string) Opt { return opt{func(c *cfg) { c.taskGroup = group }} }

// Tasks sets the number of tasks (default 4). Every instance of one bridge
// must use the same number; changing it moves partitions between
// transactional ids, so stop every instance before changing it.
func Tasks(n int) Opt { return opt{func(c *cfg) { c.tasks = n }} }

// WithMode selects exactly-once (default) or at-least-once delivery.
func WithMode(m Mode) Opt { return opt{func(c *cfg) { c.mode = m }} }

// WithCoordination selects group (default) or static task coordination.
func WithCoordination(co Coordination) Opt { return opt{func(c *cfg) { c.coord = co }} }

// WithStartFrom says where partitions with no stored offset start.
func WithStartFrom(s StartFrom) Opt { return opt{func(c *cfg) { c.start = s }} }

// TxnMaxRecords ends a transaction after this many source records (default
// 10,000).
func TxnMaxRecords(n int) Opt { return opt{func(c *cfg) { c.txnMaxRecords = n }} }

// TxnInterval ends a transaction this long after its first record (default
// 250ms).
func TxnInterval(d time.Duration) Opt { return opt{func(c *cfg) { c.txnInterval = d }} }

// TxnTimeout is the transaction timeout given to the target (default 30s).
// A crashed instance's open transaction blocks read_committed readers of its
// partitions until a new owner fences it or this timeout aborts it.
func TxnTimeout(d time.Duration) Opt { return opt{func(c *cfg) { c.txnTimeout = d }} }

// LagProbeInterval sets how often each task asks the source for the end
// offsets of its partitions (default 10s; 0 turns the probe off). Fetches
// report them only for partitions that have new records, so without the probe
// the lag of a partition that stops answering would freeze at its last value;
// the probe keeps replication_lag_records current and source_staleness_seconds
// honest.
func LagProbeInterval(d time.Duration) Opt { return opt{func(c *cfg) { c.lagProbe = d }} }

// DiscoveryInterval sets how often source topics are listed again (default
// 30s).
func DiscoveryInterval(d time.Duration) Opt { return opt{func(c *cfg) { c.discovery = d }} }

// ShutdownTimeout bounds how long stopping may take to commit (or, failing
// that, abort) open transactions (default 10s). Zero abandons open
// transactions at once, like a crash; their successor aborts them.
func ShutdownTimeout(d time.Duration) Opt { return opt{func(c *cfg) { c.shutdown = d }} }

// RetryBackoff sets the first and the largest pause between attempts of a
// task that failed (defaults 200ms and 10s), and the longest pause before a
// fenced task in group coordination tries again (default 30s; it waits the
// group session timeout when that is shorter).
func RetryBackoff(first, max, fenced time.Duration) Opt {
	return opt{func(c *cfg) { c.backoff, c.maxBackoff, c.fencedBackoff = first, max, fenced }}
}

// GroupSessionTimeout sets the session timeout of the task group (default
// 45s): how long a silent instance keeps its tasks.
func GroupSessionTimeout(d time.Duration) Opt { return opt{func(c *cfg) { c.groupSession = d }} }

// WithValidator validates (and may re-encode) every record value; rejected
// records go to the dead-letter topic. Without one, every record passes.
func WithValidator(v Validator) Opt { return opt{func(c *cfg) { c.validator = v }} }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Opt { return opt{func(c *cfg) { c.logger = l }} }

// WithRegistry registers the bridge's metrics in r (default: a registry of
// its own, served by Handler).
func WithRegistry(r *prometheus.Registry) Opt { return opt{func(c *cfg) { c.registry = r }} }

// HTTPAddr makes Run serve /metrics, /healthz and /readyz on addr.
func HTTPAddr(addr string) Opt { return opt{func(c *cfg) { c.httpAddr = addr }} }

// WithHook calls fn at every HookPoint of every transaction. Tests use it to
// cancel the bridge at exact moments; fn must not block.
func WithHook(fn func(ctx context.Context, task int, p HookPoint)) Opt {
	return opt{func(c *cfg) { c.hook = fn }}
}

func (c *cfg) validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.name == "" {
		bad("a name is required")
	} else if err := checkTopicName("airlock-bridge." + c.name); err != nil {
		bad("name %q cannot be part of a topic name", c.name)
	}
	if len(c.srcSeeds) == 0 {
		bad("source brokers are required")
	}
	if len(c.dstSeeds) == 0 {
		bad("target brokers are required")
	}
	if len(c.topics) == 0 && len(c.include) == 0 {
		bad("no topics selected: give topics or an include regex")
	}
	for _, s := range c.include {
		re, err := regexp.Compile("^(?:" + s + ")$")
		if err != nil {
			bad("include regex %q: %v", s, err)
			continue
		}
		c.includeRE = append(c.includeRE, re)
	}
	for _, s := range c.exclude {
		re, err := regexp.Compile("^(?:" + s + ")$")
		if err != nil {
			bad("exclude regex %q: %v", s, err)
			continue
		}
		c.excludeRE = append(c.excludeRE, re)
	}
	if _, err := newRenamer(c.rename); err != nil {
		bad("%v", err)
	}
	if c.tasks < 1 || c.tasks > 10000 {
		bad("tasks must be 1..10000, got %d", c.tasks)
	}
	if c.txnMaxRecords < 1 {
		bad("transaction max records must be positive, got %d", c.txnMaxRecords)
	}
	if c.txnInterval <= 0 {
		bad("transaction interval must be positive, got %s", c.txnInterval)
	}
	if c.txnTimeout < time.Second || c.txnTimeout < 4*c.txnInterval {
		bad("transaction timeout %s must be at least 1s and 4x the interval %s", c.txnTimeout, c.txnInterval)
	}
	if c.lagProbe < 0 {
		bad("lag probe interval must not be negative, got %s", c.lagProbe)
	}
	if c.discovery <= 0 {
		bad("discovery interval must be positive")
	}
	if c.shutdown < 0 {
		bad("shutdown timeout must not be negative")
	}
	if c.dlqPartitions < 1 {
		bad("dead-letter partitions must be positive")
	}
	if c.groupSession < time.Second {
		bad("group session timeout must be at least 1s, got %s", c.groupSession)
	}
	if c.backoff <= 0 || c.maxBackoff < c.backoff || c.fencedBackoff <= 0 {
		bad("retry backoffs must be positive and max >= first")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(errs, "; "))
	}
	prefix := "airlock-bridge." + c.name
	if c.checkpointTopic == "" {
		c.checkpointTopic = prefix + ".checkpoints"
	}
	if c.dlqTopic == "" {
		c.dlqTopic = prefix + ".dlq"
	}
	if c.controlTopic == "" {
		c.controlTopic = prefix + ".control"
	}
	if c.offsetsGroup == "" {
		c.offsetsGroup = prefix
	}
	if c.taskGroup == "" {
		c.taskGroup = prefix + ".tasks"
	}
	for _, t := range []string{c.checkpointTopic, c.dlqTopic, c.controlTopic} {
		if err := checkTopicName(t); err != nil {
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
	}
	if c.offsetsGroup == c.taskGroup {
		return fmt.Errorf("%w: the offsets group must differ from the task group (it must never have members)", ErrConfig)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.registry == nil {
		c.registry = prometheus.NewRegistry()
	}
	return nil
}
