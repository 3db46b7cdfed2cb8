package consumer

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/provenance"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newCluster(t *testing.T, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newClient(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// writer writes hand-made events to a topic and keeps the ledger a producer would.
type writer struct {
	t      *testing.T
	cl     *kgo.Client
	topic  string
	enc    *event.Encoder
	ledger event.Ledger
	n      int // records written (visible)
}

func newWriter(t *testing.T, cl *kgo.Client, topic string) *writer {
	s, err := event.SchemaV1()
	if err != nil {
		t.Fatal(err)
	}
	return &writer{t: t, cl: cl, topic: topic, enc: event.NewEncoder(s, 1), ledger: event.Ledger{Name: topic + ".jsonl"}}
}

func (w *writer) record(seq int64, partition int32) *kgo.Record {
	key := "key-" + string(rune('a'+seq%3))
	v, err := w.enc.Encode(&event.Event{ProducerID: "p1", Seq: seq, Key: key, Time: time.Now(), Type: event.TypeUpdate, Payload: []byte("x")})
	if err != nil {
		w.t.Fatal(err)
	}
	return &kgo.Record{Topic: w.topic, Partition: partition, Key: []byte(key), Value: v}
}

// send writes event seq to partition and ledgers it with status.
func (w *writer) send(seq int64, partition int32, st event.Status) {
	w.sendRaw(w.record(seq, partition))
	r := w.record(seq, partition)
	w.ledger.Entries = append(w.ledger.Entries, event.Entry{Producer: "p1", Seq: seq, Key: string(r.Key), Status: st, Topic: w.topic, Partition: partition, Offset: -1, Txn: -1})
}

// ledgerOnly ledgers seq without writing it.
func (w *writer) ledgerOnly(seq int64, st event.Status) {
	r := w.record(seq, 0)
	w.ledger.Entries = append(w.ledger.Entries, event.Entry{Producer: "p1", Seq: seq, Key: string(r.Key), Status: st, Topic: w.topic, Partition: -1, Offset: -1, Txn: -1})
}

func (w *writer) sendRaw(r *kgo.Record) {
	w.t.Helper()
	if err := w.cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		w.t.Fatal(err)
	}
	w.n++
}

func TestConsumeAndCheckAnomalies(t *testing.T) {
	topics := []string{"clean", "duplicate", "gap", "aborted", "reordered", "garbage", "txn-aborted"}
	c := newCluster(t, topics...)
	cl := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))

	for _, tc := range []struct {
		topic string
		write func(w *writer)
		want  map[Class]int
	}{
		{"clean", func(w *writer) {
			for i := range int64(6) {
				w.send(i, int32(i%2), event.StatusAcked)
			}
		}, nil},
		{"duplicate", func(w *writer) {
			for i := range int64(4) {
				w.send(i, 0, event.StatusAcked)
			}
			w.sendRaw(w.record(2, 0))
		}, map[Class]int{ClassDuplicate: 1}},
		{"gap", func(w *writer) {
			w.send(0, 0, event.StatusAcked)
			w.ledgerOnly(1, event.StatusAcked)
			w.send(2, 0, event.StatusAcked)
			w.ledgerOnly(3, event.StatusUncertain) // unseen uncertain is not lost
		}, map[Class]int{ClassLost: 1}},
		{"aborted", func(w *writer) {
			w.send(0, 0, event.StatusAcked)
			w.send(1, 0, event.StatusAborted) // visible although its transaction "aborted"
		}, map[Class]int{ClassAbortedRead: 1}},
		{"reordered", func(w *writer) {
			// Seq 6 and 3 (both key-a) swapped: one step back in the partition and
			// one in the key.
			for _, seq := range []int64{0, 1, 2, 6, 3} {
				w.send(seq, 1, event.StatusAcked)
			}
		}, map[Class]int{ClassOrderPartition: 1, ClassOrderKey: 1}},
		{"garbage", func(w *writer) {
			w.send(0, 0, event.StatusAcked)
			w.sendRaw(&kgo.Record{Topic: w.topic, Partition: 0, Value: []byte("garbage bytes")})
		}, map[Class]int{ClassUndecodable: 1}},
		{"txn-aborted", func(w *writer) {
			// A real aborted transaction: read_committed must not see it.
			txn := newClient(t, c, kgo.TransactionalID("txn-aborted"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err := txn.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := txn.ProduceSync(context.Background(), w.record(0, 0), w.record(1, 1)).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if err := txn.EndTransaction(context.Background(), kgo.TryAbort); err != nil {
				t.Fatal(err)
			}
			w.ledgerOnly(0, event.StatusAborted)
			w.ledgerOnly(1, event.StatusAborted)
			w.send(2, 0, event.StatusAcked)
		}, nil},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			w := newWriter(t, cl, tc.topic)
			tc.write(w)
			got, err := Consume(context.Background(), Brokers(c.ListenAddrs()...), Topics(tc.topic),
				Expect(int64(w.n)), Settle(200*time.Millisecond), IdleTimeout(10*time.Second), Deadline(30*time.Second), Logger(quiet()))
			if err != nil {
				t.Fatal(err)
			}
			if got.StopReason != StopExpected || got.Count != int64(w.n) {
				t.Fatalf("consumed %d records (stop %s), want %d", got.Count, got.StopReason, w.n)
			}
			rep := Check(context.Background(), []event.Ledger{w.ledger}, got.Records)
			for _, cl := range AllClasses() {
				if n := rep.Class(cl).Count; n != tc.want[cl] {
					t.Errorf("%s: count %d, want %d; examples %+v", cl, n, tc.want[cl], rep.Class(cl).Examples)
				}
				if n := rep.Class(cl).Count; n > 0 && len(rep.Class(cl).Examples) == 0 {
					t.Errorf("%s: no examples", cl)
				}
			}
			if rep.OK != (len(tc.want) == 0) {
				t.Errorf("OK = %v", rep.OK)
			}
		})
	}
}

func TestConsumeIdleAndDeadline(t *testing.T) {
	c := newCluster(t, "empty")
	for _, tc := range []struct {
		name string
		opts []Opt
		want string
	}{
		{"idle", []Opt{IdleTimeout(300 * time.Millisecond)}, StopIdle},
		{"deadline", []Opt{IdleTimeout(0), Deadline(300 * time.Millisecond)}, StopDeadline},
		{"expect never reached", []Opt{Expect(5), IdleTimeout(300 * time.Millisecond)}, StopIdle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Opt{Brokers(c.ListenAddrs()...), Topics("empty"), Logger(quiet())}, tc.opts...)
			got, err := Consume(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got.StopReason != tc.want || got.Count != 0 {
				t.Fatalf("stop %s after %d records, want %s", got.StopReason, got.Count, tc.want)
			}
		})
	}
	if _, err := Consume(context.Background(), Brokers("x:1"), Topics("t"), IdleTimeout(0)); err == nil {
		t.Fatal("Consume without a stop condition succeeded")
	}
}

func TestKafkaLookup(t *testing.T) {
	c := newCluster(t, "source")
	cl := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	w := newWriter(t, cl, "source")
	for i := range int64(5) {
		w.send(i, int32(i%2), event.StatusAcked)
	}
	w.sendRaw(&kgo.Record{Topic: "source", Partition: 0, Value: []byte("garbage")}) // p0 offset 3
	src, err := event.DefaultSource()
	if err != nil {
		t.Fatal(err)
	}
	lookup := NewKafkaLookup(src, 500*time.Millisecond, kgo.SeedBrokers(c.ListenAddrs()...))
	pos := func(p int32, off int64) provenance.Source {
		return provenance.Source{Cluster: "a", Topic: "source", Partition: p, Offset: off}
	}
	// Partition 0 holds seq 0, 2, 4 at offsets 0..2 and garbage at 3; partition 1 holds seq 1, 3.
	got, err := lookup.Lookup(context.Background(), []provenance.Source{pos(0, 1), pos(0, 2), pos(0, 3), pos(1, 0), pos(1, 9)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[provenance.Source]event.ID{
		pos(0, 1): {Producer: "p1", Seq: 2},
		pos(0, 2): {Producer: "p1", Seq: 4},
		pos(1, 0): {Producer: "p1", Seq: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("at %+v: got %v, want %v", k, got[k], v)
		}
	}
}
