package producer

import (
	"io"
	"log/slog"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/schema"
)

// Opt configures New.
type Opt interface{ apply(*cfg) }

type opt func(*cfg)

func (o opt) apply(c *cfg) { o(c) }

type cfg struct {
	brokers []string
	kgoOpts []kgo.Opt

	topic       string
	createTopic bool
	partitions  int32
	replicas    int16

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

	registrar schema.Registrar
	schema    avro.Schema
	subject   string

	ledger   io.Writer
	logger   *slog.Logger
	progress time.Duration
}

// Brokers sets the seed brokers (host:port). Required.
func Brokers(addrs ...string) Opt {
	return opt(func(c *cfg) { c.brokers = append(c.brokers, addrs...) })
}

// KgoOpts adds franz-go client options, e.g. clientsec.Options.KgoOpts() for TLS/SASL.
func KgoOpts(opts ...kgo.Opt) Opt {
	return opt(func(c *cfg) { c.kgoOpts = append(c.kgoOpts, opts...) })
}

// Topic sets the topic to produce to. Required.
func Topic(name string) Opt { return opt(func(c *cfg) { c.topic = name }) }

// CreateTopic creates the topic with partitions partitions and replicas replicas (-1:
// the broker default) before producing; an existing topic is left as it is.
func CreateTopic(partitions int32, replicas int16) Opt {
	return opt(func(c *cfg) { c.createTopic, c.partitions, c.replicas = true, partitions, replicas })
}

// ProducerID names this producer in every event and ledger entry, overriding a random
// "p-<hex>". Reusing an id across runs restarts its seq at 0, which the checker then
// reports as duplicates: give every run its own.
func ProducerID(id string) Opt { return opt(func(c *cfg) { c.producerID = id }) }

// Events stops after n events (0: no count limit; then Duration is required).
func Events(n int64) Opt { return opt(func(c *cfg) { c.events = n }) }

// Duration stops producing new events after d (0: no time limit).
func Duration(d time.Duration) Opt { return opt(func(c *cfg) { c.duration = d }) }

// Rate limits sending to perSecond events per second (0: as fast as possible).
func Rate(perSecond float64) Opt { return opt(func(c *cfg) { c.rate = perSecond }) }

// Keys spreads events round-robin over n keys "key-0".."key-<n-1>", overriding 100.
func Keys(n int) Opt { return opt(func(c *cfg) { c.keys = n }) }

// PayloadSize sets the payload bytes per event, overriding 100.
func PayloadSize(n int) Opt { return opt(func(c *cfg) { c.payloadSize = n }) }

// Idempotent turns the idempotent producer off (false) or on (true, the default).
// Transactions require it.
func Idempotent(on bool) Opt { return opt(func(c *cfg) { c.idempotent = on }) }

// DeliveryTimeout bounds how long one record may take to be acknowledged before it
// fails (and is ledgered uncertain); 0 keeps franz-go's default (no limit).
func DeliveryTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.deliveryTimeout = d }) }

// Linger sets the producer linger, overriding franz-go's default.
func Linger(d time.Duration) Opt { return opt(func(c *cfg) { c.linger = d }) }

// Transactional produces in transactions under id, each of size events; abortFraction
// (0..1) of them are aborted on purpose, spread evenly (with 0.25, every fourth).
func Transactional(id string, size int, abortFraction float64) Opt {
	return opt(func(c *cfg) { c.txnID, c.txnSize, c.abortFraction = id, size, abortFraction })
}

// TxnTimeout sets the transaction timeout the broker enforces, overriding 60s.
func TxnTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.txnTimeout = d }) }

// Schema sets the writer schema and where its id comes from: reg.IDFor(subject, s).
// The default is the embedded event v1 schema as id 1 of event.DefaultSource.
// subject "" means "<topic>-value" (Confluent's TopicNameStrategy).
func Schema(reg schema.Registrar, s avro.Schema, subject string) Opt {
	return opt(func(c *cfg) { c.registrar, c.schema, c.subject = reg, s, subject })
}

// Ledger writes the JSON-lines ledger to w (nil: no ledger).
func Ledger(w io.Writer) Opt { return opt(func(c *cfg) { c.ledger = w }) }

// Logger sets the logger, overriding slog.Default().
func Logger(l *slog.Logger) Opt { return opt(func(c *cfg) { c.logger = l }) }

// ProgressInterval sets how often progress is logged, overriding 5s.
func ProgressInterval(d time.Duration) Opt { return opt(func(c *cfg) { c.progress = d }) }
