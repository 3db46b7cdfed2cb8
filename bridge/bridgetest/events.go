package bridgetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/provenance"
	"github.com/airlock-kafka/airlock/internal/schema"
)

// EventProducer writes workload events (internal/event: Avro in the Confluent
// wire format, schema v1 under id 1) and keeps the ledger the checker
// (consumer.Check) compares a target against. Unlike the producer package it
// puts an exact number of events on every partition, so tests know offsets
// and counts. Safe for concurrent use; sends are serialised.
type EventProducer struct {
	mu     sync.Mutex
	id     string
	enc    *event.Encoder
	next   int64
	ledger event.Ledger
	clock  time.Time
}

// NewEventProducer returns a producer whose events carry producer id id;
// ids must be unique among the ledgers given to one check.
func NewEventProducer(id string) (*EventProducer, error) {
	v1, err := event.SchemaV1()
	if err != nil {
		return nil, err
	}
	return &EventProducer{
		id:     id,
		enc:    event.NewEncoder(v1, 1),
		ledger: event.Ledger{Name: id + ".jsonl"},
		clock:  time.UnixMilli(1_700_000_000_000),
	}, nil
}

// SetSchema makes later events use writer schema s under id (an event
// schema: every field of event.Event, plus any with defaults), for tests of
// schema evolution.
func (p *EventProducer) SetSchema(s avro.Schema, id int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.enc = event.NewEncoder(s, id)
}

// Record returns the next event as a record for topic/partition, with key
// and event headers as airlock-producer writes them, without sending it. Its
// ledger entry is added by Acked once the record is stored.
func (p *EventProducer) Record(topic string, partition int32) (*kgo.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.record(topic, partition)
}

func (p *EventProducer) record(topic string, partition int32) (*kgo.Record, error) {
	seq := p.next
	p.next++
	key := fmt.Sprintf("p%d-k%d", partition, seq%7)
	ev := event.Event{
		ProducerID: p.id, Seq: seq, Key: key, Type: event.TypeUpdate,
		// A fixed clock keeps the values reproducible run to run.
		Time:    p.clock.Add(time.Duration(seq) * time.Millisecond),
		Payload: []byte(strconv.FormatInt(seq, 10)),
	}
	val, err := p.enc.Encode(&ev)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{
		Topic: topic, Partition: partition, Key: []byte(key), Value: val,
		Headers: []kgo.RecordHeader{
			{Key: event.HeaderProducer, Value: []byte(p.id)},
			{Key: event.HeaderSeq, Value: strconv.AppendInt(nil, seq, 10)},
		},
	}, nil
}

// Acked adds the ledger entries of records produced successfully (their
// offsets set), as the producer does for acknowledged sends.
func (p *EventProducer) Acked(rs ...*kgo.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rs {
		if err := p.ack(r); err != nil {
			return err
		}
	}
	return nil
}

func (p *EventProducer) ack(r *kgo.Record) error {
	id, err := idOf(r)
	if err != nil {
		return err
	}
	p.ledger.Entries = append(p.ledger.Entries, event.Entry{
		Producer: id.Producer, Seq: id.Seq, Key: string(r.Key), Status: event.StatusAcked,
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Txn: -1,
	})
	return nil
}

func idOf(r *kgo.Record) (event.ID, error) {
	var id event.ID
	var seq string
	for _, h := range r.Headers {
		switch h.Key {
		case event.HeaderProducer:
			id.Producer = string(h.Value)
		case event.HeaderSeq:
			seq = string(h.Value)
		}
	}
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil || id.Producer == "" {
		return id, fmt.Errorf("record %s/%d@%d has no event headers", r.Topic, r.Partition, r.Offset)
	}
	id.Seq = n
	return id, nil
}

// Produce writes n events to every partition of topic, synchronously and in
// order, ledgers them as acked and returns them by partition.
func (p *EventProducer) Produce(ctx context.Context, cl *kgo.Client, topic string, partitions int32, n int) (map[int32][]*kgo.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int32][]*kgo.Record{}
	const chunk = 500
	for start := 0; start < n; start += chunk {
		var rs []*kgo.Record
		for i := start; i < min(start+chunk, n); i++ {
			for part := range partitions {
				r, err := p.record(topic, part)
				if err != nil {
					return nil, err
				}
				rs = append(rs, r)
			}
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			return nil, fmt.Errorf("produce events to %s: %w", topic, err)
		}
		for _, r := range rs {
			if err := p.ack(r); err != nil {
				return nil, err
			}
			out[r.Partition] = append(out[r.Partition], r)
		}
	}
	return out, nil
}

// Ledger returns a copy of the ledger so far.
func (p *EventProducer) Ledger() event.Ledger {
	p.mu.Lock()
	defer p.mu.Unlock()
	return event.Ledger{Name: p.ledger.Name, Entries: append([]event.Entry(nil), p.ledger.Entries...)}
}

// CheckEvents runs the exactly-once checker (consumer.Check) over the target
// copies of source topics: target holds the target topics' records as read
// read_committed, source the source topics' records, and rename maps a
// source topic name to its target name. Provenance is verified against the
// source records (the event each source position holds). schemas decodes
// both sides; it must know every writer id found there.
//
// The ledgers name the source positions the producers were acknowledged at,
// which the target does not keep (transaction markers and dead-lettered
// records shift offsets), so the checker sees them with the target topic
// name and no offset: it judges presence, duplicates, order and provenance,
// not offset equality.
func CheckEvents(ctx context.Context, schemas schema.Source, ledgers []event.Ledger, sourceCluster string,
	source, target map[string]Records, rename func(string) string) consumer.Report {
	lookup := consumer.IndexLookup{}
	for topic, parts := range source {
		for p, rs := range parts {
			for _, r := range rs {
				if ev, _, err := event.Decode(ctx, schemas, r.Value); err == nil {
					lookup[provenance.Source{Cluster: sourceCluster, Topic: topic, Partition: p, Offset: r.Offset}] = ev.ID()
				}
			}
		}
	}
	var observed []consumer.Observed
	for topic := range source {
		parts := target[rename(topic)]
		for _, p := range parts.Sorted() {
			for _, r := range parts[p] {
				observed = append(observed, consumer.Observe(ctx, schemas, r))
			}
		}
	}
	moved := make([]event.Ledger, len(ledgers))
	for i, l := range ledgers {
		moved[i] = event.Ledger{Name: l.Name, Entries: make([]event.Entry, len(l.Entries))}
		for j, e := range l.Entries {
			e.Topic, e.Offset = rename(e.Topic), -1
			moved[i].Entries[j] = e
		}
	}
	return consumer.Check(ctx, moved, observed, consumer.WithSourceLookup(lookup))
}
