package bridge

import (
	"encoding/json"
	"fmt"
)

// Checkpoint is the value of the record every transaction writes to the
// checkpoint topic (key: the transactional id). It maps, per source
// partition, the next source offset to read to the next target offset, the
// way MirrorMaker 2's checkpoints do, so a consumer moving from source to
// target can translate its position. It also guarantees that no transaction
// is offsets-only (such a transaction never ends under franz-go).
type Checkpoint struct {
	Bridge        string                `json:"bridge"`
	Task          int                   `json:"task"`
	SourceCluster string                `json:"source_cluster"`
	Partitions    []CheckpointPartition `json:"partitions"`
}

// CheckpointPartition is one source partition's progress in a transaction.
type CheckpointPartition struct {
	SourceTopic string `json:"source_topic"`
	TargetTopic string `json:"target_topic"`
	Partition   int32  `json:"partition"`
	// SourceOffset is the next source offset to copy: the last copied
	// record's offset + 1.
	SourceOffset int64 `json:"source_offset"`
	// TargetOffset is the target offset after the last record this
	// transaction wrote to the partition, + 1; -1 when this transaction
	// wrote none there (every record was skipped or dead-lettered).
	TargetOffset int64 `json:"target_offset"`
}

// MarshalCheckpoint encodes c as JSON.
func MarshalCheckpoint(c Checkpoint) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	return b, nil
}

// UnmarshalCheckpoint decodes a checkpoint record value.
func UnmarshalCheckpoint(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return Checkpoint{}, fmt.Errorf("decode checkpoint: %w", err)
	}
	return c, nil
}
