// Package consumer is airlock-consumer's engine and the exactly-once checker.
//
// Consume reads topics read_committed from the start, validating every record's Avro
// (Observe), until it has seen enough, went idle, or hit a deadline. Check compares
// what was observed with the producers' ledgers and reports every anomaly class with
// examples. Check is a library function so the bridge's tests and the testbed can run
// it in-process on records they consumed themselves.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/schema"
)

// Opt configures Consume.
type Opt interface{ apply(*consumeCfg) }

type consumeOpt func(*consumeCfg)

func (o consumeOpt) apply(c *consumeCfg) { o(c) }

type consumeCfg struct {
	brokers  []string
	kgoOpts  []kgo.Opt
	topics   []string
	src      schema.Source
	expect   int64
	idle     time.Duration
	settle   time.Duration
	deadline time.Duration
	logger   *slog.Logger
	progress time.Duration
}

// Brokers sets the seed brokers. Required.
func Brokers(addrs ...string) Opt {
	return consumeOpt(func(c *consumeCfg) { c.brokers = append(c.brokers, addrs...) })
}

// KgoOpts adds franz-go client options (TLS/SASL from clientsec).
func KgoOpts(opts ...kgo.Opt) Opt {
	return consumeOpt(func(c *consumeCfg) { c.kgoOpts = append(c.kgoOpts, opts...) })
}

// Topics sets the topics to read, all partitions from the start. Required.
func Topics(topics ...string) Opt {
	return consumeOpt(func(c *consumeCfg) { c.topics = append(c.topics, topics...) })
}

// SchemaSource sets where writer schemas come from, overriding event.DefaultSource().
func SchemaSource(src schema.Source) Opt {
	return consumeOpt(func(c *consumeCfg) { c.src = src })
}

// Expect stops once n records were read and then none arrived for the settle time
// (records after the expected ones are exactly the duplicates worth catching).
func Expect(n int64) Opt { return consumeOpt(func(c *consumeCfg) { c.expect = n }) }

// IdleTimeout stops when no record arrived for d, overriding 30s (0: never).
func IdleTimeout(d time.Duration) Opt { return consumeOpt(func(c *consumeCfg) { c.idle = d }) }

// Settle sets how long to keep reading after Expect is reached, overriding 1s.
func Settle(d time.Duration) Opt { return consumeOpt(func(c *consumeCfg) { c.settle = d }) }

// Deadline stops after d in total (0: no deadline).
func Deadline(d time.Duration) Opt { return consumeOpt(func(c *consumeCfg) { c.deadline = d }) }

// Logger sets the logger, overriding slog.Default().
func Logger(l *slog.Logger) Opt { return consumeOpt(func(c *consumeCfg) { c.logger = l }) }

// ProgressInterval sets how often progress is logged, overriding 5s.
func ProgressInterval(d time.Duration) Opt { return consumeOpt(func(c *consumeCfg) { c.progress = d }) }

// Stop reasons of a Consumed.
const (
	StopExpected    = "expected"
	StopIdle        = "idle"
	StopDeadline    = "deadline"
	StopInterrupted = "interrupted"
)

// Consumed is the outcome of Consume.
type Consumed struct {
	Records     []Observed    `json:"-"`
	Count       int64         `json:"records"`
	Undecodable int64         `json:"undecodable"`
	StopReason  string        `json:"stop_reason"`
	Elapsed     time.Duration `json:"elapsed_ns"`
}

// Consume reads the topics read_committed until Expect (+ settle), the idle timeout,
// the deadline or ctx ends it. The records are returned in the order read.
func Consume(ctx context.Context, opts ...Opt) (Consumed, error) {
	c := consumeCfg{idle: 30 * time.Second, settle: time.Second, logger: slog.Default(), progress: 5 * time.Second}
	for _, o := range opts {
		o.apply(&c)
	}
	switch {
	case len(c.brokers) == 0:
		return Consumed{}, fmt.Errorf("%w: no brokers", ErrConfig)
	case len(c.topics) == 0:
		return Consumed{}, fmt.Errorf("%w: no topics", ErrConfig)
	case c.expect <= 0 && c.idle <= 0 && c.deadline <= 0:
		return Consumed{}, fmt.Errorf("%w: need an expected count, an idle timeout or a deadline to stop", ErrConfig)
	}
	if c.src == nil {
		src, err := event.DefaultSource()
		if err != nil {
			return Consumed{}, err
		}
		c.src = src
	}

	start := time.Now()
	runCtx := ctx
	if c.deadline > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, start.Add(c.deadline))
		defer cancel()
	}

	assign, err := startOffsets(runCtx, &c)
	if err != nil {
		return Consumed{StopReason: stopReason(ctx)}, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.ConsumePartitions(assign),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(64 << 20),
	}, c.kgoOpts...)...)
	if err != nil {
		return Consumed{}, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()

	out := Consumed{}
	last, lastLog, lastLogN := start, start, int64(0)
	c.logger.Info("consuming", "topics", c.topics, "expect", c.expect, "idle_timeout", c.idle, "deadline", c.deadline)
	for {
		// Poll at most until the next reason to stop could be true, so an idle stop is
		// on time without a separate timer goroutine.
		window := c.idle
		if c.expect > 0 && out.Count >= c.expect {
			window = c.settle
		}
		if window <= 0 {
			window = time.Hour
		}
		wait := min(time.Until(last.Add(window)), time.Until(lastLog.Add(c.progress)))
		if c.progress <= 0 {
			wait = time.Until(last.Add(window))
		}
		pctx, cancel := context.WithTimeout(runCtx, max(wait, time.Millisecond))
		fetches := cl.PollRecords(pctx, 10_000)
		cancel()

		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			c.logger.Warn("fetch error", "topic", topic, "partition", partition, "err", err)
		})
		n := 0
		fetches.EachRecord(func(r *kgo.Record) {
			o := Observe(runCtx, c.src, r)
			if o.Err != "" {
				out.Undecodable++
			}
			out.Records = append(out.Records, o)
			n++
		})
		now := time.Now()
		if n > 0 {
			out.Count += int64(n)
			last = now
		}
		if c.progress > 0 && now.Sub(lastLog) >= c.progress {
			c.logger.Info("progress", "records", out.Count, "undecodable", out.Undecodable,
				"rate", fmt.Sprintf("%.0f/s", float64(out.Count-lastLogN)/now.Sub(lastLog).Seconds()))
			lastLog, lastLogN = now, out.Count
		}

		switch {
		case ctx.Err() != nil:
			out.StopReason = StopInterrupted
		case runCtx.Err() != nil:
			out.StopReason = StopDeadline
		case c.expect > 0 && out.Count >= c.expect && now.Sub(last) >= c.settle:
			out.StopReason = StopExpected
		case c.idle > 0 && now.Sub(last) >= c.idle && (c.expect <= 0 || out.Count < c.expect):
			out.StopReason = StopIdle
		default:
			continue
		}
		break
	}
	out.Elapsed = time.Since(start)
	c.logger.Info("consumed", "records", out.Count, "undecodable", out.Undecodable, "stop", out.StopReason, "elapsed", out.Elapsed.Round(time.Millisecond))
	return out, nil
}

// startOffsets lists the log start offset of every partition of the topics, waiting
// (up to the idle timeout) for topics that do not exist yet, so the consumer can
// start on exact offsets.
//
// Exact offsets rather than kgo's "at start": with franz-go v1.22.2, a partition
// whose start offset is resolved by kgo's own ListOffsets while the first fetch is
// being built can be left out of every later fetch (seen with two partitions under
// load; the checker then reports that partition's events lost).
func startOffsets(ctx context.Context, c *consumeCfg) (map[string]map[int32]kgo.Offset, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.brokers...)}, c.kgoOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	wait := c.idle
	if wait <= 0 {
		wait = 30 * time.Second
	}
	giveUp := time.Now().Add(wait)
	for {
		listed, err := adm.ListStartOffsets(ctx, c.topics...)
		if err == nil {
			err = listed.Error()
		}
		if err == nil {
			assign := map[string]map[int32]kgo.Offset{}
			listed.Each(func(o kadm.ListedOffset) {
				if assign[o.Topic] == nil {
					assign[o.Topic] = map[int32]kgo.Offset{}
				}
				assign[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
			})
			return assign, nil
		}
		if !time.Now().Before(giveUp) {
			return nil, fmt.Errorf("list start offsets of %v: %w", c.topics, err)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("list start offsets of %v: %w", c.topics, ctx.Err())
		case <-t.C:
		}
	}
}

func stopReason(ctx context.Context) string {
	if ctx.Err() != nil {
		return StopInterrupted
	}
	return StopDeadline
}
