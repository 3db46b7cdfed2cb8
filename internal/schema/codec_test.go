package schema

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

func testLocal(t *testing.T) *Local {
	t.Helper()
	l, err := NewLocal(WithDir("testdata/dir"), WithFile(9, "testdata/incompatible.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustSchema(t *testing.T, src Source, id int) avro.Schema {
	t.Helper()
	s, err := src.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var when = time.UnixMilli(1_700_000_000_123).UTC()

func v1Record(t *testing.T, src Source) []byte {
	t.Helper()
	body, err := API().Marshal(mustSchema(t, src, 1), map[string]any{
		"producer_id": "p1", "seq": int64(42), "key": "key-7", "event_time": when,
		"type": "UPDATE", "payload": []byte{1, 2, 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	return AppendWire(nil, 1, body)
}

func v2Record(t *testing.T, src Source) []byte {
	t.Helper()
	body, err := API().Marshal(mustSchema(t, src, 2), map[string]any{
		"producer_id": "p2", "seq": int64(5), "key": "key-1", "event_time": when,
		"type": "DELETE", "payload": []byte{}, "region": "eu-north",
	})
	if err != nil {
		t.Fatal(err)
	}
	return AppendWire(nil, 2, body)
}

func TestDecode(t *testing.T) {
	ctx := context.Background()
	src := testLocal(t)
	good := v1Record(t, src)
	for _, tc := range []struct {
		name    string
		in      []byte
		wantID  int
		wantErr error
	}{
		{name: "valid v1", in: good, wantID: 1},
		{name: "valid v2", in: v2Record(t, src), wantID: 2},
		{name: "unknown id", in: AppendWire(nil, 77, good[HeaderSize:]), wantErr: ErrUnknownSchema},
		{name: "not wire format", in: []byte("garbage bytes"), wantErr: ErrNotWireFormat},
		{name: "truncated", in: good[:len(good)-2], wantErr: ErrMalformed},
		{name: "truncated in the last field", in: cutLast(v2Record(t, src)), wantErr: ErrMalformed},
		{name: "trailing bytes", in: append(append([]byte{}, good...), 0xff), wantErr: ErrMalformed},
		{name: "bad enum index", in: AppendWire(nil, 1, corruptEnum(t, good[HeaderSize:])), wantErr: ErrMalformed},
		{name: "garbage body", in: AppendWire(nil, 1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), wantErr: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, native, err := Decode(ctx, src, tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id != tc.wantID {
				t.Fatalf("id %d, want %d", id, tc.wantID)
			}
			if _, ok := native.(map[string]any)["producer_id"]; !ok {
				t.Fatalf("decoded %#v has no producer_id", native)
			}
		})
	}
}

// cutLast drops the last byte (of region, in a v2 record).
func cutLast(b []byte) []byte { return b[:len(b)-1] }

// corruptEnum rewrites the enum index of a v1 body (after producer_id "p1", seq 42,
// key "key-7", a timestamp) to 9, which EventType does not have.
func corruptEnum(t *testing.T, body []byte) []byte {
	t.Helper()
	ts := avro.NewWriter(nil, 16)
	ts.WriteLong(when.UnixMilli())
	// string "p1" (1+2) + long 42 (1) + string "key-7" (1+5) + timestamp.
	at := 3 + 1 + 6 + len(ts.Buffer())
	out := append([]byte{}, body...)
	if out[at] != 2 { // UPDATE is index 1, zigzag 2
		t.Fatalf("enum byte at %d is %d; fixture layout changed", at, out[at])
	}
	out[at] = 18 // index 9
	return out
}

func TestConvertEvolution(t *testing.T) {
	ctx := context.Background()
	src := testLocal(t)
	v1, v2 := mustSchema(t, src, 1), mustSchema(t, src, 2)

	t.Run("v1 record read as v2 gets the default", func(t *testing.T) {
		out, err := Convert(ctx, src, v1Record(t, src), v2, 2)
		if err != nil {
			t.Fatal(err)
		}
		id, native, err := Decode(ctx, src, out)
		if err != nil {
			t.Fatal(err)
		}
		m := native.(map[string]any)
		if id != 2 || m["region"] != "unknown" || m["seq"] != int64(42) || m["type"] != "UPDATE" {
			t.Fatalf("id %d, record %v", id, m)
		}
		if got := m["event_time"].(time.Time); !got.Equal(when) {
			t.Fatalf("event_time %v, want %v", got, when)
		}
		if !bytes.Equal(m["payload"].([]byte), []byte{1, 2, 3}) {
			t.Fatalf("payload %v", m["payload"])
		}
	})
	t.Run("v2 record read as v1 drops the field", func(t *testing.T) {
		out, err := Convert(ctx, src, v2Record(t, src), v1, 1)
		if err != nil {
			t.Fatal(err)
		}
		id, native, err := Decode(ctx, src, out)
		if err != nil {
			t.Fatal(err)
		}
		m := native.(map[string]any)
		if _, has := m["region"]; has || id != 1 || m["producer_id"] != "p2" || m["type"] != "DELETE" {
			t.Fatalf("id %d, record %v", id, m)
		}
	})
	t.Run("same schema keeps the body and renumbers", func(t *testing.T) {
		in := v1Record(t, src)
		out, err := Convert(ctx, src, in, v1, 11)
		if err != nil {
			t.Fatal(err)
		}
		id, body, _ := SplitWire(out)
		if id != 11 || !bytes.Equal(body, in[HeaderSize:]) {
			t.Fatalf("id %d body %v", id, body)
		}
	})
	t.Run("incompatible target", func(t *testing.T) {
		_, err := Convert(ctx, src, v1Record(t, src), mustSchema(t, src, 9), 9)
		if !errors.Is(err, ErrIncompatible) {
			t.Fatalf("err = %v, want ErrIncompatible", err)
		}
	})
	t.Run("malformed input", func(t *testing.T) {
		in := v1Record(t, src)
		_, err := Convert(ctx, src, in[:len(in)-1], v2, 2)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
}

func TestConverterCachesResolution(t *testing.T) {
	ctx := context.Background()
	counting := &countingSource{Source: testLocal(t)}
	v2 := mustSchema(t, counting.Source, 2)
	c := NewConverter(counting, v2, 2)
	for i := range 3 {
		if _, err := c.Convert(ctx, v1Record(t, counting.Source)); err != nil {
			t.Fatalf("convert %d: %v", i, err)
		}
	}
	if counting.n != 1 {
		t.Fatalf("schema looked up %d times, want 1", counting.n)
	}
}

type countingSource struct {
	Source
	n int
}

func (c *countingSource) SchemaByID(ctx context.Context, id int) (avro.Schema, error) {
	c.n++
	return c.Source.SchemaByID(ctx, id)
}

func BenchmarkDecode(b *testing.B) {
	l, err := NewLocal(WithDir("testdata/dir"))
	if err != nil {
		b.Fatal(err)
	}
	s, _ := l.SchemaByID(context.Background(), 1)
	body, err := API().Marshal(s, map[string]any{
		"producer_id": "p1", "seq": int64(42), "key": "key-7", "event_time": when,
		"type": "UPDATE", "payload": make([]byte, 100),
	})
	if err != nil {
		b.Fatal(err)
	}
	rec := AppendWire(nil, 1, body)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(context.Background(), l, rec); err != nil {
			b.Fatal(err)
		}
	}
}
