package bridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/bridge"
	"github.com/airlock-kafka/airlock/bridge/bridgetest"
	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/event"
)

// env is a source and a target cluster with topics to copy.
type env struct {
	t        *testing.T
	src, dst *kfake.Cluster
	srcCl    *kgo.Client
	dstCl    *kgo.Client
	dstAdm   *kadm.Client
	topics   map[string]int32 // source topic -> partitions
	prefix   string           // rename prefix
	events   *bridgetest.EventProducer
}

func newEnv(t *testing.T, topics map[string]int32, prefix string, dstOpts ...kfake.Opt) *env {
	t.Helper()
	return newEnvOpts(t, topics, prefix, nil, dstOpts...)
}

// newEnvOpts is newEnv with options for the source cluster too.
func newEnvOpts(t *testing.T, topics map[string]int32, prefix string, srcOpts []kfake.Opt, dstOpts ...kfake.Opt) *env {
	t.Helper()
	ev, err := bridgetest.NewEventProducer("p-" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, topics: topics, prefix: prefix, events: ev}
	var seeds []kfake.Opt
	for name, parts := range topics {
		seeds = append(seeds, kfake.SeedTopics(parts, name))
	}
	e.src = bridgetest.NewCluster(t, "source-cluster", append(seeds, srcOpts...)...)
	e.dst = bridgetest.NewCluster(t, "target-cluster", dstOpts...)
	e.srcCl = bridgetest.Client(t, e.src)
	e.dstCl = bridgetest.Client(t, e.dst)
	e.dstAdm = kadm.NewClient(e.dstCl)
	return e
}

// opts are the bridge options every test starts from: fast transactions,
// quick retries, verbose logs only when asked.
func (e *env) opts(name string, more ...bridge.Opt) []bridge.Opt {
	level := slog.LevelError
	if os.Getenv("BRIDGE_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	var topics []string
	for name := range e.topics {
		topics = append(topics, name)
	}
	return append([]bridge.Opt{
		bridge.Name(name),
		bridge.SourceBrokers(e.src.ListenAddrs()...),
		bridge.TargetBrokers(e.dst.ListenAddrs()...),
		bridge.Topics(topics...),
		bridge.Rename(e.prefix),
		bridge.Tasks(3),
		bridge.WithCoordination(bridge.StaticCoordination),
		bridge.TxnInterval(40 * time.Millisecond),
		bridge.TxnMaxRecords(150),
		bridge.TxnTimeout(10 * time.Second),
		bridge.RetryBackoff(20*time.Millisecond, 200*time.Millisecond, 500*time.Millisecond),
		bridge.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))),
	}, more...)
}

// produce writes n workload events (Avro, ledgered) per partition of every
// topic.
func (e *env) produce(n int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for topic, parts := range e.topics {
		if _, err := e.events.Produce(ctx, e.srcCl, topic, parts, n); err != nil {
			e.t.Fatal(err)
		}
	}
}

// running is a bridge running in the background.
type running struct {
	b        *bridge.Bridge
	cancel   context.CancelFunc
	finished chan struct{} // closed when Run returned
	err      error         // Run's result, valid after finished
}

func start(t *testing.T, opts ...bridge.Opt) *running {
	t.Helper()
	b, err := bridge.New(opts...)
	if err != nil {
		t.Fatalf("new bridge: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{b: b, cancel: cancel, finished: make(chan struct{})}
	go func() {
		r.err = b.Run(ctx)
		if r.err != nil {
			t.Logf("bridge run ended: %v", r.err)
		}
		close(r.finished)
	}()
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

// stop cancels the bridge and returns Run's error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.finished:
		return r.err
	case <-time.After(30 * time.Second):
		t.Fatal("bridge did not stop within 30s")
		return nil
	}
}

// exited reports whether Run returned on its own.
func (r *running) exited() bool {
	select {
	case <-r.finished:
		return true
	default:
		return false
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for an event
	}
	t.Fatalf("timed out after %s waiting for %s (last: %s)", timeout, what, last)
}

// source reads every source topic.
func (e *env) source() map[string]bridgetest.Records {
	e.t.Helper()
	var topics []string
	for name := range e.topics {
		topics = append(topics, name)
	}
	got, err := bridgetest.ReadAll(context.Background(), e.src.ListenAddrs(), 20*time.Second, topics...)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// waitCommitted waits until the offsets group holds, for every source
// partition, a position past its last record.
func (e *env) waitCommitted(name string, src map[string]bridgetest.Records, skip func(*kgo.Record) bool, timeout time.Duration) {
	e.t.Helper()
	eventually(e.t, timeout, "offsets committed past the last source record", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		offs, err := e.dstAdm.FetchOffsets(kadm.RequireStable(ctx), "airlock-bridge."+name)
		if err != nil {
			return false, err.Error()
		}
		for topic, rs := range src {
			for p, recs := range rs {
				if len(recs) == 0 {
					continue
				}
				want := recs[len(recs)-1].Offset + 1
				o, ok := offs.Lookup(e.prefix+topic, p)
				if !ok || o.At < want {
					return false, fmt.Sprintf("%s/%d at %d, want %d", topic, p, o.At, want)
				}
			}
		}
		return true, ""
	})
}

// verify reads the target and checks every topic with bridgetest.Verify
// (a faithful copy of every source record) and, when the test produced
// ledgered events, with the exactly-once checker too.
func (e *env) verify(src map[string]bridgetest.Records, skip func(*kgo.Record) bool) map[string]bridgetest.Report {
	e.t.Helper()
	dst := e.target()
	out := map[string]bridgetest.Report{}
	for name := range e.topics {
		rep := bridgetest.Verify(src[name], dst[e.prefix+name], "source-cluster", name, skip, nil)
		out[name] = rep
		if !rep.OK() {
			e.t.Errorf("topic %s: %s", name, rep)
		}
	}
	if len(e.events.Ledger().Entries) > 0 {
		e.check(src, dst)
	}
	return out
}

// target reads every target topic.
func (e *env) target() map[string]bridgetest.Records {
	e.t.Helper()
	var targets []string
	for name := range e.topics {
		targets = append(targets, e.prefix+name)
	}
	dst, err := bridgetest.ReadAll(context.Background(), e.dst.ListenAddrs(), 20*time.Second, targets...)
	if err != nil {
		e.t.Fatal(err)
	}
	return dst
}

// check runs consumer.Check over the target against the events' ledger and
// fails the test on any anomaly; provenance is verified against the source.
func (e *env) check(src, dst map[string]bridgetest.Records) consumer.Report {
	e.t.Helper()
	schemas, err := event.DefaultSource()
	if err != nil {
		e.t.Fatal(err)
	}
	rep := bridgetest.CheckEvents(context.Background(), schemas, []event.Ledger{e.events.Ledger()}, "source-cluster",
		src, dst, func(topic string) string { return e.prefix + topic })
	assertClean(e.t, rep)
	return rep
}

// assertClean fails t unless rep is a clean exactly-once verdict in which
// every acknowledged event was seen and every record's provenance verified.
func assertClean(t *testing.T, rep consumer.Report) {
	t.Helper()
	st := rep.Stats
	if !rep.OK || st.AckedSeen != st.Acked || st.Acked == 0 || !st.ProvenanceLookup || st.ProvenanceOK != st.Records {
		var b strings.Builder
		_ = rep.WriteTable(&b)
		t.Errorf("exactly-once check failed:\n%s", b.String())
	}
}
