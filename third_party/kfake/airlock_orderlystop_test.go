package kfake

// AIRLOCK PATCH test (see AIRLOCK_PATCH.md): a transactional producer's
// produce is appended, the broker stops in an orderly way (Close) before the
// client sees the answer, and restarts from the same DataDir on the same
// port; the client retries the produce and commits. Each record must be read
// once with read_committed. The chaos scenario "target-broker-restart" has an
// orderly stop followed, a few seconds after the restart, by a kill -9: the
// crash variants restart a second time from a crash image of the first
// restart, before (or after) the client's retry is served.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAirlockOrderlyStopTxnRetry(t *testing.T) {
	for _, v := range []struct {
		name  string
		crash bool // a kill -9 (crash image) after the orderly restart, before the retry is served
		abort bool // the retry fails until the client gives up and aborts (the bridge's flush timeout)
	}{
		{"orderly", false, false},
		{"orderly_then_crash", true, false},
		{"orderly_abort", false, true},
		{"orderly_then_crash_abort", true, true},
	} {
		t.Run(v.name, func(t *testing.T) { airlockOrderlyStopTxnRetry(t, v.crash, v.abort) })
	}
}

func airlockFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func airlockOrderlyStopTxnRetry(t *testing.T, crash, abort bool) {
	const (
		topic = "orderly-txn"
		group = "orderly-offsets"
		txid  = "airlock-orderly-txn"
		parts = 6
		nTxn  = 5
	)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	port := airlockFreePort(t)
	opts := func(d string, port int) []Opt {
		return []Opt{Ports(port), DataDir(d), SyncWrites(), NumBrokers(1), SeedTopics(parts, topic)}
	}
	var mu sync.Mutex // guards c: the restart swaps it
	c := newCluster(t, opts(dir, port)...)
	cur := func() *Cluster { mu.Lock(); defer mu.Unlock(); return c }

	clOpts := []kgo.Opt{
		kgo.SeedBrokers(fmt.Sprintf("127.0.0.1:%d", port)),
		kgo.TransactionalID(txid),
		kgo.TransactionTimeout(30 * time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(topic),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	}
	newClient := func() *kgo.Client {
		cl, err := kgo.NewClient(clOpts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	cl := newClient()
	topicID := c.TopicInfo(topic).TopicID

	// txn writes two records to every partition, adds the offsets group
	// and stages an offset, as airlock-bridge does, and commits.
	txn := func(i int, before func()) error {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		if before != nil {
			before()
		}
		var rs []*kgo.Record
		for p := range int32(parts) {
			for r := range 2 {
				rs = append(rs, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "txn%d-p%d-r%d", i, p, r)})
			}
		}
		timeout := 20 * time.Second
		if abort && before != nil {
			timeout = 5 * time.Second
		}
		pctx, pcancel := context.WithTimeout(ctx, timeout)
		defer pcancel()
		// As the bridge does: Produce, then Flush with a deadline
		// (ProduceSync would wait for a request in flight).
		var (
			emu  sync.Mutex
			perr error
		)
		for _, r := range rs {
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				emu.Lock()
				defer emu.Unlock()
				if perr == nil {
					perr = err
				}
			})
		}
		if ferr := cl.Flush(pctx); ferr != nil {
			emu.Lock()
			perr = fmt.Errorf("flush: %w", ferr)
			emu.Unlock()
		}
		emu.Lock()
		defer emu.Unlock()
		if perr == nil {
			perr = airlockTxnOffsets(pctx, cl, txid, group, topic, topicID, int64(i))
		}
		if perr != nil {
			t.Logf("txn %d: %v", i, perr)
		}
		commit := kgo.TryCommit
		ectx := pctx
		if perr != nil {
			commit = kgo.TryAbort
			var ecancel context.CancelFunc
			ectx, ecancel = context.WithTimeout(ctx, 10*time.Second)
			defer ecancel()
			if err := cl.AbortBufferedRecords(ectx); err != nil {
				t.Logf("txn %d: abort buffered records: %v", i, err)
			}
		}
		if err := cl.EndTransaction(ectx, commit); err != nil {
			t.Logf("txn %d: end: %v", i, err)
			return err
		}
		return perr
	}
	for i := range 2 {
		if err := txn(i, nil); err != nil {
			t.Fatal(err)
		}
	}

	// Txn 2: the first produce is appended on partitions 0 and 3, but
	// the client gets no answer for them (REQUEST_TIMED_OUT, which a real
	// broker sends after appending). Its retry reaches a broker that is
	// stopping: an orderly Close, a restart from the same directory on
	// the same port (and, with crash, a kill -9 after that restart).
	stopped := make(chan struct{})
	giveUp := make(chan struct{})
	restarted := make(chan struct{})
	err := txn(2, func() {
		h := c.Fault(Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{0, 3}, Err: kerr.RequestTimedOut, Count: -1})
		var n int
		c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
			n++
			if n == 1 { // appended, answer lost
				c.KeepControl()
				return nil, nil, false
			}
			// The retry: the broker is stopping.
			h.Remove()
			c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				return nil, errors.New("stopping"), true
			})
			close(stopped)
			return nil, errors.New("stopping"), true
		})
		go func() {
			defer close(restarted)
			<-stopped
			old := cur()
			old.Close() // orderly: saveToDisk, session_state.json
			time.Sleep(time.Second)
			d := dir
			if crash {
				// The restart serves nobody (another port);
				// its disk is then what a kill -9 leaves.
				c2, err := NewCluster(opts(dir, airlockFreePort(t))...)
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(200 * time.Millisecond)
				d = t.TempDir()
				if err := airlockCopyDir(dir, d); err != nil {
					t.Error(err)
				}
				c2.Close() // writes to dir, not to the crash image
			}
			c3, err := NewCluster(opts(d, port)...)
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(c3.Close)
			if abort {
				// The retried produce gets no answer until the
				// client gives up on the transaction.
				c3.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
					c3.KeepControl()
					select {
					case <-giveUp:
						c3.DropControl()
						return nil, nil, false
					default:
					}
					return nil, errors.New("no answer"), true
				})
			}
			mu.Lock()
			c = c3
			mu.Unlock()
		}()
	})
	t.Logf("txn 2 (stop in the middle): %v", err)
	close(giveUp)
	<-restarted
	if t.Failed() {
		t.FailNow()
	}
	if err != nil {
		// As the bridge does: a failed transaction is written again
		// by a new producer session.
		cl.Close()
		cl = newClient()
		if err := txn(2, nil); err != nil {
			t.Fatalf("txn 2 again: %v", err)
		}
	}
	for i := 3; i < nTxn; i++ {
		if err := txn(i, nil); err != nil {
			t.Fatalf("txn %d: %v", i, err)
		}
	}
	cl.Close()
	airlockCheckEachOnce(ctx, t, cur(), topic, parts, nTxn*parts*2)
}

// airlockTxnOffsets adds the group to the open transaction of cl and stages
// an offset in it (AddOffsetsToTxn, TxnOffsetCommit), as airlock-bridge does.
func airlockTxnOffsets(ctx context.Context, cl *kgo.Client, txid, group, topic string, topicID [16]byte, off int64) error {
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		return err
	}
	ar := kmsg.NewPtrAddOffsetsToTxnRequest()
	ar.TransactionalID, ar.ProducerID, ar.ProducerEpoch, ar.Group = txid, id, epoch, group
	aresp, err := ar.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("add offsets: %w", err)
	}
	if err := kerr.ErrorForCode(aresp.ErrorCode); err != nil {
		return fmt.Errorf("add offsets: %w", err)
	}
	or := kmsg.NewPtrTxnOffsetCommitRequest()
	or.TransactionalID, or.Group, or.ProducerID, or.ProducerEpoch = txid, group, id, epoch
	or.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rt.TopicID = topicID // v6 (KIP-1319) matches by id
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition = 0
	rp.Offset = off
	rp.LeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	or.Topics = append(or.Topics, rt)
	oresp, err := or.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("txn offset commit: %w", err)
	}
	for _, t := range oresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("txn offset commit: %w", err)
			}
		}
	}
	return nil
}

// airlockCheckEachOnce reads every partition read_committed and fails on a
// record read twice or a count other than want.
func airlockCheckEachOnce(ctx context.Context, t *testing.T, c *Cluster, topic string, parts int32, want int) {
	t.Helper()
	offs := make(map[int32]kgo.Offset)
	for p := range parts {
		offs[p] = kgo.NewOffset().AtStart()
	}
	cons := newPlainClient(t, c,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	seen := make(map[string][]string)
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	defer pcancel()
	for pctx.Err() == nil {
		fs := cons.PollFetches(pctx)
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)] = append(seen[string(r.Value)], fmt.Sprintf("%d@%d", r.Partition, r.Offset))
		})
	}
	var dups []string
	for v, where := range seen {
		if len(where) > 1 {
			dups = append(dups, fmt.Sprintf("%s at %v", v, where))
		}
	}
	t.Logf("read committed: %d distinct records", len(seen))
	if len(dups) > 0 {
		t.Errorf("records read more than once: %v", dups)
	}
	if len(seen) != want {
		t.Errorf("read %d distinct records, want %d", len(seen), want)
	}
}
