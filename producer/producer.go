// Package producer is airlock-producer's engine: it writes the test workload (Avro
// events in Confluent wire format, see internal/event) to a topic at a given rate,
// idempotently or in transactions with a share of them aborted on purpose, and keeps a
// ledger of the fate of every event for the checker (package consumer).
package producer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/airlock-kafka/airlock/internal/event"
)

// Producer produces one workload run. Build it with New, run it once with Run.
type Producer struct {
	c cfg

	kgoLog *kgoLogger

	// Counters, read by the progress logger while the run writes them.
	attempted, acked, aborted, uncertain, produceErrs atomic.Int64
	txns, abortedTxns, uncertainTxns                  atomic.Int64
}

// Result summarises a run. Events = Acked + Aborted + Uncertain.
type Result struct {
	ProducerID    string        `json:"producer"`
	Topic         string        `json:"topic"`
	SchemaID      int           `json:"schema_id"`
	Events        int64         `json:"events"`
	Acked         int64         `json:"acked"`
	Aborted       int64         `json:"aborted"`
	Uncertain     int64         `json:"uncertain"`
	ProduceErrors int64         `json:"produce_errors"`
	Transactions  int64         `json:"transactions"`
	AbortedTxns   int64         `json:"aborted_transactions"`
	UncertainTxns int64         `json:"uncertain_transactions"`
	Elapsed       time.Duration `json:"elapsed_ns"`
}

// Rate returns the events per second of the run.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// New validates opts and returns a Producer.
func New(opts ...Opt) (*Producer, error) {
	c := cfg{
		keys:        100,
		payloadSize: 100,
		idempotent:  true,
		replicas:    -1,
		txnTimeout:  60 * time.Second,
		progress:    5 * time.Second,
		logger:      slog.Default(),
	}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.producerID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.producerID = "p-" + hex.EncodeToString(b[:])
	}
	if c.subject == "" {
		c.subject = c.topic + "-value"
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Producer{c: c, kgoLog: &kgoLogger{l: c.logger}}, nil
}

func (c *cfg) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case len(c.brokers) == 0:
		return bad("no brokers")
	case c.topic == "":
		return bad("no topic")
	case c.events < 0:
		return bad("events %d < 0", c.events)
	case c.duration < 0:
		return bad("duration %s < 0", c.duration)
	case c.events == 0 && c.duration == 0:
		return bad("need an event count or a duration, or both")
	case c.rate < 0:
		return bad("rate %g < 0", c.rate)
	case c.keys < 1 || c.keys > 10_000_000:
		return bad("keys %d not in [1, 10000000]", c.keys)
	case c.payloadSize < 0 || c.payloadSize > 16<<20:
		return bad("payload size %d not in [0, 16 MiB]", c.payloadSize)
	case c.createTopic && c.partitions < 1:
		return bad("partitions %d < 1", c.partitions)
	case c.txnID != "" && c.txnSize < 1:
		return bad("transaction size %d < 1", c.txnSize)
	case c.abortFraction < 0 || c.abortFraction > 1:
		return bad("abort fraction %g not in [0, 1]", c.abortFraction)
	case c.abortFraction > 0 && c.txnID == "":
		return bad("aborting transactions needs a transactional id")
	case c.txnID != "" && !c.idempotent:
		return bad("transactions need the idempotent producer")
	case (c.schema == nil) != (c.registrar == nil):
		return bad("schema and registrar go together")
	}
	return nil
}

// Run produces the workload. It returns when the event count or duration is reached,
// or ctx is done (then it stops sending, settles what is in flight and returns
// normally: an interrupted run still has a complete ledger). Errors are for runs that
// could not start or whose ledger could not be written.
func (p *Producer) Run(ctx context.Context) (Result, error) {
	c := &p.c
	start := time.Now()
	res := Result{ProducerID: c.producerID, Topic: c.topic}

	if c.schema == nil {
		src, err := event.DefaultSource()
		if err != nil {
			return res, err
		}
		s, err := event.SchemaV1()
		if err != nil {
			return res, err
		}
		c.registrar, c.schema = src, s
	}
	schemaID, err := c.registrar.IDFor(ctx, c.subject, c.schema)
	if err != nil {
		return res, fmt.Errorf("schema id for subject %s: %w", c.subject, err)
	}
	res.SchemaID = schemaID

	cl, err := p.newClient()
	if err != nil {
		return res, err
	}
	defer func() { cl.Close() }()

	if c.createTopic {
		if err := p.ensureTopic(ctx, cl); err != nil {
			return res, err
		}
	}

	var ledger *event.LedgerWriter
	if c.ledger != nil {
		ledger = event.NewLedgerWriter(c.ledger)
	}
	gen := newGenerator(c, event.NewEncoder(c.schema, schemaID))

	c.logger.Info("producing", "producer", c.producerID, "topic", c.topic, "schema_id", schemaID,
		"events", c.events, "duration", c.duration, "rate", c.rate, "keys", c.keys,
		"transactional_id", c.txnID, "txn_size", c.txnSize, "abort_fraction", c.abortFraction)

	done := make(chan struct{})
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	g.Go(func() error {
		p.logProgress(gctx, done, start)
		return nil
	})
	var runErr error
	if c.txnID != "" {
		runErr = p.runTransactions(ctx, &cl, gen, ledger, start)
	} else {
		runErr = p.runPlain(ctx, cl, gen, ledger, start)
	}
	close(done)
	_ = g.Wait()

	if ledger != nil {
		if err := ledger.Flush(); err != nil && runErr == nil {
			runErr = err
		}
	}
	res.Events = p.attempted.Load()
	res.Acked = p.acked.Load()
	res.Aborted = p.aborted.Load()
	res.Uncertain = p.uncertain.Load()
	res.ProduceErrors = p.produceErrs.Load()
	res.Transactions = p.txns.Load()
	res.AbortedTxns = p.abortedTxns.Load()
	res.UncertainTxns = p.uncertainTxns.Load()
	res.Elapsed = time.Since(start)
	c.logger.Info("summary", "producer", c.producerID, "topic", c.topic, "events", res.Events,
		"acked", res.Acked, "aborted", res.Aborted, "uncertain", res.Uncertain,
		"produce_errors", res.ProduceErrors, "transactions", res.Transactions,
		"aborted_transactions", res.AbortedTxns, "uncertain_transactions", res.UncertainTxns,
		"elapsed", res.Elapsed.Round(time.Millisecond), "rate", fmt.Sprintf("%.0f/s", res.Rate()))
	return res, runErr
}

func (p *Producer) newClient() (*kgo.Client, error) {
	c := &p.c
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.DefaultProduceTopic(c.topic),
		kgo.ProducerBatchMaxBytes(16 << 20),
		kgo.WithLogger(p.kgoLog),
	}
	if !c.idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if c.deliveryTimeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(c.deliveryTimeout))
	}
	if c.linger > 0 {
		opts = append(opts, kgo.ProducerLinger(c.linger))
	}
	if c.txnID != "" {
		opts = append(opts, kgo.TransactionalID(c.txnID), kgo.TransactionTimeout(c.txnTimeout))
	}
	opts = append(opts, c.kgoOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

func (p *Producer) ensureTopic(ctx context.Context, cl *kgo.Client) error {
	c := &p.c
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, c.partitions, c.replicas, nil, c.topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		c.logger.Info("created topic", "topic", c.topic, "partitions", c.partitions, "replicas", c.replicas)
	case errors.Is(err, kerr.TopicAlreadyExists):
		c.logger.Info("topic exists", "topic", c.topic)
	default:
		return fmt.Errorf("create topic %s: %w", c.topic, err)
	}
	return nil
}

func (p *Producer) logProgress(ctx context.Context, done <-chan struct{}, start time.Time) {
	t := time.NewTicker(p.c.progress)
	defer t.Stop()
	lastN, lastT := int64(0), start
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := p.attempted.Load()
			rate := float64(n-lastN) / now.Sub(lastT).Seconds()
			lastN, lastT = n, now
			p.c.logger.Info("progress", "producer", p.c.producerID, "events", n,
				"acked", p.acked.Load(), "aborted", p.aborted.Load(), "uncertain", p.uncertain.Load(),
				"produce_errors", p.produceErrs.Load(), "transactions", p.txns.Load(),
				"rate", fmt.Sprintf("%.0f/s", rate), "elapsed", now.Sub(start).Round(time.Second))
		}
	}
}

// stopper decides when to stop making events.
type stopper struct {
	events   int64
	deadline time.Time
}

func newStopper(c *cfg, start time.Time) stopper {
	s := stopper{events: c.events}
	if c.duration > 0 {
		s.deadline = start.Add(c.duration)
	}
	return s
}

func (s stopper) done(ctx context.Context, next int64) bool {
	if s.events > 0 && next >= s.events {
		return true
	}
	if !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
		return true
	}
	return ctx.Err() != nil
}

// pacer holds the send rate: event n is due at start + n/rate. It lets sends run up to
// a millisecond early, so high rates do not pay a timer per event.
type pacer struct {
	start time.Time
	rate  float64
}

func (pc pacer) wait(ctx context.Context, n int64) {
	if pc.rate <= 0 {
		return
	}
	due := pc.start.Add(time.Duration(float64(n) / pc.rate * float64(time.Second)))
	d := time.Until(due)
	if d <= time.Millisecond {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// generator makes the events of one producer.
type generator struct {
	producerID []byte
	id         string
	topic      string
	keys       []string
	keyBytes   [][]byte
	payload    []byte // 2*size random bytes; event n uses payload[n%size:][:size]
	size       int
	enc        *event.Encoder
}

func newGenerator(c *cfg, enc *event.Encoder) *generator {
	g := &generator{
		producerID: []byte(c.producerID),
		id:         c.producerID,
		topic:      c.topic,
		keys:       make([]string, c.keys),
		keyBytes:   make([][]byte, c.keys),
		payload:    make([]byte, 2*c.payloadSize),
		size:       c.payloadSize,
		enc:        enc,
	}
	for i := range g.keys {
		g.keys[i] = "key-" + strconv.Itoa(i)
		g.keyBytes[i] = []byte(g.keys[i])
	}
	_, _ = rand.Read(g.payload)
	return g
}

// record returns event seq as a record and the key's index.
func (g *generator) record(seq int64) (*kgo.Record, int, error) {
	k := int(seq % int64(len(g.keys)))
	off := 0
	if g.size > 0 {
		off = int(seq % int64(g.size))
	}
	ev := event.Event{
		ProducerID: g.id,
		Seq:        seq,
		Key:        g.keys[k],
		Time:       time.Now(),
		Type:       event.TypeFor(seq, len(g.keys)),
		Payload:    g.payload[off : off+g.size],
	}
	v, err := g.enc.Encode(&ev)
	if err != nil {
		return nil, k, err
	}
	return &kgo.Record{
		Key:   g.keyBytes[k],
		Value: v,
		Headers: []kgo.RecordHeader{
			{Key: event.HeaderProducer, Value: g.producerID},
			{Key: event.HeaderSeq, Value: strconv.AppendInt(nil, seq, 10)},
		},
	}, k, nil
}

func (g *generator) entry(seq int64, k int, st event.Status) event.Entry {
	return event.Entry{Producer: g.id, Seq: seq, Key: g.keys[k], Status: st, Topic: g.topic, Partition: -1, Offset: -1, Txn: -1}
}
