package schema

import (
	"bytes"
	"errors"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   int
		body []byte
	}{
		{"empty body", 1, nil},
		{"small id", 7, []byte{1, 2, 3}},
		{"id above 2^24", 1<<24 + 5, []byte("hello")},
		{"max id", 1<<32 - 1, []byte{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := AppendWire([]byte("prefix"), tc.id, tc.body)
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatalf("AppendWire lost dst: %q", b)
			}
			id, body, err := SplitWire(b[len("prefix"):])
			if err != nil {
				t.Fatal(err)
			}
			if id != tc.id || !bytes.Equal(body, tc.body) {
				t.Fatalf("got id %d body %v, want %d %v", id, body, tc.id, tc.body)
			}
		})
	}
}

func TestSplitWireRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"nil", nil},
		{"short", []byte{0, 0, 0, 1}},
		{"bad magic", []byte{1, 0, 0, 0, 1, 2}},
		{"text", []byte("garbage bytes")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := SplitWire(tc.in); !errors.Is(err, ErrNotWireFormat) {
				t.Fatalf("err = %v, want ErrNotWireFormat", err)
			}
		})
	}
}
