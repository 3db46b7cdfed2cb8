package kfake

// AIRLOCK PATCH (see AIRLOCK_PATCH.md): rebuild the idempotent-producer
// sequence windows from the log on load, as Kafka's ProducerStateManager
// does on recovery. seq_windows.json is written only by an orderly shutdown
// (saveToDisk), so after a crash it is missing or stale, and a batch a client
// retries because it never saw the answer was appended a second time (or,
// with a stale file, refused as out of order).

import (
	"math"
	"time"
)

// logPidWindow is one producer's window on one partition as the log shows it.
type logPidWindow struct {
	w     pidwindow
	txnal bool // the producer's last batch was transactional
}

// replayPidWindows pushes the data batches of a producer ID, in log order,
// into that producer's window for this partition, as the produce path
// accepted them: an epoch change restarts the window, the last five batches
// of the epoch are kept for duplicate detection.
func (pd *partData) replayPidWindows(batches []*partBatch) {
	for _, b := range batches {
		if b.ProducerID < 0 || b.Attributes&0x0020 != 0 { // not idempotent, or a control batch
			continue
		}
		if pd.logPidWindows == nil {
			pd.logPidWindows = make(map[int64]*logPidWindow)
		}
		lw := pd.logPidWindows[b.ProducerID]
		if lw == nil {
			lw = new(logPidWindow)
			pd.logPidWindows[b.ProducerID] = lw
		}
		lw.txnal = b.Attributes&0x0010 != 0
		s := &lw.w
		next := int32((int64(b.FirstSequence) + int64(b.NumRecords)) % math.MaxInt32)
		if !s.seen || b.ProducerEpoch != s.epoch {
			*s = pidwindow{
				entries: [5]pidEntry{{b.FirstSequence, next, b.FirstOffset}},
				at:      1,
				count:   1,
				seen:    true,
				epoch:   b.ProducerEpoch,
				nextSeq: next,
			}
			continue
		}
		s.nextSeq = next
		s.entries[s.at] = pidEntry{b.FirstSequence, next, b.FirstOffset}
		s.at = (s.at + 1) % 5
		if s.count < 5 {
			s.count++
		}
	}
}

// adoptLogPidEpochs runs after pids.log is loaded and before the crash
// abort bumps epochs. A producer's epoch is at least the epoch of its last
// batch in the log (an idempotent producer may bump its epoch itself, which
// only an orderly shutdown persists). An idempotent producer the log knows
// but pids.log does not is created, as the produce path creates it
// (getOrCreateNonTx); a transactional one is not (its transactional ID is
// unknown).
func (c *Cluster) adoptLogPidEpochs() {
	c.data.tps.each(func(_ string, _ int32, pd *partData) {
		for pid, lw := range pd.logPidWindows {
			pidinf := c.pids.ids[pid]
			if pidinf == nil {
				if lw.txnal {
					continue
				}
				pidinf = &pidinfo{
					pids:       &c.pids,
					id:         pid,
					epoch:      lw.w.epoch,
					lastActive: time.Now(),
				}
				c.pids.ids[pid] = pidinf
			}
			if lw.w.epoch > pidinf.epoch {
				pidinf.epoch = lw.w.epoch
			}
		}
	})
}

// applyLogPidWindows runs after seq_windows.json is loaded: a window the log
// shows replaces the file's, which is stale if the broker crashed after it
// was written. Windows of producers with no batch left in the log (removed
// by retention or compaction) keep what the file says.
func (c *Cluster) applyLogPidWindows() {
	c.data.tps.each(func(t string, p int32, pd *partData) {
		for pid, lw := range pd.logPidWindows {
			if pidinf := c.pids.ids[pid]; pidinf != nil {
				pidinf.windows.set(t, p, lw.w)
			}
		}
		pd.logPidWindows = nil
	})
}
