package event

import (
	"context"
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/airlock-kafka/airlock/internal/schema"
	"github.com/airlock-kafka/airlock/schemas"
)

// SchemaV1 and SchemaV2 return the embedded event schemas, parsed.
func SchemaV1() (avro.Schema, error) { return embedded(schemas.EventV1) }

// SchemaV2 returns the embedded event schema version 2 (adds region, default "unknown").
func SchemaV2() (avro.Schema, error) { return embedded(schemas.EventV2) }

func embedded(name string) (avro.Schema, error) {
	text, err := schemas.Text(name)
	if err != nil {
		return nil, fmt.Errorf("embedded schema %s: %w", name, err)
	}
	s, err := schema.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("embedded schema %s: %w", name, err)
	}
	return s, nil
}

// DefaultSchemas returns the embedded schemas as local schema options under the ids
// their file names give: event v1 as 1, v2 as 2.
func DefaultSchemas() ([]schema.LocalOpt, error) {
	v1, err := SchemaV1()
	if err != nil {
		return nil, err
	}
	v2, err := SchemaV2()
	if err != nil {
		return nil, err
	}
	return []schema.LocalOpt{schema.WithSchema(1, v1), schema.WithSchema(2, v2)}, nil
}

// DefaultSource is a local schema source holding DefaultSchemas.
func DefaultSource() (*schema.Local, error) {
	opts, err := DefaultSchemas()
	if err != nil {
		return nil, err
	}
	return schema.NewLocal(opts...)
}

// WriterSchema resolves a --writer-schema value: "v1" or "v2" (embedded) or the path
// of an .avsc file.
func WriterSchema(v string) (avro.Schema, error) {
	switch v {
	case "", "v1":
		return SchemaV1()
	case "v2":
		return SchemaV2()
	default:
		return schema.ParseFile(v)
	}
}

// Encoder writes events in the Confluent wire format with one schema and id. It reuses
// its buffer, so encoding costs one allocation (the returned record value). Not safe
// for concurrent use: give each goroutine its own.
type Encoder struct {
	s  avro.Schema
	id int
	w  *avro.Writer
}

// NewEncoder returns an Encoder for writer schema s registered under id. s must be an
// event schema (every field of Event, plus any with defaults).
func NewEncoder(s avro.Schema, id int) *Encoder {
	return &Encoder{s: s, id: id, w: avro.NewWriter(nil, 512, avro.WithWriterConfig(schema.API()))}
}

// ID returns the schema id the encoder writes.
func (e *Encoder) ID() int { return e.id }

// Append appends ev in wire format to dst.
func (e *Encoder) Append(dst []byte, ev *Event) ([]byte, error) {
	e.w.Reset(nil)
	e.w.WriteVal(e.s, ev)
	if err := e.w.Error; err != nil {
		e.w.Error = nil
		return dst, fmt.Errorf("encode event %s: %w", ev.ID(), err)
	}
	return schema.AppendWire(dst, e.id, e.w.Buffer()), nil
}

// Encode returns ev in wire format in a new exactly sized slice.
func (e *Encoder) Encode(ev *Event) ([]byte, error) {
	e.w.Reset(nil)
	e.w.WriteVal(e.s, ev)
	if err := e.w.Error; err != nil {
		e.w.Error = nil
		return nil, fmt.Errorf("encode event %s: %w", ev.ID(), err)
	}
	body := e.w.Buffer()
	return schema.AppendWire(make([]byte, 0, schema.HeaderSize+len(body)), e.id, body), nil
}

// Decode validates the wire format record b with its writer schema from src and returns
// the event and schema id. Fields the writer schema has and Event lacks are skipped
// (still validated); errors wrap schema's sentinels or ErrInvalid.
func Decode(ctx context.Context, src schema.Source, b []byte) (Event, int, error) {
	var ev Event
	id, err := schema.DecodeInto(ctx, src, b, &ev)
	if err != nil {
		return Event{}, id, err
	}
	if err := ev.Validate(); err != nil {
		return Event{}, id, err
	}
	return ev, id, nil
}
