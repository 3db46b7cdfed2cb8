package schema

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRegistry imitates the two Confluent registry endpoints the package uses:
// GET /schemas/ids/{id} and POST /subjects/{subject}/versions.
type fakeRegistry struct {
	mu       sync.Mutex
	schemas  map[int]string // id -> schema text
	types    map[int]string // id -> schemaType, "" for AVRO
	bySubj   map[string]int // subject + "\x00" + text -> id
	next     int
	gets     map[int]int // GET count per id
	posts    int
	username string
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{schemas: map[int]string{}, types: map[int]string{}, bySubj: map[string]int{}, next: 100, gets: map[int]int{}}
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	if f.username != "" {
		if u, _, ok := r.BasicAuth(); !ok || u != f.username {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error_code":401,"message":"Unauthorized"}`))
			return
		}
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/schemas/ids/"):
		id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/schemas/ids/"))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.gets[id]++
		text, ok := f.schemas[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
			return
		}
		resp := map[string]any{"schema": text}
		if typ := f.types[id]; typ != "" {
			resp["schemaType"] = typ
		}
		_ = json.NewEncoder(w).Encode(resp)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/subjects/") && strings.HasSuffix(r.URL.Path, "/versions"):
		subject := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/subjects/"), "/versions")
		var req struct {
			Schema string `json:"schema"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Schema == "" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error_code":42201,"message":"Invalid schema"}`))
			return
		}
		f.posts++
		key := subject + "\x00" + req.Schema
		id, ok := f.bySubj[key]
		if !ok {
			// Like the real registry, the same schema text gets the same id across subjects.
			for existing, text := range f.schemas {
				if text == req.Schema {
					id, ok = existing, true
				}
			}
			if !ok {
				id = f.next
				f.next++
				f.schemas[id] = req.Schema
			}
			f.bySubj[key] = id
		}
		_ = json.NewEncoder(w).Encode(map[string]int{"id": id})
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error_code":404,"message":"HTTP 404 Not Found"}`))
	}
}

func (f *fakeRegistry) getCount(id int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets[id]
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	fake := newFakeRegistry()
	fake.schemas[1] = readFile(t, "testdata/dir/1-event.avsc")
	fake.schemas[2] = readFile(t, "testdata/dir/event-v2.avsc")
	fake.schemas[3] = `syntax = "proto3"; message M {}`
	fake.types[3] = "PROTOBUF"
	srv := httptest.NewServer(fake)
	defer srv.Close()

	now := time.Unix(1000, 0)
	reg, err := NewRegistry(srv.URL, WithUnknownTTL(time.Minute), withClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("schema by id is fetched once", func(t *testing.T) {
		for range 3 {
			s, err := reg.SchemaByID(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(s.String(), "airlock.testbed.Event") {
				t.Fatalf("schema %s", s)
			}
		}
		if n := fake.getCount(1); n != 1 {
			t.Fatalf("GET /schemas/ids/1 %d times, want 1", n)
		}
	})
	t.Run("unknown id is remembered for the ttl", func(t *testing.T) {
		for range 2 {
			if _, err := reg.SchemaByID(ctx, 404); !errors.Is(err, ErrUnknownSchema) {
				t.Fatalf("err = %v, want ErrUnknownSchema", err)
			}
		}
		if n := fake.getCount(404); n != 1 {
			t.Fatalf("GET /schemas/ids/404 %d times within the ttl, want 1", n)
		}
		now = now.Add(2 * time.Minute)
		if _, err := reg.SchemaByID(ctx, 404); !errors.Is(err, ErrUnknownSchema) {
			t.Fatalf("err = %v", err)
		}
		if n := fake.getCount(404); n != 2 {
			t.Fatalf("GET /schemas/ids/404 %d times after the ttl, want 2", n)
		}
	})
	t.Run("non-avro schema", func(t *testing.T) {
		if _, err := reg.SchemaByID(ctx, 3); !errors.Is(err, ErrNotAvro) {
			t.Fatalf("err = %v, want ErrNotAvro", err)
		}
	})
	t.Run("register then decode through the registry", func(t *testing.T) {
		s, err := ParseFile("testdata/simple.avsc")
		if err != nil {
			t.Fatal(err)
		}
		id, err := reg.IDFor(ctx, "simple-value", s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := reg.IDFor(ctx, "simple-value", s)
		if err != nil || again != id {
			t.Fatalf("second IDFor = %d, %v; want %d", again, err, id)
		}
		if fake.posts != 1 {
			t.Fatalf("%d registrations, want 1 (cached)", fake.posts)
		}
		body, err := API().Marshal(s, map[string]any{"n": int64(3), "s": "x"})
		if err != nil {
			t.Fatal(err)
		}
		// A fresh client (a consumer elsewhere) resolves the id from the registry.
		other, err := NewRegistry(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		gotID, native, err := Decode(ctx, other, AppendWire(nil, id, body))
		if err != nil || gotID != id || native.(map[string]any)["s"] != "x" {
			t.Fatalf("decode: id %d %v %v", gotID, native, err)
		}
	})
	t.Run("registered text keeps defaults", func(t *testing.T) {
		v2, err := reg.SchemaByID(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		id, err := reg.IDFor(ctx, "events-value", v2)
		if err != nil {
			t.Fatal(err)
		}
		got, err := NewRegistry(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		s, err := got.SchemaByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := Text(s)
		if !strings.Contains(text, `"default":"unknown"`) || !strings.Contains(text, "timestamp-millis") {
			t.Fatalf("registered schema lost its default or logical type: %s", text)
		}
	})
}

func TestRegistryErrors(t *testing.T) {
	ctx := context.Background()
	fake := newFakeRegistry()
	fake.username = "alice"
	srv := httptest.NewServer(fake)
	defer srv.Close()

	if _, err := NewRegistry(" , "); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("empty url err = %v", err)
	}
	reg, err := NewRegistry(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.SchemaByID(ctx, 1)
	if err == nil || errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("unauthorized: err = %v, want a registry error that is not 'unknown schema'", err)
	}

	f := Flags{Registry: srv.URL, RegistryUser: "alice", RegistryPassword: "pw"}
	store, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SchemaByID(ctx, 1); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("with basic auth: err = %v, want ErrUnknownSchema", err)
	}
}
