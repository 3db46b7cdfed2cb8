package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/bridge"
	"github.com/airlock-kafka/airlock/bridge/bridgetest"
	"github.com/airlock-kafka/airlock/internal/provenance"
)

func TestCleanRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string
		mode   bridge.Mode
		coord  bridge.Coordination
	}{
		{"exactly-once identity static", "", bridge.ExactlyOnce, bridge.StaticCoordination},
		{"exactly-once prefix group", "src.", bridge.ExactlyOnce, bridge.GroupCoordination},
		{"at-least-once", "copy.", bridge.AtLeastOnce, bridge.StaticCoordination},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, map[string]int32{"orders": 4, "payments": 2}, tc.prefix)
			e.produce(300)
			reg := prometheus.NewRegistry()
			r := start(t, e.opts("clean", bridge.WithMode(tc.mode), bridge.WithCoordination(tc.coord), bridge.WithRegistry(reg))...)
			src := e.source()
			e.waitCommitted("clean", src, nil, 30*time.Second)

			// More events while running: copied too.
			e.produce(50)
			src = e.source()
			e.waitCommitted("clean", src, nil, 30*time.Second)
			if err := r.stop(t); err != nil {
				t.Fatalf("run: %v", err)
			}
			reps := e.verify(src, nil)
			// The verdict of the exactly-once checker over the target, read
			// read_committed, against the producer's ledger (verify ran it
			// too; this pins what it must have seen).
			if rep := e.check(src, e.target()); rep.Stats.Acked != 6*350 || rep.Stats.Records != 6*350 {
				t.Errorf("checker saw %d acked events and %d target records, want %d each", rep.Stats.Acked, rep.Stats.Records, 6*350)
			}
			if got := reps["orders"].Copied; got != 4*350 {
				t.Errorf("orders copied %d, want %d", got, 4*350)
			}
			if got := metricValue(t, reg, "airlock_bridge_records_copied_total", "orders"); got != 4*350 {
				t.Errorf("records_copied_total{orders} = %v, want %d", got, 4*350)
			}
			if got := metricValue(t, reg, "airlock_bridge_transactions_total", "committed"); got < 2 {
				t.Errorf("transactions committed = %v, want several", got)
			}
			checkpoints(t, e, "clean")
		})
	}
}

// metricValue returns the value of the counter series of name that has a
// label with value label (any label when label is ""), or 0 without one.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if label == "" || l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
			if label == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0 // a labelled counter never incremented has no series
}

// checkpoints checks the checkpoint topic: every record decodes, and the
// last one per partition maps a source offset to a target offset.
func checkpoints(t *testing.T, e *env, name string) {
	t.Helper()
	topic := "airlock-bridge." + name + ".checkpoints"
	got, err := bridgetest.ReadAll(context.Background(), e.dst.ListenAddrs(), 10*time.Second, topic)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range got[topic] {
		for _, r := range p {
			cp, err := bridge.UnmarshalCheckpoint(r.Value)
			if err != nil {
				t.Fatalf("checkpoint at %d: %v", r.Offset, err)
			}
			if cp.Bridge != name || cp.SourceCluster != "source-cluster" || len(cp.Partitions) == 0 {
				t.Fatalf("checkpoint %+v", cp)
			}
			for _, p := range cp.Partitions {
				if p.SourceOffset <= 0 || p.TargetTopic != e.prefix+p.SourceTopic {
					t.Fatalf("checkpoint partition %+v", p)
				}
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no checkpoint records")
	}
}

func TestSourceTransactionsAborted(t *testing.T) {
	e := newEnv(t, map[string]int32{"events": 2}, "")
	ctx := context.Background()
	txn := bridgetest.Client(t, e.src, kgo.TransactionalID("source-producer"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	// Alternate committed and aborted source transactions, so the log is
	// full of aborted batches and control records (offset gaps).
	for i := range 20 {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		commit := i%2 == 0
		for p := range int32(2) {
			for j := range 5 {
				v := "committed"
				if !commit {
					v = "aborted"
				}
				txn.Produce(ctx, &kgo.Record{Topic: "events", Partition: p, Value: []byte(v), Key: []byte{byte(i), byte(j)}}, nil)
			}
		}
		if err := txn.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, e.opts("aborts", bridge.TxnMaxRecords(7))...)
	src := e.source()
	if n := src["events"].Count(); n != 100 {
		t.Fatalf("source read_committed has %d records, want 100", n)
	}
	e.waitCommitted("aborts", src, nil, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// Restart over the same log: resuming across control records copies
	// nothing again.
	r = start(t, e.opts("aborts")...)
	e.waitCommitted("aborts", src, nil, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.verify(src, nil)
	dst, err := bridgetest.ReadAll(ctx, e.dst.ListenAddrs(), 10*time.Second, "events")
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range dst["events"] {
		for _, r := range rs {
			if string(r.Value) != "committed" {
				t.Fatalf("aborted source record reached the target at offset %d", r.Offset)
			}
		}
	}
}

// rejectBad dead-letters values starting with "bad" and upper-cases the
// rest, so re-encoding is checked too.
type rejectBad struct{}

func (rejectBad) Validate(_ context.Context, _ string, v []byte) ([]byte, error) {
	if strings.HasPrefix(string(v), "bad") {
		return nil, errors.New("not valid: starts with bad")
	}
	return []byte(strings.ToUpper(string(v))), nil
}

func TestDeadLetter(t *testing.T) {
	e := newEnv(t, map[string]int32{"avro": 3}, "")
	ctx := context.Background()
	var rs []*kgo.Record
	for i := range 90 {
		v := "good"
		if i%10 == 3 {
			v = "bad"
		}
		rs = append(rs, &kgo.Record{Topic: "avro", Partition: int32(i % 3), Value: []byte(v)})
	}
	if err := e.srcCl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Crash (no graceful commit) just before the third EndTxn: that
	// transaction's dead letters are abandoned with it and must be written
	// again, once, by the restarted bridge.
	crashCtx, crash := context.WithCancel(ctx)
	defer crash()
	var ends atomic.Int64
	b, err := bridge.New(e.opts("dlq", bridge.WithValidator(rejectBad{}), bridge.TxnMaxRecords(10), bridge.Tasks(1),
		bridge.ShutdownTimeout(0),
		bridge.WithHook(func(_ context.Context, _ int, p bridge.HookPoint) {
			if p == bridge.HookBeforeEndTxn && ends.Add(1) == 3 {
				crash()
			}
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(crashCtx); err != nil {
		t.Fatal(err)
	}
	if ends.Load() < 3 {
		t.Fatalf("the crash point was not reached (%d EndTxn)", ends.Load())
	}
	src := e.source()
	isBad := func(r *kgo.Record) bool { return string(r.Value) == "bad" }
	reg := prometheus.NewRegistry()
	r := start(t, e.opts("dlq", bridge.WithValidator(rejectBad{}), bridge.WithRegistry(reg))...)
	e.waitCommitted("dlq", src, isBad, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, reg, "airlock_bridge_dlq_records_total", "avro"); got < 1 || got > 9 {
		t.Errorf("dlq_records_total after restart = %v, want 1..9", got)
	}

	dst, err := bridgetest.ReadAll(ctx, e.dst.ListenAddrs(), 10*time.Second, "avro", "airlock-bridge.dlq.dlq")
	if err != nil {
		t.Fatal(err)
	}
	rep := bridgetest.Verify(src["avro"], dst["avro"], "source-cluster", "avro", isBad, func(v []byte) []byte { return []byte(strings.ToUpper(string(v))) })
	if !rep.OK() || rep.Copied != 81 {
		t.Errorf("good records: %s", rep)
	}
	dlq := dst["airlock-bridge.dlq.dlq"]
	if dlq.Count() != 9 {
		t.Fatalf("dead-letter topic holds %d records, want 9 (once each)", dlq.Count())
	}
	seen := map[string]bool{}
	for _, p := range dlq {
		for _, r := range p {
			prov, ok := provenance.FromHeaders(r.Headers)
			if !ok || prov.Topic != "avro" || seen[fmt.Sprint(prov.Partition, "/", prov.Offset)] {
				t.Fatalf("dead letter without unique provenance: %+v", prov)
			}
			seen[fmt.Sprint(prov.Partition, "/", prov.Offset)] = true
			hs := map[string]string{}
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
			if hs[bridge.HeaderDLQReason] != "not valid: starts with bad" || hs[bridge.HeaderDLQTargetTopic] != "avro" || string(r.Value) != "bad" {
				t.Fatalf("dead letter %q headers %v", r.Value, hs)
			}
		}
	}
}

func TestCycleRecordsSkipped(t *testing.T) {
	e := newEnv(t, map[string]int32{"mixed": 1}, "")
	ctx := context.Background()
	// Records already copied out of the target (their provenance names
	// it) must not be copied back.
	var rs []*kgo.Record
	for i := range 20 {
		r := &kgo.Record{Topic: "mixed", Value: bridgetest.Event("mixed", 0, i)}
		if i%4 == 0 {
			r.Headers = []kgo.RecordHeader{{Key: "airlock.source.cluster", Value: []byte("target-cluster")}}
		}
		rs = append(rs, r)
	}
	if err := e.srcCl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r := start(t, e.opts("cycle", bridge.WithRegistry(reg))...)
	src := e.source()
	fromTarget := func(r *kgo.Record) bool { return len(r.Headers) > 0 }
	e.waitCommitted("cycle", src, fromTarget, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	rep := e.verify(src, fromTarget)["mixed"]
	if rep.Copied != 15 {
		t.Errorf("copied %d, want 15", rep.Copied)
	}
	if skipped := metricValue(t, reg, "airlock_bridge_records_skipped_total", "cycle"); skipped != 5 {
		t.Errorf("records_skipped_total = %v, want 5", skipped)
	}
}

func TestHealthAndMetricsEndpoints(t *testing.T) {
	e := newEnv(t, map[string]int32{"h": 1}, "")
	e.produce(10)
	r := start(t, e.opts("health")...)
	srv := httptest.NewServer(r.b.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	eventually(t, 10*time.Second, "ready", func() (bool, string) {
		code, body := get("/readyz")
		return code == http.StatusOK, body
	})
	e.waitCommitted("health", e.source(), nil, 20*time.Second)
	eventually(t, 5*time.Second, "lag metrics", func() (bool, string) {
		_, body := get("/metrics")
		return strings.Contains(body, `airlock_bridge_replication_lag_records{partition="0",topic="h"} 0`) &&
			strings.Contains(body, "airlock_bridge_transaction_duration_seconds_bucket"), body
	})
	_ = r.stop(t)
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after stop: %d, want 503", code)
	}
}

// TestDiscovery grows a source topic and creates a new one matching the
// include regex while the bridge runs: the target grows and gains the topic,
// and the new partitions are copied like the old ones.
func TestDiscovery(t *testing.T) {
	e := newEnv(t, map[string]int32{"grow.a": 2}, "")
	e.produce(20)
	r := start(t, e.opts("disc",
		bridge.IncludeRegex(`grow\..*`),
		bridge.DiscoveryInterval(100*time.Millisecond),
	)...)
	e.waitCommitted("disc", e.source(), nil, 20*time.Second)

	adm := kadm.NewClient(e.srcCl)
	ctx := context.Background()
	if _, err := adm.UpdatePartitions(ctx, 4, "grow.a"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 3, -1, nil, "grow.b"); err != nil {
		t.Fatal(err)
	}
	e.topics = map[string]int32{"grow.a": 4, "grow.b": 3}
	prod := bridgetest.Client(t, e.src) // fresh metadata: knows the new partitions
	for topic, parts := range e.topics {
		if _, err := e.events.Produce(ctx, prod, topic, parts, 10); err != nil {
			t.Fatal(err)
		}
	}
	src := e.source()
	e.waitCommitted("disc", src, nil, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	tds, err := kadm.NewClient(bridgetest.Client(t, e.dst)).ListTopics(ctx, "grow.a", "grow.b") // fresh metadata
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tds["grow.a"].Partitions); n != 4 {
		t.Errorf("target grow.a has %d partitions, want 4", n)
	}
	if n := len(tds["grow.b"].Partitions); n != 3 {
		t.Errorf("target grow.b has %d partitions, want 3", n)
	}
	e.verify(src, nil)
}
