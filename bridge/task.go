package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/provenance"
)

// errSourceRewound ends a session whose source consumer went back to an
// offset it had already passed: franz-go resets a partition it believes lost
// records (KIP-320 truncation detection after a leader change, an unclean
// election), and copying from there would write records the target already
// has. The next session starts again at the offsets committed on the target.
var errSourceRewound = errors.New("source consumer rewound")

// errSilentAbort ends a session whose commit franz-go turned into an abort: the
// next session re-reads the committed offsets from the target and copies again.
var errSilentAbort = errors.New("the client aborted the transaction instead of committing it (franz-go silent abort); re-reading offsets from the target")

// errReplan ends a session whose partitions changed; the next one starts at
// once with the new plan.
var errReplan = errors.New("partition plan changed")

// idlePoll bounds a poll when no transaction is open, so plan changes and
// shutdown are noticed.
const idlePoll = time.Second

// task copies the source partitions TaskFor assigns to one task id.
type task struct {
	b     *Bridge
	id    int
	txnID string
	log   *slog.Logger
	// fenced is set by a fence under static coordination, until the
	// next session has read who committed since (judgeFence).
	fenced bool
	// known holds the offsets this task last read or committed, so that
	// judgeFence looks only at commits made since: an old commit by a
	// dead instance whose clock ran ahead proves nothing.
	known map[tp]int64
}

func newTask(b *Bridge, id int) *task {
	txnID := b.cfg.name + "-" + strconv.Itoa(id)
	return &task{b: b, id: id, txnID: txnID, log: b.log.With("task", id, "transactional_id", txnID)}
}

// run runs sessions until ctx ends. Every failed session is followed by a
// fresh one that re-reads its position from the target. A fenced task tries
// again: under group coordination after one group session timeout (at most
// fencedBackoff); under static coordination after the usual backoff, and it
// stops for good once it finds that a newer instance with the same name
// committed its partitions (see judgeFence).
func (t *task) run(ctx context.Context) error {
	cfg := &t.b.cfg
	backoff := cfg.backoff
	t.b.m.running.Inc()
	defer t.b.m.running.Dec()
	for {
		progressed, err := t.session(ctx)
		if ctx.Err() != nil {
			// Stopped, often because the group took the task away (a
			// session that timed out while this instance was frozen): a
			// fence on the way out is a zombie stopped by the new owner.
			if errors.Is(err, ErrFenced) || isFenceErr(err) {
				t.b.m.fenced.Inc()
				t.log.Warn("task fenced while stopping: another instance owns its transactional id; the open transaction was not committed", "err", err)
			}
			return nil
		}
		if progressed {
			backoff = cfg.backoff
		}
		wait := backoff
		switch {
		case err == nil || errors.Is(err, errReplan):
			continue
		case errors.Is(err, errNewerInstance):
			t.log.Error("task fenced by a newer instance with this name; stopping", "err", err)
			return fmt.Errorf("task %d: %w", t.id, err)
		case errors.Is(err, ErrFenced):
			t.b.m.fenced.Inc()
			if cfg.coord == StaticCoordination {
				// A fence may be a broker that lost or aborted our
				// transaction, not a rival: taking the id back is safe
				// (fence, then read the offsets), and the offsets read
				// then tell whether someone else committed.
				t.fenced = true
				t.log.Warn("task fenced; taking its transactional id back", "err", err, "wait", backoff)
				backoff = min(2*backoff, cfg.maxBackoff)
				break
			}
			// The group decides who owns the task. While it is still
			// ours, the fencer is a zombie: an instance that was frozen
			// or cut off past its group session and has not yet learned
			// that it lost the task. Within one session timeout it has
			// (its heartbeat fails) or the group has moved the task
			// away from us (ctx ends); waiting longer only stalls a task
			// that nobody else runs.
			wait = min(cfg.fencedBackoff, cfg.groupSession)
			t.log.Error("task fenced: another instance used this transactional id; waiting one group session before taking it back", "err", err, "wait", wait)
		default:
			t.b.m.restarts.Inc()
			t.log.Warn("task failed; restarting from the target's committed offsets", "err", err, "wait", backoff)
			t.b.kickDiscovery()
			backoff = min(2*backoff, cfg.maxBackoff)
		}
		if sleepCtx(ctx, wait) != nil {
			return nil
		}
	}
}

// batch is the open transaction of a session.
type batch struct {
	open    bool
	began   time.Time
	records int // source records taken, including skipped and dead-lettered

	next    map[tp]int64     // next source offset per partition
	lastTS  map[tp]time.Time // source timestamp of the last record taken
	copied  map[string]int   // per source topic: records to the target topic
	bytes   map[string]int
	dlq     map[dlqKey]int
	skipped map[string]int

	mu         sync.Mutex
	targetNext map[tp]int64 // target offset after the last acknowledged record
	err        error        // first produce error
}

// dlqKey counts dead letters per source topic and reason class.
type dlqKey struct{ topic, reason string }

// newBatch returns an empty batch. Every transaction gets its own, since
// promises of a failed transaction may still be running.
func newBatch() *batch {
	return &batch{
		next:       map[tp]int64{},
		lastTS:     map[tp]time.Time{},
		copied:     map[string]int{},
		bytes:      map[string]int{},
		dlq:        map[dlqKey]int{},
		skipped:    map[string]int{},
		targetNext: map[tp]int64{},
	}
}

// promise returns the produce callback for a record copied from src. kgo
// commits whatever produced successfully, so every failure must be seen.
func (bt *batch) promise(src tp, track bool) func(*kgo.Record, error) {
	return func(r *kgo.Record, err error) {
		bt.mu.Lock()
		defer bt.mu.Unlock()
		if err != nil {
			if bt.err == nil {
				bt.err = fmt.Errorf("%s partition %d: %w", r.Topic, r.Partition, err)
			}
			return
		}
		if track && r.Offset+1 > bt.targetNext[src] {
			bt.targetNext[src] = r.Offset + 1
		}
	}
}

func (bt *batch) produceErr() error {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	return bt.err
}

// session is one life of the task: fence, read the position, copy until an
// error, a plan change or ctx's end. progressed reports a committed
// transaction, which resets the retry backoff.
func (t *task) session(ctx context.Context) (progressed bool, err error) {
	b, cfg := t.b, &t.b.cfg
	pl := b.currentPlan()
	parts := pl.partitionsOf(t.id, cfg.tasks)
	if len(parts) == 0 {
		// Nothing to copy yet; wait for a plan that gives this task work.
		select {
		case <-ctx.Done():
			return false, nil
		case <-b.planChanged(pl):
			return false, errReplan
		}
	}
	log := t.log
	eos := cfg.mode == ExactlyOnce
	var silentAborts atomic.Int64

	dstOpts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.dstSeeds...),
		kgo.ClientID("airlock-bridge-" + t.txnID),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(cfg.txnMaxRecords + 64), // a transaction never blocks on the buffer
		kgo.WithLogger(&slogAdapter{l: log, silentAborts: &silentAborts}),
	}, cfg.dstOpts...)
	if eos {
		dstOpts = append(dstOpts, kgo.TransactionalID(t.txnID), kgo.TransactionTimeout(cfg.txnTimeout))
	}
	dst, err := kgo.NewClient(dstOpts...)
	if err != nil {
		return false, fmt.Errorf("target client: %w", err)
	}
	defer dst.Close()
	adm := kadm.NewClient(dst)

	// Fence before reading the position: once our epoch is registered no
	// older owner can commit, so the offsets read next are final.
	if eos {
		if _, _, err := dst.ProducerID(ctx); err != nil {
			return false, fmt.Errorf("init transactional id %s: %w", t.txnID, err)
		}
	}
	committed, by, err := fetchStableOffsets(ctx, adm, cfg.offsetsGroup, pl, parts)
	if err != nil {
		return false, err
	}
	if t.fenced && eos && cfg.coord == StaticCoordination {
		t.fenced = false
		if err := t.judgeFence(committed, by); err != nil {
			return false, err
		}
	}
	t.known = maps.Clone(committed)
	start := map[string]map[int32]kgo.Offset{}
	for _, p := range parts {
		o := kgo.NewOffset().AtStart()
		if cfg.start == StartLatest {
			o = kgo.NewOffset().AtEnd()
		}
		if at, ok := committed[p]; ok {
			o = kgo.NewOffset().At(at)
			b.m.lag.start(p, at)
		}
		if start[p.topic] == nil {
			start[p.topic] = map[int32]kgo.Offset{}
		}
		start[p.topic][p.partition] = o
	}
	src, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.srcSeeds...),
		kgo.ClientID("airlock-bridge-" + t.txnID + "-source"),
		kgo.ConsumePartitions(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.WithLogger(kgoLogger(log)),
	}, cfg.srcOpts...)...)
	if err != nil {
		return false, fmt.Errorf("source client: %w", err)
	}
	defer src.Close()
	defer b.m.lag.drop(parts)
	defer t.startProbe(ctx, kadm.NewClient(src), parts)()
	log.Info("task copying", "partitions", len(parts), "resumed", len(committed))

	s := &sessionState{t: t, pl: pl, dst: dst, adm: adm, silentAborts: &silentAborts, pos: map[tp]int64{}}
	for p, at := range committed {
		s.pos[p] = at
	}
	// Produce contexts outlive ctx: a canceled record context fails the
	// record, which would turn a graceful shutdown into an abort.
	prodCtx, prodCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer prodCancel()
	s.prodCtx = prodCtx
	s.bt = newBatch()

	for {
		if ctx.Err() != nil {
			return progressed, s.shutdown(ctx)
		}
		if !s.bt.open {
			select {
			case <-b.planChanged(pl):
				if !slices.Equal(b.currentPlan().partitionsOf(t.id, cfg.tasks), parts) {
					return progressed, errReplan
				}
				pl = b.currentPlan()
				s.pl = pl
			default:
			}
		}
		deadline := time.Now().Add(idlePoll)
		if s.bt.open {
			deadline = s.bt.began.Add(cfg.txnInterval)
		}
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fs := src.PollRecords(pctx, cfg.txnMaxRecords-s.bt.records)
		cancel()
		if err := t.fetchErrors(fs); err != nil {
			return progressed, s.fail(ctx, err)
		}
		var copyErr error
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			end := p.LastStableOffset
			if end < 0 {
				end = p.HighWatermark
			}
			var first time.Time
			if len(p.Records) > 0 {
				first = p.Records[0].Timestamp
			}
			b.m.lag.fetched(tp{p.Topic, p.Partition}, end, first)
			for _, r := range p.Records {
				// After ctx ends, take no more records: what is taken
				// is committed on a graceful stop, the rest is read again.
				if copyErr != nil || ctx.Err() != nil {
					return
				}
				// Offsets only grow (read_committed skips some); a
				// smaller one is a rewind, whatever the client says.
				src := tp{r.Topic, r.Partition}
				if want, ok := s.pos[src]; ok && r.Offset < want {
					copyErr = fmt.Errorf("%w: %s/%d offset %d, expected %d or later", errSourceRewound, r.Topic, r.Partition, r.Offset, want)
					return
				}
				s.pos[src] = r.Offset + 1
				copyErr = s.copy(ctx, r)
			}
		})
		if copyErr != nil {
			return progressed, s.fail(ctx, copyErr)
		}
		if s.bt.open && (s.bt.records >= cfg.txnMaxRecords || time.Since(s.bt.began) >= cfg.txnInterval) {
			if err := s.commit(ctx); err != nil {
				return progressed, s.fail(ctx, err)
			}
			progressed = true
		}
	}
}

// fetchErrors logs and counts source fetch errors; kgo retries most of them
// itself. It returns an error when the client is gone or moved a partition
// back (errSourceRewound): both end the session.
func (t *task) fetchErrors(fs kgo.Fetches) error {
	var fatal error
	fs.EachError(func(topic string, p int32, err error) {
		var lost *kgo.ErrDataLoss
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, kgo.ErrClientClosed):
			fatal = err
		case errors.As(err, &lost):
			// The client already moved the partition back; what it
			// returns next may be copied already.
			t.b.m.fetchErrors.Inc()
			fatal = fmt.Errorf("%w: %s/%d: %w", errSourceRewound, topic, p, err)
		default:
			t.b.m.fetchErrors.Inc()
			t.log.Warn("source fetch error", "topic", topic, "partition", p, "err", err)
		}
	})
	if fatal != nil {
		return fmt.Errorf("source: %w", fatal)
	}
	return nil
}

// sessionState is what the copy and commit steps of one session share.
type sessionState struct {
	t *task
	// pos is the next source offset per partition: committed on the
	// target, or past the last record taken.
	pos map[tp]int64
	pl  *plan
	dst *kgo.Client
	// silentAborts counts franz-go's commit-turned-abort (see silentAbortMsg).
	silentAborts *atomic.Int64
	adm          *kadm.Client
	prodCtx      context.Context
	bt           *batch
}

func (s *sessionState) hook(ctx context.Context, p HookPoint) {
	if h := s.t.b.cfg.hook; h != nil {
		h(ctx, s.t.id, p)
	}
}

// copy adds one source record to the open transaction, opening one first.
func (s *sessionState) copy(ctx context.Context, r *kgo.Record) error {
	cfg := &s.t.b.cfg
	src := tp{r.Topic, r.Partition}
	tpl, ok := s.pl.topics[r.Topic]
	if !ok {
		return fmt.Errorf("record from unplanned topic %s", r.Topic)
	}
	if !s.bt.open {
		s.hook(ctx, HookBeforeProduce)
		if cfg.mode == ExactlyOnce {
			if err := s.dst.BeginTransaction(); err != nil {
				return fmt.Errorf("begin transaction: %w", err)
			}
		}
		s.bt.open, s.bt.began = true, time.Now()
	}
	s.bt.records++
	s.bt.next[src] = r.Offset + 1
	s.bt.lastTS[src] = r.Timestamp

	if fromCluster(r.Headers, s.t.b.dstName) {
		s.bt.skipped[r.Topic]++
		return nil
	}
	prov := provenance.Source{Cluster: s.t.b.srcName, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}.Headers()
	value := r.Value
	if v := cfg.validator; v != nil {
		// The session context, not ctx: a shutdown must not make a
		// validator fail records that are fine.
		out, err := v.Validate(s.prodCtx, r.Topic, r.Value)
		if errors.Is(err, ErrTransient) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			s.t.b.m.invalidRetry.WithLabelValues(r.Topic).Inc()
			return fmt.Errorf("validate %s/%d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		if err != nil {
			reason := ReasonOf(err)
			hs := make([]kgo.RecordHeader, 0, len(r.Headers)+len(prov)+4)
			hs = append(append(append(hs, r.Headers...), prov...), dlqHeaders(err.Error(), reason, tpl.target, r.Partition)...)
			s.bt.dlq[dlqKey{r.Topic, reason}]++
			s.dst.Produce(s.prodCtx, &kgo.Record{
				Topic:     cfg.dlqTopic,
				Partition: r.Partition % cfg.dlqPartitions,
				Key:       r.Key,
				Value:     r.Value,
				Headers:   hs,
				Timestamp: r.Timestamp,
			}, s.bt.promise(src, false))
			return nil
		}
		if out != nil {
			value = out
		}
	}
	hs := make([]kgo.RecordHeader, 0, len(r.Headers)+len(prov))
	hs = append(append(hs, r.Headers...), prov...)
	s.bt.copied[r.Topic]++
	s.bt.bytes[r.Topic] += len(r.Key) + len(value) + headerBytes(r.Headers)
	s.dst.Produce(s.prodCtx, &kgo.Record{
		Topic:     tpl.target,
		Partition: r.Partition,
		Key:       r.Key,
		Value:     value,
		Headers:   hs,
		Timestamp: r.Timestamp,
	}, s.bt.promise(src, true))
	return nil
}

// fromCluster reports whether any provenance header names cluster: the
// record was copied out of it, so copying it back would close a cycle.
func fromCluster(hs []kgo.RecordHeader, cluster string) bool {
	for _, h := range hs {
		if h.Key == provenance.HeaderCluster && string(h.Value) == cluster {
			return true
		}
	}
	return false
}

func headerBytes(hs []kgo.RecordHeader) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// opCtx bounds one commit step by limit. It outlives ctx on purpose: after
// ctx ends the step keeps the shutdown timeout to finish, or is cut at once
// when there is none (crash-like stop).
func (s *sessionState) opCtx(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	grace := s.t.b.cfg.shutdown
	stop := context.AfterFunc(ctx, func() {
		if grace == 0 {
			cancel()
			return
		}
		time.AfterFunc(grace, cancel)
	})
	return octx, func() { stop(); cancel() }
}

// commit ends the open transaction. Exactly-once: the offsets group joins
// the transaction while the records flush, then the checkpoint, then the
// offsets and EndTxn back to back (pending offsets make every RequireStable
// reader of the group wait, so they stay pending as briefly as possible).
// At-least-once: flush, checkpoint, then commit the offsets, never before
// the data is acknowledged.
func (s *sessionState) commit(ctx context.Context) error {
	t, cfg := s.t, &s.t.b.cfg
	eos := cfg.mode == ExactlyOnce
	// Half the transaction timeout leaves the coordinator no reason to
	// abort the transaction under us while we still try.
	cctx, cancel := s.opCtx(ctx, cfg.txnTimeout/2)
	defer cancel()

	s.hook(ctx, HookBeforeFlush)
	tFlush := time.Now()
	type added struct {
		p   producer
		err error
	}
	addDone := make(chan added, 1)
	if eos {
		go func() {
			p, err := addOffsetsToTxn(cctx, s.dst, t.txnID, cfg.offsetsGroup)
			addDone <- added{p, err}
		}()
	} else {
		addDone <- added{}
	}
	flushErr := s.dst.Flush(cctx)
	add := <-addDone
	switch {
	case flushErr != nil:
		return fmt.Errorf("flush: %w", flushErr)
	case s.bt.produceErr() != nil:
		return fmt.Errorf("%w: %w", ErrProduce, s.bt.produceErr())
	case add.err != nil:
		return add.err
	}
	val, err := MarshalCheckpoint(s.checkpoint())
	if err != nil {
		return err
	}
	s.dst.Produce(s.prodCtx, &kgo.Record{Topic: cfg.checkpointTopic, Partition: 0, Key: []byte(t.txnID), Value: val},
		s.bt.promise(tp{}, false))
	if err := s.dst.Flush(cctx); err != nil {
		return fmt.Errorf("flush checkpoint: %w", err)
	}
	if err := s.bt.produceErr(); err != nil {
		return fmt.Errorf("%w: %w", ErrProduce, err)
	}

	tEnd := time.Now()
	ps := s.offsets()
	s.hook(ctx, HookBeforeOffsets)
	if eos {
		if err := txnCommitOffsets(cctx, s.dst, add.p, t.txnID, cfg.offsetsGroup, t.b.instance, ps); err != nil {
			return err
		}
		s.hook(ctx, HookBeforeEndTxn)
		before := s.silentAborts.Load()
		if err := s.dst.EndTransaction(cctx, kgo.TryCommit); err != nil {
			return fmt.Errorf("commit transaction (outcome unknown until re-read): %w", err)
		}
		if s.silentAborts.Load() != before {
			return fmt.Errorf("commit transaction: %w", errSilentAbort)
		}
		if t.known == nil {
			t.known = map[tp]int64{}
		}
		for _, p := range ps {
			t.known[p.src] = p.next
		}
	} else if err := plainCommitOffsets(cctx, s.adm, cfg.offsetsGroup, t.b.instance, ps); err != nil {
		return err
	}
	s.hook(ctx, HookAfterEndTxn)
	t.log.Debug("transaction committed", "records", s.bt.records, "open", tFlush.Sub(s.bt.began),
		"flush", tEnd.Sub(tFlush), "end", time.Since(tEnd))

	m := t.b.m
	m.txns.WithLabelValues("committed").Inc()
	m.txnSeconds.Observe(time.Since(s.bt.began).Seconds())
	for topic, n := range s.bt.copied {
		m.records.WithLabelValues(topic).Add(float64(n))
		m.bytes.WithLabelValues(topic).Add(float64(s.bt.bytes[topic]))
	}
	for k, n := range s.bt.dlq {
		m.dlq.WithLabelValues(k.topic, k.reason).Add(float64(n))
	}
	for topic, n := range s.bt.skipped {
		m.skipped.WithLabelValues(topic, "cycle").Add(float64(n))
	}
	for src, next := range s.bt.next {
		m.lag.committed(src, next, s.bt.lastTS[src])
	}
	s.bt = newBatch()
	return nil
}

// offsets returns the positions the open transaction commits.
func (s *sessionState) offsets() []position {
	ps := make([]position, 0, len(s.bt.next))
	for src, next := range s.bt.next {
		tpl := s.pl.topics[src.topic]
		ps = append(ps, position{src: src, dst: tpl.target, id: tpl.targetID, next: next})
	}
	return ps
}

// checkpoint returns the checkpoint record of the open transaction; call it
// after the flush, when every target offset is known.
func (s *sessionState) checkpoint() Checkpoint {
	t := s.t
	cp := Checkpoint{Bridge: t.b.cfg.name, Task: t.id, SourceCluster: t.b.srcName}
	s.bt.mu.Lock()
	defer s.bt.mu.Unlock()
	for src, next := range s.bt.next {
		tn, ok := s.bt.targetNext[src]
		if !ok {
			tn = -1
		}
		cp.Partitions = append(cp.Partitions, CheckpointPartition{
			SourceTopic: src.topic, TargetTopic: s.pl.topics[src.topic].target, Partition: src.partition,
			SourceOffset: next, TargetOffset: tn,
		})
	}
	return cp
}

// fail aborts the open transaction after err, unless stopping like a crash
// or fenced, and returns err marked ErrFenced when another owner took the id.
func (s *sessionState) fail(ctx context.Context, err error) error {
	t, cfg := s.t, &s.t.b.cfg
	wasOpen, age := s.bt.open, time.Since(s.bt.began)
	// A fence error in a transaction younger than the timeout means a rival
	// owner bumped the epoch; an older one may just have timed out.
	fenced := isFenceErr(err) && (!wasOpen || age < cfg.txnTimeout)
	if wasOpen {
		t.b.m.txns.WithLabelValues("aborted").Inc()
		for src := range s.bt.next {
			t.b.m.lag.aborted(src)
		}
	}
	// Fenced: the rival's InitProducerID already aborted our transaction,
	// and an abort attempt could make franz-go re-initialise the id
	// (KIP-588 recovery on older clusters), fencing the rival in turn.
	crash := ctx.Err() != nil && cfg.shutdown == 0
	if wasOpen && cfg.mode == ExactlyOnce && !crash && !fenced {
		actx, cancel := s.opCtx(ctx, 5*time.Second)
		if aerr := s.dst.AbortBufferedRecords(actx); aerr != nil {
			t.log.Debug("abort buffered records", "err", aerr)
		}
		// Best effort: if this fails, the next session's InitProducerID
		// aborts the transaction anyway.
		if aerr := s.dst.EndTransaction(actx, kgo.TryAbort); aerr != nil {
			t.log.Debug("abort transaction", "err", aerr)
		}
		cancel()
	}
	s.bt = newBatch()
	if fenced {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return err
}

// shutdown finishes the open transaction when stopping: commit within the
// shutdown timeout, abort if that fails, or abandon it at once when there is
// no timeout.
func (s *sessionState) shutdown(ctx context.Context) error {
	if !s.bt.open {
		return nil
	}
	if s.t.b.cfg.shutdown == 0 {
		return nil // like a crash: the next owner aborts it
	}
	if err := s.commit(ctx); err != nil {
		s.t.log.Warn("could not commit the open transaction on shutdown; aborting it", "err", err)
		return s.fail(ctx, err)
	}
	return nil
}

func isFenceErr(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// kgoLogger routes franz-go's logs to slog; its chatty info level becomes
// debug.
func kgoLogger(l *slog.Logger) kgo.Logger { return &slogAdapter{l: l} }

// silentAbortMsg starts what franz-go v1.22.2 logs when EndTransaction(TryCommit)
// aborts instead, believing no produce of the transaction succeeded, and then
// returns nil. It has been seen doing so with acknowledged records under load; a
// bridge that took nil for a commit would advance past records that were aborted.
const silentAbortMsg = "no produce succeeded in this transaction"

type slogAdapter struct {
	l *slog.Logger
	// silentAborts, when set, counts silentAbortMsg (the target client of a task).
	silentAborts *atomic.Int64
}

func (a *slogAdapter) Level() kgo.LogLevel {
	if a.silentAborts != nil || a.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (a *slogAdapter) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if a.silentAborts != nil && strings.HasPrefix(msg, silentAbortMsg) {
		a.silentAborts.Add(1)
	}
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	}
	a.l.Log(context.Background(), lv, "kgo: "+msg, keyvals...)
}
