// Package event is the Airlock test workload's event model: what airlock-producer
// writes (Avro, Confluent wire format, schemas/event-v*.avsc), the ledger it keeps of
// every send, and the identity the checker uses to match what a consumer saw against
// what was produced.
package event

import (
	"fmt"
	"strconv"
	"time"
)

// Type is the kind of change an event describes; an Avro enum in the schema.
type Type string

// Event types, the symbols of the EventType enum.
const (
	TypeCreate Type = "CREATE"
	TypeUpdate Type = "UPDATE"
	TypeDelete Type = "DELETE"
)

// Event is one workload event. Field tags are the Avro field names.
type Event struct {
	// ProducerID names the producer; (ProducerID, Seq) is the event's identity.
	ProducerID string `avro:"producer_id"`
	// Seq is dense from 0 per producer, in send order.
	Seq int64 `avro:"seq"`
	// Key is also the Kafka record key, so all events of a key share a partition.
	Key string `avro:"key"`
	// Time is when the producer made the event (millisecond precision on the wire).
	Time time.Time `avro:"event_time"`
	Type Type      `avro:"type"`
	// Payload is filler of a configurable size; its content carries no meaning.
	Payload []byte `avro:"payload"`
}

// ID returns the event's identity.
func (e *Event) ID() ID { return ID{Producer: e.ProducerID, Seq: e.Seq} }

// Validate reports an event that decodes but could not have come from a producer.
func (e *Event) Validate() error {
	switch {
	case e.ProducerID == "":
		return fmt.Errorf("%w: empty producer id", ErrInvalid)
	case e.Seq < 0:
		return fmt.Errorf("%w: negative seq %d", ErrInvalid, e.Seq)
	}
	return nil
}

// ID identifies an event across producers: producer id and sequence number.
type ID struct {
	Producer string `json:"producer"`
	Seq      int64  `json:"seq"`
}

// String formats id as "producer/seq".
func (id ID) String() string { return id.Producer + "/" + strconv.FormatInt(id.Seq, 10) }

// Record headers the producer adds next to the Avro body, for tools that want identity
// without decoding. The checker still decodes the body and flags disagreement.
const (
	HeaderProducer = "airlock.event.producer"
	HeaderSeq      = "airlock.event.seq"
)

// TypeFor is the workload's deterministic choice of event type: the first event of each
// of keys keys creates it, every tenth round deletes it, the rest update it.
func TypeFor(seq int64, keys int) Type {
	if keys <= 0 {
		keys = 1
	}
	round := seq / int64(keys)
	switch {
	case round == 0:
		return TypeCreate
	case round%10 == 9:
		return TypeDelete
	default:
		return TypeUpdate
	}
}
