package schema

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hamba/avro/v2"
)

// MaxBytesLen bounds one Avro bytes or string value when decoding (64 MiB, above any
// Kafka message size), so a corrupt length cannot make the decoder allocate gigabytes.
const MaxBytesLen = 64 << 20

// api is immutable configuration plus hamba's own codec caches, which are safe for
// concurrent use; it is not shared mutable state in the sense that matters here.
var api = avro.Config{MaxByteSliceSize: MaxBytesLen}.Freeze()

// API returns the hamba/avro configuration this package decodes and encodes with, so
// callers that encode (event.Encoder) produce what Decode accepts.
func API() avro.API { return api }

// DecodeBody decodes an Avro body written with schema s into v (a pointer to a struct
// with avro tags, or to any for the generic form: map[string]any, time.Time for
// timestamps, string for enums, []byte for bytes). Unlike avro.Unmarshal it is
// strict: truncated bodies, trailing bytes and decoder panics all return an error
// wrapping ErrMalformed.
func DecodeBody(s avro.Schema, body []byte, v any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: decoder panic: %v", ErrMalformed, p)
		}
	}()
	r := avro.NewReader(nil, 0, avro.WithReaderConfig(api)).Reset(body)
	r.ReadVal(s, v)
	// Any error is malformed, io.EOF included: avro.Unmarshal ignores EOF, which
	// accepts a body truncated inside its last long.
	if r.Error != nil {
		if errors.Is(r.Error, io.EOF) {
			return fmt.Errorf("%w: truncated (%v)", ErrMalformed, r.Error)
		}
		return fmt.Errorf("%w: %v", ErrMalformed, r.Error)
	}
	// Peek sets io.EOF when nothing is left; anything else is trailing garbage.
	r.Peek()
	if r.Error == nil {
		return fmt.Errorf("%w: trailing bytes after the record", ErrMalformed)
	}
	return nil
}

// DecodeInto validates a wire format record b and decodes it into v with its writer
// schema from src. It returns the schema id.
func DecodeInto(ctx context.Context, src Source, b []byte, v any) (int, error) {
	id, body, err := SplitWire(b)
	if err != nil {
		return 0, err
	}
	s, err := src.SchemaByID(ctx, id)
	if err != nil {
		return id, err
	}
	if err := DecodeBody(s, body, v); err != nil {
		return id, fmt.Errorf("schema id %d: %w", id, err)
	}
	return id, nil
}

// Decode validates a wire format record and returns its schema id and generic value.
func Decode(ctx context.Context, src Source, b []byte) (id int, native any, err error) {
	id, err = DecodeInto(ctx, src, b, &native)
	if err != nil {
		return id, nil, err
	}
	return id, native, nil
}

// Convert re-encodes the wire format record b for the target schema under targetID,
// resolving the writer schema against target (a reader adds fields with their
// defaults, drops fields it does not have, promotes types). Use a Converter to convert
// many records: it caches the resolution per writer id.
func Convert(ctx context.Context, src Source, b []byte, target avro.Schema, targetID int) ([]byte, error) {
	return NewConverter(src, target, targetID).Convert(ctx, b)
}

// Converter converts wire format records to one target schema. Safe for concurrent use.
type Converter struct {
	src      Source
	target   avro.Schema
	targetID int

	mu       sync.Mutex
	resolved map[int]avro.Schema // writer id -> schema to decode with (nil: identical)
}

// NewConverter returns a Converter to target, written under targetID.
func NewConverter(src Source, target avro.Schema, targetID int) *Converter {
	return &Converter{src: src, target: target, targetID: targetID, resolved: map[int]avro.Schema{}}
}

// Convert validates b and returns it encoded with the target schema and id. A record
// whose writer schema is the target (same canonical form) is validated and its body
// copied as is.
func (c *Converter) Convert(ctx context.Context, b []byte) ([]byte, error) {
	id, body, err := SplitWire(b)
	if err != nil {
		return nil, err
	}
	read, same, err := c.readerFor(ctx, id)
	if err != nil {
		return nil, err
	}
	var native any
	if err := DecodeBody(read, body, &native); err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	if same {
		return AppendWire(make([]byte, 0, HeaderSize+len(body)), c.targetID, body), nil
	}
	w := avro.NewWriter(nil, HeaderSize+len(body)+64, avro.WithWriterConfig(api))
	_, _ = w.Write([]byte{Magic, 0, 0, 0, 0})
	w.WriteVal(c.target, native)
	if w.Error != nil {
		return nil, fmt.Errorf("%w: encode schema id %d record for target schema %d: %v", ErrIncompatible, id, c.targetID, w.Error)
	}
	out := w.Buffer()
	// Patch the id in place rather than building the header separately and copying.
	copy(out[:HeaderSize], AppendWire(nil, c.targetID, nil))
	return out, nil
}

// readerFor returns the schema to decode writer id's bodies with and whether the
// writer is the target itself.
func (c *Converter) readerFor(ctx context.Context, id int) (avro.Schema, bool, error) {
	c.mu.Lock()
	r, ok := c.resolved[id]
	c.mu.Unlock()
	if ok {
		return orTarget(r, c.target), r == nil, nil
	}
	writer, err := c.src.SchemaByID(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if writer.Fingerprint() == c.target.Fingerprint() {
		r = nil
	} else {
		r, err = avro.NewSchemaCompatibility().Resolve(c.target, writer)
		if err != nil {
			return nil, false, fmt.Errorf("%w: writer schema %d -> target schema %d: %v", ErrIncompatible, id, c.targetID, err)
		}
	}
	c.mu.Lock()
	c.resolved[id] = r
	c.mu.Unlock()
	return orTarget(r, c.target), r == nil, nil
}

func orTarget(r, target avro.Schema) avro.Schema {
	if r == nil {
		return target
	}
	return r
}
