package producer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/event"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// failEveryNthProduce answers every nth produce request with UNKNOWN_SERVER_ERROR for
// every partition, without writing anything: the records of that request are not in
// the log, and franz-go fails them (non-retriable), so they must be ledgered uncertain.
func failEveryNthProduce(c *kfake.Cluster, n int64) *atomic.Int64 {
	var seen, failed atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if seen.Add(1)%n != 0 {
			return nil, nil, false
		}
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			st.TopicID = rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.UnknownServerError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		failed.Add(1)
		return resp, nil, true
	})
	return &failed
}

// run produces with opts and returns the result and the parsed ledger.
func run(t *testing.T, c *kfake.Cluster, opts ...Opt) (Result, event.Ledger) {
	t.Helper()
	var ledger bytes.Buffer
	p, err := New(append([]Opt{Brokers(c.ListenAddrs()...), Ledger(&ledger), Logger(quiet()), Linger(time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := p.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("result %+v", res)
	l, err := event.ReadLedger("ledger", &ledger)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(l.Entries)) != res.Events || res.Events != res.Acked+res.Aborted+res.Uncertain {
		t.Fatalf("ledger has %d entries; result %+v", len(l.Entries), res)
	}
	return res, l
}

// readAll consumes the topic read_committed until expect records (and a settle time).
func readAll(t *testing.T, c *kfake.Cluster, topic string, expect int64) consumer.Consumed {
	t.Helper()
	got, err := consumer.Consume(context.Background(), consumer.Brokers(c.ListenAddrs()...), consumer.Topics(topic),
		consumer.Expect(expect), consumer.Settle(300*time.Millisecond), consumer.IdleTimeout(3*time.Second),
		consumer.Deadline(time.Minute), consumer.Logger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// check runs the checker on what was read, leaving out the warm-up producer's record
// (it made the topic before faults were installed and has no ledger here).
func check(l event.Ledger, got consumer.Consumed) consumer.Report {
	var records []consumer.Observed
	for _, o := range got.Records {
		if o.ID.Producer != "warmup" {
			records = append(records, o)
		}
	}
	return consumer.Check(context.Background(), []event.Ledger{l}, records)
}

func statuses(l event.Ledger) map[event.Status]int {
	m := map[event.Status]int{}
	for _, e := range l.Entries {
		m[e.Status]++
	}
	return m
}

// assertAckedAtOffsets checks every acked entry is in the topic at the ledgered offset,
// and no uncertain one was seen (the faults never write).
func assertAckedAtOffsets(t *testing.T, l event.Ledger, got consumer.Consumed) {
	t.Helper()
	at := map[event.ID]consumer.Observed{}
	for _, o := range got.Records {
		at[o.ID] = o
	}
	for _, e := range l.Entries {
		o, seen := at[e.ID()]
		switch e.Status {
		case event.StatusAcked:
			if !seen || o.Partition != e.Partition || o.Offset != e.Offset {
				t.Fatalf("acked %s at %d@%d: seen %v at %d@%d", e.ID(), e.Partition, e.Offset, seen, o.Partition, o.Offset)
			}
		case event.StatusAborted, event.StatusUncertain:
			if seen {
				t.Fatalf("%s %s is visible at %s", e.Status, e.ID(), o.Where())
			}
		}
	}
}

func TestProduceIdempotent(t *testing.T) {
	c := newCluster(t)
	res, l := run(t, c, Topic("plain"), CreateTopic(4, -1), Events(500), Keys(7), PayloadSize(32), ProducerID("p-plain"))
	if res.Acked != 500 || res.Uncertain != 0 || res.SchemaID != 1 {
		t.Fatalf("result %+v", res)
	}
	for i, e := range l.Entries {
		if e.Producer != "p-plain" || e.Topic != "plain" || e.Txn != -1 {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	got := readAll(t, c, "plain", 500)
	rep := check(l, got)
	if !rep.OK || rep.Stats.AckedSeen != 500 {
		t.Fatalf("check failed: %+v", rep)
	}
	assertAckedAtOffsets(t, l, got)
	parts := map[int32]bool{}
	for _, e := range l.Entries {
		parts[e.Partition] = true
	}
	if len(parts) < 2 {
		t.Fatalf("7 keys landed in %d partition(s) of 4", len(parts))
	}
}

func TestProduceWithFailingBroker(t *testing.T) {
	c := newCluster(t)
	// Create the topic before the fault so the control only sees produce requests.
	_, _ = run(t, c, Topic("faulty"), CreateTopic(2, -1), Events(1), ProducerID("warmup"))
	failed := failEveryNthProduce(c, 3)
	res, l := run(t, c, Topic("faulty"), Events(400), Keys(10), ProducerID("p-faulty"), Rate(4000))
	if failed.Load() == 0 || res.Uncertain == 0 || res.Acked == 0 {
		t.Fatalf("faults %d, result %+v: want some uncertain and some acked", failed.Load(), res)
	}
	if st := statuses(l); st[event.StatusUncertain] != int(res.Uncertain) || st[event.StatusAcked] != int(res.Acked) {
		t.Fatalf("ledger statuses %v, result %+v", st, res)
	}
	for _, e := range l.Entries {
		if e.Status == event.StatusUncertain && e.Error == "" {
			t.Fatalf("uncertain entry without its error: %+v", e)
		}
	}
	got := readAll(t, c, "faulty", res.Acked+1)
	rep := check(l, got)
	if !rep.OK || rep.Stats.UncertainSeen != 0 || rep.Stats.AckedSeen != int(res.Acked) {
		t.Fatalf("check: %+v", rep)
	}
	assertAckedAtOffsets(t, l, got)
}

func TestProduceTransactional(t *testing.T) {
	for _, tc := range []struct {
		name        string
		faultEvery  int64
		wantAborted int64 // aborted transactions at least
	}{
		{name: "aborts on purpose", wantAborted: 6},
		{name: "aborts on purpose and on produce errors", faultEvery: 4, wantAborted: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			topic := "txn"
			_, _ = run(t, c, Topic(topic), CreateTopic(3, -1), Events(1), ProducerID("warmup"))
			if tc.faultEvery > 0 {
				failEveryNthProduce(c, tc.faultEvery)
			}
			res, l := run(t, c, Topic(topic), Events(200), Keys(5), ProducerID("p-txn"),
				Transactional("airlock-test", 10, 0.3))
			if res.Transactions != 20 || res.AbortedTxns < tc.wantAborted || res.Acked == 0 {
				t.Fatalf("result %+v", res)
			}
			if tc.faultEvery > 0 && res.ProduceErrors == 0 {
				t.Fatalf("faults did not fail any record: %+v", res)
			}
			if res.Aborted != res.AbortedTxns*10 {
				t.Fatalf("aborted events %d, aborted transactions %d of 10", res.Aborted, res.AbortedTxns)
			}
			got := readAll(t, c, topic, res.Acked+1)
			rep := check(l, got)
			if !rep.OK || rep.Stats.AckedSeen != int(res.Acked) {
				t.Fatalf("check: %+v", rep)
			}
			assertAckedAtOffsets(t, l, got)
			for _, e := range l.Entries {
				if e.Txn != e.Seq/10 {
					t.Fatalf("entry %+v in the wrong transaction", e)
				}
			}
		})
	}
}

func TestProduceCommitOutcomeUnknown(t *testing.T) {
	c := newCluster(t)
	_, _ = run(t, c, Topic("commit"), CreateTopic(1, -1), Events(1), ProducerID("warmup"))
	// Fail the second commit with UNKNOWN_SERVER_ERROR without committing: franz-go
	// cannot know the outcome, so its events are uncertain; the abort that follows
	// bumps the epoch and the broker aborts the open transaction.
	var commits atomic.Int64
	c.ControlKey(int16(kmsg.EndTxn), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.EndTxnRequest)
		if !req.Commit || commits.Add(1) != 2 {
			c.KeepControl()
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nil, true
	})
	res, l := run(t, c, Topic("commit"), Events(40), ProducerID("p-commit"), Transactional("airlock-commit", 10, 0))
	if res.UncertainTxns != 1 || res.Uncertain != 10 || res.Acked+res.Aborted != 30 {
		t.Fatalf("result %+v", res)
	}
	for _, e := range l.Entries {
		if (e.Txn == 1) != (e.Status == event.StatusUncertain) {
			t.Fatalf("entry %+v: want exactly transaction 1 uncertain", e)
		}
	}
	got := readAll(t, c, "commit", res.Acked+1)
	rep := check(l, got)
	if !rep.OK || rep.Stats.UncertainUnseen != 10 {
		t.Fatalf("check: %+v", rep)
	}
}

func TestProduceDurationAndRate(t *testing.T) {
	c := newCluster(t)
	res, _ := run(t, c, Topic("timed"), CreateTopic(1, -1), Duration(300*time.Millisecond), Rate(100), ProducerID("p-timed"))
	// 100/s for 0.3 s: the rate limit must hold it far below an unthrottled run.
	if res.Events == 0 || res.Events > 60 || res.Acked != res.Events {
		t.Fatalf("result %+v", res)
	}
}

func TestProduceInterrupted(t *testing.T) {
	c := newCluster(t)
	var ledger bytes.Buffer
	p, err := New(Brokers(c.ListenAddrs()...), Topic("intr"), CreateTopic(1, -1), Duration(time.Minute), Rate(50),
		Ledger(&ledger), Logger(quiet()), Transactional("intr", 7, 0), ProducerID("p-intr"))
	if err != nil {
		t.Fatal(err)
	}
	// The interrupt lands in the middle of some transaction, which must be aborted
	// and ledgered so; Run must return normally with a complete ledger.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := p.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := event.ReadLedger("ledger", &ledger)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events == 0 || int64(len(l.Entries)) != res.Events || res.Events != res.Acked+res.Aborted+res.Uncertain {
		t.Fatalf("result %+v, %d ledger entries", res, len(l.Entries))
	}
	rep := check(l, readAll(t, c, "intr", res.Acked))
	if !rep.OK {
		t.Fatalf("check: %+v", rep)
	}
}

func TestKgoLoggerSeesSilentAbort(t *testing.T) {
	var buf bytes.Buffer
	k := &kgoLogger{l: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	for _, tc := range []struct {
		level  kgo.LogLevel
		msg    string
		aborts int64
		logged bool
	}{
		{kgo.LogLevelInfo, "ending transaction", 0, false},
		{kgo.LogLevelWarn, "produce request failed", 0, true},
		{kgo.LogLevelInfo, "no produce succeeded in this transaction but produces were attempted; issuing an abort", 1, false},
	} {
		buf.Reset()
		k.Log(tc.level, tc.msg, "k", "v")
		if got := k.silentAborts.Load(); got != tc.aborts {
			t.Fatalf("%q: silent aborts %d, want %d", tc.msg, got, tc.aborts)
		}
		if logged := strings.Contains(buf.String(), tc.msg); logged != tc.logged {
			t.Fatalf("%q: forwarded %v, want %v", tc.msg, logged, tc.logged)
		}
	}
}

func TestNewValidates(t *testing.T) {
	base := []Opt{Brokers("x:1"), Topic("t"), Events(1)}
	for _, tc := range []struct {
		name string
		opts []Opt
		ok   bool
	}{
		{"minimal", nil, true},
		{"no brokers", []Opt{Topic("t"), Events(1)}, false},
		{"no stop", []Opt{Brokers("x:1"), Topic("t")}, false},
		{"negative rate", []Opt{Rate(-1)}, false},
		{"zero keys", []Opt{Keys(0)}, false},
		{"abort without txn", []Opt{Transactional("", 0, 0.5)}, false},
		{"txn size 0", []Opt{Transactional("x", 0, 0)}, false},
		{"abort fraction above 1", []Opt{Transactional("x", 10, 1.5)}, false},
		{"txn without idempotence", []Opt{Transactional("x", 10, 0), Idempotent(false)}, false},
		{"create with 0 partitions", []Opt{CreateTopic(0, -1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if tc.name != "no brokers" && tc.name != "no stop" {
				opts = append(append([]Opt{}, base...), tc.opts...)
			}
			_, err := New(opts...)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestShouldAbort(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		n    int64
		want int
	}{
		{0, 100, 0},
		{0.25, 100, 25},
		{0.3, 20, 6},
		{1, 10, 10},
	} {
		got := 0
		for i := range tc.n {
			if shouldAbort(i, tc.f) {
				got++
			}
		}
		if got != tc.want {
			t.Errorf("f=%g over %d: %d aborts, want %d", tc.f, tc.n, got, tc.want)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	c := cfg{producerID: "p-bench", topic: "t", keys: 1000, payloadSize: 100}
	s, err := event.SchemaV1()
	if err != nil {
		b.Fatal(err)
	}
	g := newGenerator(&c, event.NewEncoder(s, 1))
	b.ReportAllocs()
	var seq int64
	for b.Loop() {
		if _, _, err := g.record(seq); err != nil {
			b.Fatal(err)
		}
		seq++
	}
}
