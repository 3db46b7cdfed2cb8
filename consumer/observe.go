package consumer

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/provenance"
	"github.com/airlock-kafka/airlock/internal/schema"
)

// Observed is what the checker needs of one consumed record: where it was, which event
// its Avro body holds (or why it holds none), and what its headers claim.
type Observed struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Key is the record key; the producer sets it to the event key.
	Key string `json:"key"`

	// Err is why the value is not a valid event (not wire format, unknown schema,
	// malformed body, implausible event); empty when it decoded.
	Err      string   `json:"error,omitempty"`
	SchemaID int      `json:"schema_id,omitempty"`
	ID       event.ID `json:"event"`
	EventKey string   `json:"event_key,omitempty"`

	// HeaderID is the identity the event headers claim, when both are present.
	HeaderID  event.ID `json:"header_event"`
	HasHeader bool     `json:"has_header,omitempty"`

	// Source is the provenance the bridge's headers name, when all are present.
	Source    provenance.Source `json:"source"`
	HasSource bool              `json:"has_source,omitempty"`
}

// Where formats the record's position as "topic/partition@offset".
func (o *Observed) Where() string { return where(o.Topic, o.Partition, o.Offset) }

func where(topic string, partition int32, offset int64) string {
	return topic + "/" + strconv.Itoa(int(partition)) + "@" + strconv.FormatInt(offset, 10)
}

// Observe decodes r's value with src (validating the Avro against its writer schema)
// and collects what the checker needs. It never fails: a record that is not a valid
// event is returned with Err set, because undecodable records are a finding.
func Observe(ctx context.Context, src schema.Source, r *kgo.Record) Observed {
	o := Observed{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: string(r.Key)}
	ev, id, err := event.Decode(ctx, src, r.Value)
	o.SchemaID = id
	if err != nil {
		o.Err = err.Error()
	} else {
		o.ID, o.EventKey = ev.ID(), ev.Key
	}
	var haveP, haveS bool
	for _, h := range r.Headers {
		switch h.Key {
		case event.HeaderProducer:
			o.HeaderID.Producer, haveP = string(h.Value), true
		case event.HeaderSeq:
			seq, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err == nil {
				o.HeaderID.Seq, haveS = seq, true
			}
		}
	}
	o.HasHeader = haveP && haveS
	if !o.HasHeader {
		o.HeaderID = event.ID{}
	}
	o.Source, o.HasSource = provenance.FromHeaders(r.Headers)
	return o
}
