package kfake

// AIRLOCK PATCH test (see AIRLOCK_PATCH.md): the records of a transaction
// that was open when the broker crashed must stay aborted for a
// read_committed consumer after the same transactional id commits its next
// transaction with the same producer id.

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// airlockDumpLog logs every batch of topic/0 (read_uncommitted) and what a
// read_committed fetch from offset 0 answers (LSO, aborted transactions).
func airlockDumpLog(ctx context.Context, t *testing.T, c *Cluster, topic string) {
	t.Helper()
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Fetch), 11) // topic names
	cl := newPlainClient(t, c, kgo.MaxVersions(v))
	for _, iso := range []int8{0, 1} {
		req := kmsg.NewFetchRequest()
		req.Version = 11
		req.ReplicaID = -1
		req.MaxWaitMillis = 10
		req.MaxBytes = 1 << 20
		req.IsolationLevel = iso
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = 0
		rp.PartitionMaxBytes = 1 << 20
		rp.CurrentLeaderEpoch = -1
		rp.LogStartOffset = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		var sb strings.Builder
		fmt.Fprintf(&sb, "isolation=%d err=%d hwm=%d lso=%d aborted=", iso, p.ErrorCode, p.HighWatermark, p.LastStableOffset)
		for _, a := range p.AbortedTransactions {
			fmt.Fprintf(&sb, "{pid=%d first=%d}", a.ProducerID, a.FirstOffset)
		}
		raw := p.RecordBatches
		for len(raw) >= 12 {
			n := 12 + int(binary.BigEndian.Uint32(raw[8:12]))
			var b kmsg.RecordBatch
			if err := b.ReadFrom(raw[:n]); err != nil {
				t.Fatal(err)
			}
			kind := "data"
			if b.Attributes&0x0020 != 0 {
				var rec kmsg.Record
				rec.ReadFrom(b.Records)
				kind = "COMMIT"
				if len(rec.Key) >= 4 && rec.Key[3] == 0 {
					kind = "ABORT"
				}
			}
			fmt.Fprintf(&sb, "\n  off=%d..%d pid=%d epoch=%d txn=%v %s",
				b.FirstOffset, b.FirstOffset+int64(b.LastOffsetDelta), b.ProducerID, b.ProducerEpoch, b.Attributes&0x0010 != 0, kind)
			raw = raw[n:]
		}
		t.Log(sb.String())
	}
}

// airlockReadCommitted reads topic/0 read_committed from the start and
// returns the offsets at which each value was seen.
func airlockReadCommitted(ctx context.Context, t *testing.T, c *Cluster, topic string) map[string][]int64 {
	t.Helper()
	cons := newPlainClient(t, c,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	seen := make(map[string][]int64)
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	defer pcancel()
	for pctx.Err() == nil {
		fs := cons.PollFetches(pctx)
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = append(seen[string(r.Value)], r.Offset) })
	}
	return seen
}

// TestAirlockCrashAbortedTxnStaysAborted: a transactional producer has a
// transaction open (records appended and synced) when the broker crashes.
// After the restart, a new client with the same transactional id (same
// producer id, bumped epoch) writes the same records again and commits. A
// read_committed consumer must see them once. The variants add an orderly
// stop and restart before the crash (a stale snapshot.json), and a second
// crash after the recovery.
func TestAirlockCrashAbortedTxnStaysAborted(t *testing.T) {
	for _, orderlyFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("orderly_restart_first=%v", orderlyFirst), func(t *testing.T) {
			airlockCrashAbortedTxn(t, orderlyFirst)
		})
	}
}

func airlockCrashAbortedTxn(t *testing.T, orderlyFirst bool) {
	dir := t.TempDir()
	crashDir := t.TempDir()
	const topic = "crash-abort"
	const txid = "airlock-crash-abort"
	const group = "airlock-crash-abort-group"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := func(d string) []Opt {
		return []Opt{Ports(port), DataDir(d), SyncWrites(), NumBrokers(1), SeedTopics(1, topic)}
	}
	c := newCluster(t, opts(dir)...)

	clOpts := []kgo.Opt{
		kgo.TransactionalID(txid),
		kgo.TransactionTimeout(30 * time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(topic),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
	}
	newProducer := func() *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, clOpts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := cl.ProducerID(ctx); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	// txn writes values and, like the bridge, commits an offset in the
	// transaction; it ends the transaction only if commit is set.
	txn := func(cl *kgo.Client, commit bool, values ...string) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var rs []*kgo.Record
		for _, v := range values {
			rs = append(rs, &kgo.Record{Value: []byte(v)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		add := kmsg.NewAddOffsetsToTxnRequest()
		add.TransactionalID = txid
		add.ProducerID, add.ProducerEpoch, _ = cl.ProducerID(ctx)
		add.Group = group
		if resp, err := add.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
			t.Fatalf("add offsets: %v %v", err, resp)
		}
		if !commit {
			return
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}

	cl := newProducer()
	txn(cl, true, "a0", "a1", "a2")
	if orderlyFirst {
		cl.Close()
		c.Close()
		c = newCluster(t, opts(dir)...)
		cl = newProducer()
		txn(cl, true, "a3", "a4")
	}

	// The transaction open at the crash: appended and synced.
	txn(cl, false, "b0", "b1")
	if err := airlockCopyDir(dir, crashDir); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	c.Close()

	c = newCluster(t, opts(crashDir)...)
	t.Log("after the crash:")
	airlockDumpLog(ctx, t, c, topic)

	// The bridge's next session: same transactional id, copies again.
	cl = newProducer()
	txn(cl, true, "b0", "b1")
	txn(cl, true, "c0")
	cl.Close()
	t.Log("after the next session committed:")
	airlockDumpLog(ctx, t, c, topic)

	check := func(c *Cluster) {
		t.Helper()
		seen := airlockReadCommitted(ctx, t, c, topic)
		want := []string{"a0", "a1", "a2", "b0", "b1", "c0"}
		if orderlyFirst {
			want = append(want, "a3", "a4")
		}
		for _, v := range want {
			if len(seen[v]) != 1 {
				t.Errorf("%s read at offsets %v, want once", v, seen[v])
			}
		}
		if len(seen) != len(want) {
			t.Errorf("read %d distinct values, want %d: %v", len(seen), len(want), seen)
		}
	}
	check(c)

	// A second crash must not change what is committed.
	crashDir2 := t.TempDir()
	if err := airlockCopyDir(crashDir, crashDir2); err != nil {
		t.Fatal(err)
	}
	c2 := newCluster(t, DataDir(crashDir2), SyncWrites(), NumBrokers(1))
	t.Log("after a second crash:")
	airlockDumpLog(ctx, t, c2, topic)
	check(c2)

	// And neither must an orderly restart.
	c.Close()
	c3 := newCluster(t, opts(crashDir)...)
	t.Log("after an orderly restart:")
	check(c3)
}
