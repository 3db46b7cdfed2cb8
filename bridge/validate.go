package bridge

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Validator checks a record value before it is copied; the Avro validator
// (internal/schema) plugs in here, and topics it does not know pass through.
//
// A nil err copies the record with value out; a nil out keeps the original
// value, so a pass-through validator can return (nil, nil). A non-nil err
// sends the record to the dead-letter topic, with err's text in the
// HeaderDLQReason header, in the same transaction as the records around
// it — unless err wraps ErrTransient, which aborts the transaction and
// retries it later (the record is not at fault).
type Validator interface {
	Validate(ctx context.Context, topic string, value []byte) (out []byte, err error)
}

// ValidatorFunc adapts a function to Validator.
type ValidatorFunc func(ctx context.Context, topic string, value []byte) ([]byte, error)

// Validate implements Validator.
func (f ValidatorFunc) Validate(ctx context.Context, topic string, value []byte) ([]byte, error) {
	return f(ctx, topic, value)
}

// Headers added to dead-lettered records, next to the provenance headers.
const (
	HeaderDLQReason      = "airlock.dlq.reason"
	HeaderDLQTargetTopic = "airlock.dlq.target.topic"
	HeaderDLQPartition   = "airlock.dlq.target.partition"
)

// dlqHeaders returns the headers explaining why a record was dead-lettered.
func dlqHeaders(reason, targetTopic string, partition int32) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: HeaderDLQReason, Value: []byte(reason)},
		{Key: HeaderDLQTargetTopic, Value: []byte(targetTopic)},
		{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(partition), 10)},
	}
}
