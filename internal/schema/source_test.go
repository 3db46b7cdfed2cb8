package schema

import (
	"context"
	"errors"
	"testing"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		id      int
		path    string
		wantErr bool
	}{
		{spec: "1=event.avsc", id: 1, path: "event.avsc"},
		{spec: " 42 = dir/x.avsc ", id: 42, path: "dir/x.avsc"},
		{spec: "4294967295=x.avsc", id: 1<<32 - 1, path: "x.avsc"},
		{spec: "event.avsc", wantErr: true},
		{spec: "x=event.avsc", wantErr: true},
		{spec: "-1=event.avsc", wantErr: true},
		{spec: "4294967296=x.avsc", wantErr: true},
		{spec: "1=", wantErr: true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			id, path, err := ParseSpec(tc.spec)
			if tc.wantErr {
				if !errors.Is(err, ErrBadSpec) {
					t.Fatalf("err = %v, want ErrBadSpec", err)
				}
				return
			}
			if err != nil || id != tc.id || path != tc.path {
				t.Fatalf("got %d %q %v, want %d %q", id, path, err, tc.id, tc.path)
			}
		})
	}
}

func TestIDFromFileName(t *testing.T) {
	for _, tc := range []struct {
		name    string
		id      int
		wantErr bool
	}{
		{name: "3.avsc", id: 3},
		{name: "12-event.avsc", id: 12},
		{name: "dir/5_event.avsc", id: 5},
		{name: "event-v2.avsc", id: 2},
		{name: "event_v10.avsc", id: 10},
		{name: "event.avsc", wantErr: true},
		{name: "eventv2.avsc", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := IDFromFileName(tc.name)
			if tc.wantErr {
				if !errors.Is(err, ErrBadSpec) {
					t.Fatalf("err = %v, want ErrBadSpec", err)
				}
				return
			}
			if err != nil || id != tc.id {
				t.Fatalf("got %d %v, want %d", id, err, tc.id)
			}
		})
	}
}

func TestNewLocal(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		opts    []LocalOpt
		ids     []int
		wantErr error
	}{
		{name: "dir convention", opts: []LocalOpt{WithDir("testdata/dir")}, ids: []int{1, 2}},
		{name: "specs", opts: []LocalOpt{WithSpecs("7=testdata/simple.avsc", "8=testdata/dir/1-event.avsc")}, ids: []int{7, 8}},
		{name: "same schema twice under one id", opts: []LocalOpt{WithDir("testdata/dir"), WithFile(1, "testdata/dir/1-event.avsc")}, ids: []int{1, 2}},
		{name: "text", opts: []LocalOpt{WithSchemaText(3, `{"type":"string"}`)}, ids: []int{3}},
		{name: "conflicting id", opts: []LocalOpt{WithDir("testdata/dir"), WithFile(1, "testdata/simple.avsc")}, wantErr: ErrBadSpec},
		{name: "file name without id", opts: []LocalOpt{WithDir("testdata/noid")}, wantErr: ErrBadSpec},
		{name: "empty dir", opts: []LocalOpt{WithDir("testdata/nonexistent")}, wantErr: ErrBadSpec},
		{name: "bad spec", opts: []LocalOpt{WithSpecs("testdata/simple.avsc")}, wantErr: ErrBadSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLocal(tc.opts...)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := l.IDs()
			if len(got) != len(tc.ids) {
				t.Fatalf("ids %v, want %v", got, tc.ids)
			}
			for i := range got {
				if got[i] != tc.ids[i] {
					t.Fatalf("ids %v, want %v", got, tc.ids)
				}
				s, err := l.SchemaByID(ctx, got[i])
				if err != nil {
					t.Fatal(err)
				}
				if id, err := l.IDFor(ctx, "any-subject", s); err != nil || id != got[i] {
					t.Fatalf("IDFor(schema %d) = %d, %v", got[i], id, err)
				}
			}
		})
	}
}

func TestLocalUnknown(t *testing.T) {
	ctx := context.Background()
	l, err := NewLocal(WithDir("testdata/dir"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.SchemaByID(ctx, 99); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("SchemaByID(99) err = %v", err)
	}
	other, err := ParseFile("testdata/simple.avsc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.IDFor(ctx, "s", other); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("IDFor(other) err = %v", err)
	}
}
