package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The offsets group stores, for every target partition, the next source
// offset of the source partition with the same number, with the source topic
// and the committing instance as commit metadata (offsetMetadata): the broker
// keeps offsets only for topics it has, and partitions are preserved, so the
// target partition is a unique key.

// fetchStableOffsets reads the committed positions of parts from the offsets
// group, waiting out pending transactional commits (RequireStable) so that a
// transaction still in flight cannot be half seen. A partition with no
// position is absent from the result; by holds the instance that committed
// each position, where the metadata names one.
func fetchStableOffsets(ctx context.Context, adm *kadm.Client, group string, pl *plan, parts []tp) (at map[tp]int64, by map[tp]string, err error) {
	backoff := 10 * time.Millisecond
	for {
		at, by, err := fetchOffsetsOnce(ctx, adm, group, pl, parts)
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return at, by, err
		}
		// Another transaction holds offsets of this group open; it ends by
		// commit, abort or its timeout, so waiting is bounded.
		if err := sleepCtx(ctx, backoff); err != nil {
			return nil, nil, fmt.Errorf("fetch stable offsets of %s: %w", group, err)
		}
		// Pending offsets last one round trip per transaction: poll
		// often rather than sleep past the gap.
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func fetchOffsetsOnce(ctx context.Context, adm *kadm.Client, group string, pl *plan, parts []tp) (map[tp]int64, map[tp]string, error) {
	resps, err := adm.FetchOffsets(kadm.RequireStable(ctx), group)
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return map[tp]int64{}, map[tp]string{}, nil // nothing committed yet
	case err != nil:
		return nil, nil, fmt.Errorf("fetch offsets of %s: %w", group, err)
	}
	out := make(map[tp]int64, len(parts))
	by := make(map[tp]string, len(parts))
	for _, p := range parts {
		t, ok := pl.topics[p.topic]
		if !ok {
			continue
		}
		r, ok := resps.Lookup(t.target, p.partition)
		if !ok {
			continue
		}
		if r.Err != nil {
			return nil, nil, fmt.Errorf("fetch offset of %s/%d in %s: %w", t.target, p.partition, group, r.Err)
		}
		if r.At < 0 {
			continue
		}
		topic, instance := parseOffsetMetadata(r.Metadata)
		if topic != "" && topic != p.topic {
			return nil, nil, fmt.Errorf("%w: %s/%d in %s was written for source topic %q, now mapped from %q",
				ErrOffsetsMismatch, t.target, p.partition, group, topic, p.topic)
		}
		out[p] = r.At
		if instance != "" {
			by[p] = instance
		}
	}
	return out, by, nil
}

// position is the progress of one source partition to commit.
type position struct {
	src  tp
	dst  string
	id   [16]byte
	next int64 // next source offset
}

// retriable reports whether a commit-path request may simply be repeated.
// Repeating AddOffsetsToTxn or TxnOffsetCommit inside one transaction is
// harmless: the last write of an offset wins and nothing is committed yet.
func retriable(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && (ke.Retriable || ke == kerr.ConcurrentTransactions)
}

// retry runs fn until it succeeds, fails with a non-retriable error, or ctx
// ends.
func retry(ctx context.Context, what string, fn func() error) error {
	backoff := 10 * time.Millisecond
	for {
		err := fn()
		if err == nil || !retriable(err) {
			return err
		}
		if serr := sleepCtx(ctx, backoff); serr != nil {
			return fmt.Errorf("%s: %w (last error: %w)", what, serr, err)
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// producer is the id and epoch of a transaction.
type producer struct {
	id    int64
	epoch int16
}

// addOffsetsToTxn adds the offsets group to the open transaction of cl. The
// producer id and epoch are read per transaction, because under KIP-890
// every EndTxn bumps the epoch; they stay valid until this transaction ends.
func addOffsetsToTxn(ctx context.Context, cl *kgo.Client, txnID, group string) (producer, error) {
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		return producer{}, fmt.Errorf("producer id for offset commit: %w", err)
	}
	err = retry(ctx, "add offsets to transaction", func() error {
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.TransactionalID = txnID
		req.ProducerID = id
		req.ProducerEpoch = epoch
		req.Group = group
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	if err != nil {
		return producer{}, fmt.Errorf("add offsets group %s to transaction %s: %w", group, txnID, err)
	}
	return producer{id, epoch}, nil
}

// txnCommitOffsets stages the positions in the open transaction
// (TxnOffsetCommit). Generation -1 with no member id is the "admin" commit a
// broker accepts for a group without members. Until EndTxn the group has
// pending offsets, which makes RequireStable readers wait: call it last.
func txnCommitOffsets(ctx context.Context, cl *kgo.Client, p producer, txnID, group, instance string, ps []position) error {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID = txnID
	req.Group = group
	req.ProducerID = p.id
	req.ProducerEpoch = p.epoch
	req.Generation = -1
	req.MemberID = ""
	idx := map[string]int{}
	for _, p := range ps {
		i, ok := idx[p.dst]
		if !ok {
			i = len(req.Topics)
			idx[p.dst] = i
			t := kmsg.NewTxnOffsetCommitRequestTopic()
			t.Topic = p.dst
			t.TopicID = p.id // v6 (KIP-1319) matches by id
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition = p.src.partition
		rp.Offset = p.next
		rp.LeaderEpoch = -1
		meta := offsetMetadata(p.src.topic, instance)
		rp.Metadata = &meta
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	err := retry(ctx, "transactional offset commit", func() error {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit offsets to %s in transaction %s: %w", group, txnID, err)
	}
	return nil
}

// plainCommitOffsets commits positions outside a transaction (at-least-once
// mode).
func plainCommitOffsets(ctx context.Context, adm *kadm.Client, group, instance string, ps []position) error {
	var os kadm.Offsets
	for _, p := range ps {
		os.Add(kadm.Offset{Topic: p.dst, Partition: p.src.partition, At: p.next, LeaderEpoch: -1, Metadata: offsetMetadata(p.src.topic, instance)})
	}
	resps, err := adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return fmt.Errorf("commit offsets to %s: %w", group, err)
	}
	return nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
