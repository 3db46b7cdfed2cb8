package schema

import (
	"context"
	"errors"
	"flag"
	"testing"
)

func TestFlagsOpen(t *testing.T) {
	ctx := context.Background()
	fallback := WithSchemaText(5, `{"type":"string"}`)
	for _, tc := range []struct {
		name    string
		args    []string
		wantIDs []int
		wantErr error
	}{
		{name: "fallback", args: nil, wantIDs: []int{5}},
		{name: "specs", args: []string{"--schema", "7=testdata/simple.avsc", "--schema", "1=testdata/dir/1-event.avsc"}, wantIDs: []int{1, 7}},
		{name: "dir", args: []string{"--src-schema-dir", "testdata/dir"}, wantIDs: []int{1, 2}},
		{name: "registry and local", args: []string{"--schema-registry", "http://x", "--schema", "1=testdata/simple.avsc"}, wantErr: ErrBadSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f, g Flags
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			f.Register(fs, "")
			g.Register(fs, "src-")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if g.Dir != "" {
				f = g
			}
			store, err := f.Open(fallback)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range tc.wantIDs {
				if _, err := store.SchemaByID(ctx, id); err != nil {
					t.Fatalf("id %d: %v", id, err)
				}
			}
		})
	}
}

func TestFlagsRegistryURLAlias(t *testing.T) {
	for _, tc := range []struct {
		name, registry, url, want string
		fail                      bool
	}{
		{name: "alias only", url: "http://r", want: "http://r"},
		{name: "both agree", registry: "http://r", url: "http://r", want: "http://r"},
		{name: "both disagree", registry: "http://a", url: "http://b", fail: true},
		{name: "neither", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Flags{Registry: tc.registry, RegistryURL: tc.url}
			err := f.Resolve()
			if tc.fail {
				if !errors.Is(err, ErrBadSpec) {
					t.Fatalf("want ErrBadSpec, got %v", err)
				}
				return
			}
			if err != nil || f.Registry != tc.want {
				t.Fatalf("Registry %q err %v, want %q", f.Registry, err, tc.want)
			}
		})
	}
}
