package kfake

// AIRLOCK PATCH (see AIRLOCK_PATCH.md): a transaction that is open at an
// orderly shutdown is restored from session_state.json, which the load then
// removes. The partitions' snapshot.json files stay, and they still match the
// segments until the next append. If the broker is then killed before that
// transaction ends, the next load takes the snapshot path for those
// partitions: the transaction is neither restored (no session state) nor
// aborted (only the full replay detects a transaction with data and no
// control batch), so its records read as committed, and a client that writes
// them again in a new transaction has them twice.

import (
	"os"
	"path/filepath"
)

// invalidateSnapshotForOpenTxn removes the snapshot of a partition that holds
// data of a transaction restored from session_state.json, so that a crash
// before the transaction ends loads the partition by full replay, which
// aborts the transaction (ABORT marker, epoch bump). An orderly shutdown
// writes the snapshot again.
func (c *Cluster) invalidateSnapshotForOpenTxn(topic string, part int32) {
	path := filepath.Join(partDir(c.cfg.dataDir, topic, part), "snapshot.json")
	if err := c.fs.Remove(path); err != nil && !os.IsNotExist(err) {
		c.cfg.logger.Logf(LogLevelWarn, "removing %s of a restored open transaction: %v", path, err)
	}
}
