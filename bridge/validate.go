package bridge

import (
	"context"
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Validator checks a record value before it is copied; the Avro validator
// (NewAvroValidator, over internal/schema) plugs in here, and topics it does
// not know pass through.
//
// A nil err copies the record with value out; a nil out keeps the original
// value, so a pass-through validator can return (nil, nil). A non-nil err
// sends the record to the dead-letter topic, with err's text in the
// HeaderDLQReason header, in the same transaction as the records around
// it — unless err wraps ErrTransient, which aborts the transaction and
// retries it later (the record is not at fault). An err that is a
// *Rejection also names the reason class, for the HeaderDLQReasonCode header
// and the dlq_records_total metric.
type Validator interface {
	Validate(ctx context.Context, topic string, value []byte) (out []byte, err error)
}

// ValidatorFunc adapts a function to Validator.
type ValidatorFunc func(ctx context.Context, topic string, value []byte) ([]byte, error)

// Validate implements Validator.
func (f ValidatorFunc) Validate(ctx context.Context, topic string, value []byte) ([]byte, error) {
	return f(ctx, topic, value)
}

// Rejection is a validation failure that names its reason class. The class
// becomes a metric label, so a validator must draw it from a small fixed
// set; the details belong in Err.
type Rejection struct {
	Reason string
	Err    error
}

// Error returns the text of the underlying error: that is the useful part
// for whoever reads the dead-letter topic.
func (r *Rejection) Error() string { return r.Err.Error() }

// Unwrap returns the underlying error.
func (r *Rejection) Unwrap() error { return r.Err }

// Reason classes of dead-lettered records. The Avro validator uses all but
// ReasonInvalid, which is the class of a plain error from any validator.
const (
	ReasonNotWireFormat = "not_wire_format" // no Confluent header (magic byte 0, 4-byte schema id)
	ReasonUnknownSchema = "unknown_schema"  // no schema under the record's id
	ReasonMalformed     = "malformed"       // the body does not decode with its writer schema
	ReasonIncompatible  = "incompatible"    // the writer schema cannot be read as the target schema
	ReasonNotAvro       = "not_avro"        // the id names a schema that is not self-contained Avro
	ReasonInvalid       = "invalid"         // any other rejection
)

// ReasonOf returns the reason class of a validation error: the Reason of a
// *Rejection in its chain, else ReasonInvalid.
func ReasonOf(err error) string {
	if r, ok := errors.AsType[*Rejection](err); ok && r.Reason != "" {
		return r.Reason
	}
	return ReasonInvalid
}

// Headers added to dead-lettered records, next to the provenance headers.
const (
	HeaderDLQReason      = "airlock.dlq.reason"      // the validator's error text
	HeaderDLQReasonCode  = "airlock.dlq.reason.code" // its reason class (ReasonOf)
	HeaderDLQTargetTopic = "airlock.dlq.target.topic"
	HeaderDLQPartition   = "airlock.dlq.target.partition"
)

// dlqHeaders returns the headers explaining why a record was dead-lettered.
func dlqHeaders(reason, code, targetTopic string, partition int32) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: HeaderDLQReason, Value: []byte(reason)},
		{Key: HeaderDLQReasonCode, Value: []byte(code)},
		{Key: HeaderDLQTargetTopic, Value: []byte(targetTopic)},
		{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(partition), 10)},
	}
}
