package kfake

// AIRLOCK PATCH test (see AIRLOCK_PATCH.md): after a crash (no orderly
// Close, so no fresh seq_windows.json), a produce batch that a client retries
// because it never saw the answer must be answered as a duplicate with its
// original offset, not appended a second time.

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// airlockBatch builds a v2 record batch of n records with the given producer
// state, as an idempotent or transactional client would send it.
func airlockBatch(pid int64, epoch int16, seq int32, n int, txnal bool) []byte {
	now := time.Now().UnixMilli()
	var recs []byte
	for i := range n {
		rec := kmsg.Record{
			OffsetDelta: int32(i),
			Key:         fmt.Appendf(nil, "k-%d", seq+int32(i)),
			Value:       fmt.Appendf(nil, "v-%d", seq+int32(i)),
		}
		rec.Length = int32(len(rec.AppendTo(nil)) - 1)
		recs = rec.AppendTo(recs)
	}
	batch := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(n),
		Records:              recs,
	}
	if txnal {
		batch.Attributes = 0x0010
	}
	raw := batch.AppendTo(nil)
	batch.Length = int32(len(raw) - 12)
	raw = batch.AppendTo(nil)
	batch.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return batch.AppendTo(nil)
}

func airlockProduce(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, records []byte, txid *string) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewProduceRequest()
	req.Version = 11
	req.Acks = -1
	req.TimeoutMillis = 5000
	req.TransactionID = txid
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 0
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func airlockRawClient(t *testing.T, c *Cluster) *kgo.Client {
	v := kversion.Stable()
	v.SetMaxKeyVersion(0, 11) // produce v11: topic names, no implicit txn add
	return newPlainClient(t, c, kgo.MaxVersions(v))
}

func airlockHWM(t *testing.T, c *Cluster, topic string) int64 {
	t.Helper()
	pi := c.PartitionInfo(topic, 0)
	if pi == nil {
		t.Fatal("no partition info")
	}
	return pi.HighWatermark
}

// TestAirlockCrashIdempotentRetryIsDup: an idempotent producer's batch is
// synced, the broker crashes before the client sees the answer, the client
// retries the same batch against the restarted broker. It must be a dup.
// The variants cover no seq_windows.json written after the produce (crash)
// with and without a stale seq_windows.json from an earlier orderly restart.
func TestAirlockCrashIdempotentRetryIsDup(t *testing.T) {
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprintf("stale_seq_windows=%v", stale), func(t *testing.T) {
			dir := t.TempDir()
			const topic = "crash-dedup"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			c := newCluster(t, DataDir(dir), SyncWrites(), NumBrokers(1), SeedTopics(1, topic))
			cl := airlockRawClient(t, c)
			ir := kmsg.NewInitProducerIDRequest()
			ir.ProducerID, ir.ProducerEpoch = -1, -1
			iresp, err := ir.RequestWith(ctx, cl)
			if err != nil || iresp.ErrorCode != 0 {
				t.Fatalf("init: %v %v", err, iresp)
			}
			pid, epoch := iresp.ProducerID, iresp.ProducerEpoch

			seq := int32(0)
			for range 3 {
				if p := airlockProduce(ctx, t, cl, topic, airlockBatch(pid, epoch, seq, 2, false), nil); p.ErrorCode != 0 {
					t.Fatalf("produce seq %d: %v", seq, kerr.ErrorForCode(p.ErrorCode))
				}
				seq += 2
			}
			if stale {
				// Orderly restart: seq_windows.json is written now
				// and goes stale with the produces below.
				cl.Close()
				c.Close()
				c = newCluster(t, DataDir(dir), SyncWrites(), NumBrokers(1))
				cl = airlockRawClient(t, c)
			}
			var lastOff int64
			var lastBatch []byte
			for range 3 {
				lastBatch = airlockBatch(pid, epoch, seq, 2, false)
				p := airlockProduce(ctx, t, cl, topic, lastBatch, nil)
				if p.ErrorCode != 0 {
					t.Fatalf("produce seq %d: %v", seq, kerr.ErrorForCode(p.ErrorCode))
				}
				lastOff = p.BaseOffset
				seq += 2
			}
			hwm := airlockHWM(t, c, topic)

			// Crash: the disk as it is now, without an orderly Close.
			crashDir := t.TempDir()
			copyDir(t, dir, crashDir)
			cl.Close()

			c2 := newCluster(t, DataDir(crashDir), SyncWrites(), NumBrokers(1))
			cl2 := airlockRawClient(t, c2)
			p := airlockProduce(ctx, t, cl2, topic, lastBatch, nil)
			if p.ErrorCode != 0 {
				t.Fatalf("retry: %v", kerr.ErrorForCode(p.ErrorCode))
			}
			if got := airlockHWM(t, c2, topic); p.BaseOffset != lastOff || got != hwm {
				t.Fatalf("retried batch appended again: base offset %d (original %d), high watermark %d (was %d)", p.BaseOffset, lastOff, got, hwm)
			}
			// The next batch continues the sequence; a gap is refused.
			if p := airlockProduce(ctx, t, cl2, topic, airlockBatch(pid, epoch, seq+2, 1, false), nil); p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
				t.Fatalf("gap: got %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(p.ErrorCode))
			}
			if p := airlockProduce(ctx, t, cl2, topic, airlockBatch(pid, epoch, seq, 1, false), nil); p.ErrorCode != 0 || p.BaseOffset != hwm {
				t.Fatalf("next: %v at %d, want offset %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, hwm)
			}
		})
	}
}

// TestAirlockCrashTxnRetry: a transactional producer's batch is synced, the
// broker crashes before the client sees the answer. Shows what the retry of
// that batch gets after the restart.
func TestAirlockCrashTxnRetry(t *testing.T) {
	dir := t.TempDir()
	const topic = "crash-txn"
	txid := "airlock-txn"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := newCluster(t, DataDir(dir), SyncWrites(), NumBrokers(1), SeedTopics(1, topic))
	cl := airlockRawClient(t, c)
	ir := kmsg.NewInitProducerIDRequest()
	ir.TransactionalID = &txid
	ir.TransactionTimeoutMillis = 60000
	ir.ProducerID, ir.ProducerEpoch = -1, -1
	iresp, err := ir.RequestWith(ctx, cl)
	if err != nil || iresp.ErrorCode != 0 {
		t.Fatalf("init: %v %v", err, iresp)
	}
	pid, epoch := iresp.ProducerID, iresp.ProducerEpoch

	addParts := func(cl *kgo.Client, epoch int16) {
		t.Helper()
		req := kmsg.NewAddPartitionsToTxnRequest()
		req.Version = 3
		req.TransactionalID = txid
		req.ProducerID = pid
		req.ProducerEpoch = epoch
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic = topic
		rt.Partitions = []int32{0}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if ec := resp.Topics[0].Partitions[0].ErrorCode; ec != 0 {
			t.Fatalf("add partitions: %v", kerr.ErrorForCode(ec))
		}
	}
	endTxn := func(cl *kgo.Client, epoch int16, commit bool) (int16, int16) {
		t.Helper()
		req := kmsg.NewEndTxnRequest()
		req.TransactionalID = txid
		req.ProducerID = pid
		req.ProducerEpoch = epoch
		req.Commit = commit
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode, resp.ProducerEpoch
	}

	// Txn 1, committed.
	addParts(cl, epoch)
	seq := int32(0)
	for range 2 {
		if p := airlockProduce(ctx, t, cl, topic, airlockBatch(pid, epoch, seq, 2, true), &txid); p.ErrorCode != 0 {
			t.Fatalf("produce: %v", kerr.ErrorForCode(p.ErrorCode))
		}
		seq += 2
	}
	ec, newEpoch := endTxn(cl, epoch, true)
	if ec != 0 {
		t.Fatalf("end txn: %v", kerr.ErrorForCode(ec))
	}
	if newEpoch > epoch { // EndTxn v5+ (KIP-890) bumps the epoch.
		epoch, seq = newEpoch, 0
	}

	// Txn 2, in flight at the crash.
	addParts(cl, epoch)
	var lastBatch []byte
	var lastOff int64
	for range 2 {
		lastBatch = airlockBatch(pid, epoch, seq, 2, true)
		p := airlockProduce(ctx, t, cl, topic, lastBatch, &txid)
		if p.ErrorCode != 0 {
			t.Fatalf("produce: %v", kerr.ErrorForCode(p.ErrorCode))
		}
		lastOff = p.BaseOffset
		seq += 2
	}
	hwm := airlockHWM(t, c, topic)
	crashDir := t.TempDir()
	copyDir(t, dir, crashDir)
	cl.Close()
	os.Remove(filepath.Join(crashDir, "seq_windows.json"))

	c2 := newCluster(t, DataDir(crashDir), SyncWrites(), NumBrokers(1))
	cl2 := airlockRawClient(t, c2)
	p := airlockProduce(ctx, t, cl2, topic, lastBatch, &txid)
	t.Logf("txn retry after crash: err=%v base=%d (original %d) hwm=%d (was %d)",
		kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, lastOff, airlockHWM(t, c2, topic), hwm)
	ec, e2 := endTxn(cl2, epoch, true)
	t.Logf("EndTxn(commit) of the in-flight txn after the crash: err=%v epoch=%d", kerr.ErrorForCode(ec), e2)
}

// TestAirlockCrashKgoTxnRetry reproduces the chaos run in process: a
// transactional kgo producer writes committed transactions; one produce is
// appended and synced but its answer is lost (REQUEST_TIMED_OUT, which a
// real broker sends after appending); the broker "crashes" (its disk is
// copied before the retry is served, then it stops answering) and restarts
// from the copy on the same port; the client retries and commits. No record
// may then be read twice.
func TestAirlockCrashKgoTxnRetry(t *testing.T) {
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprintf("stale_seq_windows=%v", stale), func(t *testing.T) {
			airlockCrashKgoTxnRetry(t, stale, false)
		})
	}
	t.Run("orderly_stop", func(t *testing.T) { airlockCrashKgoTxnRetry(t, false, true) })
}

func airlockCrashKgoTxnRetry(t *testing.T, stale, orderly bool) {
	dir := t.TempDir()
	crashDir := t.TempDir()
	const topic = "crash-kgo"
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
	if stale {
		// An orderly restart first leaves a seq_windows.json behind
		// that is stale by the time of the crash.
		c.Close()
		c = newCluster(t, opts(dir)...)
	}

	clOpts := []kgo.Opt{
		kgo.TransactionalID("airlock-kgo-txn"),
		kgo.TransactionTimeout(30 * time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(topic),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
	}
	cl := newPlainClient(t, c, clOpts...)
	txn := func(i int, before func()) error {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		if before != nil {
			before()
		}
		var rs []*kgo.Record
		for j := range 3 {
			rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "txn%d-rec%d", i, j)})
		}
		perr := cl.ProduceSync(ctx, rs...).FirstErr()
		if perr != nil {
			t.Logf("txn %d: produce: %v", i, perr)
		}
		commit := kgo.TryCommit
		if perr != nil {
			commit = kgo.TryAbort
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Logf("txn %d: end: %v", i, err)
			return err
		}
		return perr
	}
	for i := range 3 {
		if err := txn(i, nil); err != nil {
			t.Fatal(err)
		}
	}

	crashed := make(chan struct{})
	restarted := make(chan struct{})
	var copyErr error
	err = txn(3, func() {
		c.Fault(Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.RequestTimedOut, Count: 1})
		var n int
		c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
			n++
			if n == 1 { // the faulted produce: appended, answer lost
				c.KeepControl()
				return nil, nil, false
			}
			// The retry: the disk is what the crash leaves.
			if !orderly {
				copyErr = airlockCopyDir(dir, crashDir)
			}
			c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				return nil, errors.New("crashed"), true
			})
			close(crashed)
			return nil, errors.New("crashed"), true
		})
		go func() {
			<-crashed
			c.Close()
			if orderly { // the orderly stop saved its state in dir
				crashDir = dir
			}
			c2, err := NewCluster(opts(crashDir)...)
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(c2.Close)
			c = c2
			close(restarted)
		}()
	})
	t.Logf("txn 3 (crash in the middle): %v", err)
	<-restarted
	if copyErr != nil {
		t.Fatal(copyErr)
	}
	if err != nil {
		// As the bridge does: a fenced producer is replaced, and the
		// records of the failed transaction are written again.
		cl.Close()
		cl = newPlainClient(t, c, clOpts...)
		if err := txn(3, nil); err != nil {
			t.Fatalf("txn 3 again: %v", err)
		}
	}
	for i := 4; i < 6; i++ {
		if err := txn(i, nil); err != nil {
			t.Fatalf("txn %d: %v", i, err)
		}
	}
	airlockCheckNoDup(ctx, t, c, topic, 18)

	// A second crash: the recovery must not turn what the first one
	// aborted into committed records.
	crashDir2 := t.TempDir()
	if err := airlockCopyDir(crashDir, crashDir2); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	c3 := newCluster(t, DataDir(crashDir2), SyncWrites(), NumBrokers(1))
	t.Log("after a second crash:")
	airlockCheckNoDup(ctx, t, c3, topic, 18)
}

func airlockCheckNoDup(ctx context.Context, t *testing.T, c *Cluster, topic string, want int) {
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
	var dups []string
	for v, offs := range seen {
		if len(offs) > 1 {
			dups = append(dups, fmt.Sprintf("%s@%v", v, offs))
		}
	}
	t.Logf("read committed: %d distinct records", len(seen))
	if len(dups) > 0 {
		t.Errorf("records read twice: %v", dups)
	}
	if len(seen) != want {
		t.Errorf("read %d distinct records, want %d", len(seen), want)
	}
}

func airlockCopyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
}
