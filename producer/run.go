package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/event"
)

// settleTimeout bounds how long a stopping run waits for in-flight records and for
// ending a transaction; what is still unknown after it is ledgered uncertain.
const settleTimeout = 30 * time.Second

// runPlain produces without transactions. Every record's promise writes its ledger
// entry: acked with partition and offset, or uncertain with the error (any produce
// error may come after the request reached the broker).
func (p *Producer) runPlain(ctx context.Context, cl *kgo.Client, gen *generator, ledger *event.LedgerWriter, start time.Time) error {
	stop := newStopper(&p.c, start)
	pace := pacer{start: start, rate: p.c.rate}
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		ledErr  error
	)
	record := func(e *event.Entry) {
		if ledger == nil {
			return
		}
		if err := ledger.Write(e); err != nil {
			errOnce.Do(func() { ledErr = err })
		}
	}

	var err error
	for seq := int64(0); !stop.done(ctx, seq); seq++ {
		pace.wait(ctx, seq)
		if ctx.Err() != nil {
			break
		}
		rec, k, genErr := gen.record(seq)
		if genErr != nil {
			err = genErr
			break
		}
		p.attempted.Add(1)
		wg.Add(1)
		cl.Produce(ctx, rec, func(r *kgo.Record, perr error) {
			defer wg.Done()
			e := gen.entry(seq, k, event.StatusAcked)
			if perr != nil {
				p.produceErrs.Add(1)
				p.uncertain.Add(1)
				e.Status, e.Error = event.StatusUncertain, perr.Error()
			} else {
				p.acked.Add(1)
				e.Partition, e.Offset = r.Partition, r.Offset
			}
			record(&e)
		})
	}

	// Settle: give in-flight records time to finish, then Close fails what is left, so
	// every promise has run (and been ledgered) before we return.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	if ferr := cl.Flush(sctx); ferr != nil {
		p.c.logger.Warn("flush did not finish; remaining records are ledgered uncertain", "err", ferr)
	}
	cancel()
	cl.Close()
	wg.Wait()
	if err == nil {
		err = ledErr
	}
	return err
}

// sent is the outcome of one record of a transaction.
type sent struct {
	k         int
	partition int32
	offset    int64
	err       error
}

// runTransactions produces in transactions of txnSize events. A transaction is aborted
// when chosen to be, when any of its records failed (franz-go would commit the ones
// that succeeded) or when the run is interrupted in the middle of it. A commit whose
// outcome is unknown ledgers its events uncertain.
func (p *Producer) runTransactions(ctx context.Context, clp **kgo.Client, gen *generator, ledger *event.LedgerWriter, start time.Time) error {
	c := &p.c
	stop := newStopper(c, start)
	pace := pacer{start: start, rate: c.rate}
	seq := int64(0)
	for txn := int64(0); !stop.done(ctx, seq); txn++ {
		cl := *clp
		if err := cl.BeginTransaction(); err != nil {
			return fmt.Errorf("begin transaction %d: %w", txn, err)
		}
		first := seq
		outcomes := make([]sent, 0, c.txnSize)
		var wg sync.WaitGroup
		var genErr error
		for i := 0; i < c.txnSize && !stop.done(ctx, seq); i++ {
			pace.wait(ctx, seq)
			if ctx.Err() != nil {
				break
			}
			rec, k, err := gen.record(seq)
			if err != nil {
				genErr = err
				break
			}
			outcomes = append(outcomes, sent{k: k, partition: -1, offset: -1})
			slot := &outcomes[len(outcomes)-1]
			p.attempted.Add(1)
			wg.Add(1)
			cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					slot.err = err
					return
				}
				slot.partition, slot.offset = r.Partition, r.Offset
			})
			seq++
		}

		// Ending a transaction must not be cut short by ctx: a canceled EndTxn leaves
		// its outcome unknowable.
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		if err := cl.Flush(ectx); err != nil {
			_ = cl.AbortBufferedRecords(ectx)
		}
		wg.Wait()
		if len(outcomes) == 0 { // interrupted before its first record: nothing to ledger
			_ = p.endTxn(ectx, clp, kgo.TryAbort)
			cancel()
			if genErr != nil {
				return genErr
			}
			continue
		}

		var produceErr error
		for i := range outcomes {
			if outcomes[i].err != nil {
				p.produceErrs.Add(1)
				if produceErr == nil {
					produceErr = outcomes[i].err
				}
			}
		}
		abort := shouldAbort(txn, c.abortFraction) || produceErr != nil || ctx.Err() != nil || genErr != nil
		status, why := event.StatusAcked, ""
		if abort {
			status = event.StatusAborted
			if produceErr != nil {
				why = "aborted after produce error: " + produceErr.Error()
			}
			if err := p.endTxn(ectx, clp, kgo.TryAbort); err != nil {
				c.logger.Warn("abort failed; the transaction can never commit, so its events stay aborted", "txn", txn, "err", err)
			}
		} else if err := p.commit(ectx, cl); err != nil {
			status, why = event.StatusUncertain, "commit outcome unknown: "+err.Error()
			if errors.Is(err, kerr.OperationNotAttempted) || errors.Is(err, errCommitBecameAbort) {
				status, why = event.StatusAborted, "commit not attempted: "+err.Error()
			}
			c.logger.Warn("commit failed", "txn", txn, "status", status, "err", err)
			if err := p.endTxn(ectx, clp, kgo.TryAbort); err != nil {
				c.logger.Warn("abort after failed commit failed", "txn", txn, "err", err)
			}
		}
		cancel()

		p.txns.Add(1)
		switch status {
		case event.StatusAborted:
			p.abortedTxns.Add(1)
			p.aborted.Add(int64(len(outcomes)))
		case event.StatusUncertain:
			p.uncertainTxns.Add(1)
			p.uncertain.Add(int64(len(outcomes)))
		default:
			p.acked.Add(int64(len(outcomes)))
		}
		if ledger != nil {
			for i, o := range outcomes {
				e := gen.entry(first+int64(i), o.k, status)
				e.Partition, e.Offset, e.Txn, e.Error = o.partition, o.offset, txn, why
				if err := ledger.Write(&e); err != nil {
					return err
				}
			}
		}
		if genErr != nil {
			return genErr
		}
	}
	return nil
}

// errCommitBecameAbort: franz-go aborted when asked to commit (see silentAbortMsg).
var errCommitBecameAbort = errors.New("franz-go aborted the transaction instead of committing it")

// commit commits the current transaction and reports a commit that franz-go turned
// into an abort as errCommitBecameAbort rather than as success. Nothing else uses the
// client while a transaction ends, so a silent abort logged during the call is ours.
func (p *Producer) commit(ctx context.Context, cl *kgo.Client) error {
	before := p.kgoLog.silentAborts.Load()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return err
	}
	if p.kgoLog.silentAborts.Load() != before {
		return errCommitBecameAbort
	}
	return nil
}

// endTxn ends the current transaction with how; when that fails it retries once and
// then replaces the client: a new client's InitProducerID bumps the epoch, which
// fences the old producer and aborts whatever it left open.
func (p *Producer) endTxn(ctx context.Context, clp **kgo.Client, how kgo.TransactionEndTry) error {
	cl := *clp
	err := cl.EndTransaction(ctx, how)
	if err == nil {
		return nil
	}
	if err = cl.EndTransaction(ctx, how); err == nil {
		return nil
	}
	cl.Close()
	ncl, nerr := p.newClient()
	if nerr != nil {
		return fmt.Errorf("end transaction: %w; new client: %w", err, nerr)
	}
	*clp = ncl
	// Load the producer id now: the InitProducerID is what aborts the old
	// transaction, and waiting for the next produce would leave it open (and the
	// partitions' last stable offset stuck) if this was the last transaction.
	if _, _, ierr := ncl.ProducerID(ctx); ierr != nil {
		return fmt.Errorf("end transaction: %w; new client's producer id: %w", err, ierr)
	}
	return fmt.Errorf("end transaction (client replaced): %w", err)
}

// shouldAbort spreads aborts evenly: transaction n is aborted when the running count
// of aborts, floor(n*f), steps up at n+1.
func shouldAbort(n int64, f float64) bool {
	if f <= 0 {
		return false
	}
	return int64(float64(n+1)*f) > int64(float64(n)*f)
}
