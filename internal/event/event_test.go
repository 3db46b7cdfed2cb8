package event

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/internal/schema"
)

func TestEncodeDecode(t *testing.T) {
	ctx := context.Background()
	src, err := DefaultSource()
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{ProducerID: "p1", Seq: 9, Key: "key-3", Time: time.UnixMilli(1_700_000_000_999), Type: TypeDelete, Payload: []byte("abc")}
	for _, tc := range []struct {
		name string
		ver  string
		id   int
	}{
		{"v1", "v1", 1},
		{"v2 (extra field with default)", "v2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := WriterSchema(tc.ver)
			if err != nil {
				t.Fatal(err)
			}
			enc := NewEncoder(s, tc.id)
			b, err := enc.Encode(&ev)
			if err != nil {
				t.Fatal(err)
			}
			appended, err := enc.Append([]byte("x"), &ev)
			if err != nil || !bytes.Equal(appended[1:], b) {
				t.Fatalf("Append = %v, %v; want x + Encode", appended, err)
			}
			got, id, err := Decode(ctx, src, b)
			if err != nil {
				t.Fatal(err)
			}
			if id != tc.id || got.ID() != ev.ID() || got.Key != ev.Key || got.Type != ev.Type ||
				!got.Time.Equal(ev.Time) || !bytes.Equal(got.Payload, ev.Payload) {
				t.Fatalf("decoded %+v (id %d), want %+v (id %d)", got, id, ev, tc.id)
			}
			if tc.ver == "v2" {
				_, native, err := schema.Decode(ctx, src, b)
				if err != nil {
					t.Fatal(err)
				}
				if r := native.(map[string]any)["region"]; r != "unknown" {
					t.Fatalf("region %v, want the schema default", r)
				}
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	ctx := context.Background()
	src, err := DefaultSource()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := SchemaV1()
	enc := NewEncoder(s, 1)
	empty, err := enc.Encode(&Event{Seq: 1, Key: "k", Type: TypeCreate})
	if err != nil {
		t.Fatal(err)
	}
	good, err := enc.Encode(&Event{ProducerID: "p", Seq: 1, Key: "k", Type: TypeCreate})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"garbage", []byte("garbage"), schema.ErrNotWireFormat},
		{"unknown schema", schema.AppendWire(nil, 3, good[schema.HeaderSize:]), schema.ErrUnknownSchema},
		{"truncated", good[:len(good)-1], schema.ErrMalformed},
		{"empty producer", empty, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Decode(ctx, src, tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEncodeUnknownType(t *testing.T) {
	s, _ := SchemaV1()
	if _, err := NewEncoder(s, 1).Encode(&Event{ProducerID: "p", Type: "EXPLODE"}); err == nil {
		t.Fatal("encoding a type outside the enum succeeded")
	}
	// The encoder must recover from the error.
	if _, err := NewEncoder(s, 1).Encode(&Event{ProducerID: "p", Type: TypeCreate}); err != nil {
		t.Fatal(err)
	}
}

func TestTypeFor(t *testing.T) {
	for _, tc := range []struct {
		seq  int64
		keys int
		want Type
	}{
		{0, 10, TypeCreate},
		{9, 10, TypeCreate},
		{10, 10, TypeUpdate},
		{95, 10, TypeDelete},
		{100, 10, TypeUpdate},
		{5, 0, TypeUpdate},
	} {
		if got := TypeFor(tc.seq, tc.keys); got != tc.want {
			t.Errorf("TypeFor(%d, %d) = %s, want %s", tc.seq, tc.keys, got, tc.want)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	s, _ := SchemaV1()
	enc := NewEncoder(s, 1)
	ev := Event{ProducerID: "p-0123abcd", Key: "key-42", Time: time.Now(), Type: TypeUpdate, Payload: make([]byte, 100)}
	b.ReportAllocs()
	for b.Loop() {
		ev.Seq++
		if _, err := enc.Encode(&ev); err != nil {
			b.Fatal(err)
		}
	}
}
