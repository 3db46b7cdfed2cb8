// Package bridge copies topics from one Kafka cluster to another with
// exactly-once delivery, the engine behind airlock-bridge.
//
// Kafka transactions cannot span two clusters, so exactly-once is a design
// here, not a flag (the idea of MirrorMaker 2's KIP-618/656):
//
//   - The bridge runs a fixed number of tasks. Every source partition belongs
//     to exactly one task (TaskFor), and every task owns one transactional id
//     on the target ("<name>-<task>"). Starting a task initialises that id,
//     which bumps its epoch and fences any older owner (a zombie).
//   - The source position lives on the target, committed in the same
//     transaction as the copied records: AddOffsetsToTxn plus TxnOffsetCommit
//     (generation -1, no member) into an offsets group that never has
//     members. Offsets are keyed by target topic and partition (partitions
//     are preserved), because a broker only stores offsets for topics it has.
//   - Every transaction also writes one checkpoint record (source offset ->
//     target offset, see Checkpoint), so no transaction is offsets-only and
//     consumers can translate offsets.
//   - On start, after any error and after an unknown commit outcome, a task
//     drops its clients, fences (InitProducerID), re-reads its committed
//     offsets with RequireStable and resumes the source there. The target is
//     the source of truth; nothing is remembered locally.
//
// The source is read read_committed with manual partition assignment; the
// offset stored is the last copied record's offset + 1, never a count, so
// control records and aborted transactions (offset gaps) do not matter.
//
// Several bridge instances can share the tasks through a consumer group on a
// control topic of the target (one partition per task): whoever is assigned
// partition k runs task k. Losing an instance moves its tasks, and the
// transactional id fences the old owner.
package bridge
