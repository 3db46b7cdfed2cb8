package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// Source resolves schema ids found in wire format records.
type Source interface {
	// SchemaByID returns the schema registered under id, or an error wrapping
	// ErrUnknownSchema when there is none.
	SchemaByID(ctx context.Context, id int) (avro.Schema, error)
}

// Registrar finds the id a producer writes for a schema.
type Registrar interface {
	// IDFor returns the id of s under subject: a registry registers s if needed
	// (idempotent), a local source looks it up and returns ErrUnknownSchema when it
	// does not hold it.
	IDFor(ctx context.Context, subject string, s avro.Schema) (int, error)
}

// Parse parses an Avro schema text. Each call uses its own name cache: two versions of
// the same named record (event v1 and v2) must not overwrite each other, which they
// would in hamba/avro's process-wide default cache.
func Parse(text string) (avro.Schema, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("parse avro schema: %w", err)
	}
	return s, nil
}

// ParseFile reads and parses one .avsc file.
func ParseFile(path string) (avro.Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	s, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Text returns the full JSON text of s, with defaults, logical types and docs (unlike
// s.String(), which is the Parsing Canonical Form and drops defaults).
func Text(s avro.Schema) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("marshal avro schema: %w", err)
	}
	return string(b), nil
}

// ParseSpec splits a "--schema" flag value of the form "id=path.avsc".
func ParseSpec(spec string) (id int, path string, err error) {
	idText, path, ok := strings.Cut(spec, "=")
	if !ok || strings.TrimSpace(path) == "" {
		return 0, "", fmt.Errorf("%w: %q: want id=path.avsc", ErrBadSpec, spec)
	}
	id, err = parseID(strings.TrimSpace(idText))
	if err != nil {
		return 0, "", fmt.Errorf("%w: %q: %v", ErrBadSpec, spec, err)
	}
	return id, strings.TrimSpace(path), nil
}

func parseID(s string) (int, error) {
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("schema id %q is not a number in [0, 2^32)", s)
	}
	return int(id), nil
}

// dirName is the directory convention: "<id>.avsc", "<id>-<name>.avsc" or
// "<name>-v<id>.avsc" (so schemas/event-v1.avsc is id 1 and event-v2.avsc is id 2).
var dirName = regexp.MustCompile(`^(?:(\d+)(?:[-_.].*)?|.*[-_]v(\d+))$`)

// IDFromFileName derives a schema id from an .avsc file name by the directory
// convention: "<id>.avsc", "<id>-<name>.avsc" or "<name>-v<id>.avsc".
func IDFromFileName(name string) (int, error) {
	base := strings.TrimSuffix(filepath.Base(name), ".avsc")
	m := dirName.FindStringSubmatch(base)
	if m == nil {
		return 0, fmt.Errorf("%w: %s: cannot derive a schema id from the file name (want <id>.avsc, <id>-<name>.avsc or <name>-v<id>.avsc)", ErrBadSpec, name)
	}
	digits := m[1]
	if digits == "" {
		digits = m[2]
	}
	id, err := parseID(digits)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrBadSpec, name, err)
	}
	return id, nil
}

// Local is a Source and Registrar over a fixed set of schemas with assigned ids, for
// running without a registry. It is immutable after NewLocal and safe for concurrent use.
type Local struct {
	byID map[int]avro.Schema
	byFP map[[32]byte]int
}

// LocalOpt configures NewLocal.
type LocalOpt interface{ apply(*localCfg) }

type localOpt func(*localCfg)

func (o localOpt) apply(c *localCfg) { o(c) }

type localEntry struct {
	id     int
	schema avro.Schema
	text   string
	path   string
}

type localCfg struct {
	entries []localEntry
	dirs    []string
	specs   []string
}

// WithSchema adds an already parsed schema under id.
func WithSchema(id int, s avro.Schema) LocalOpt {
	return localOpt(func(c *localCfg) { c.entries = append(c.entries, localEntry{id: id, schema: s}) })
}

// WithSchemaText adds a schema given as Avro JSON text under id.
func WithSchemaText(id int, text string) LocalOpt {
	return localOpt(func(c *localCfg) { c.entries = append(c.entries, localEntry{id: id, text: text}) })
}

// WithFile adds the schema in the .avsc file at path under id.
func WithFile(id int, path string) LocalOpt {
	return localOpt(func(c *localCfg) { c.entries = append(c.entries, localEntry{id: id, path: path}) })
}

// WithSpecs adds schemas given as "id=path.avsc" (the --schema flag).
func WithSpecs(specs ...string) LocalOpt {
	return localOpt(func(c *localCfg) { c.specs = append(c.specs, specs...) })
}

// WithDir adds every *.avsc file in dir, each under the id its name gives (see
// IDFromFileName). A file whose name carries no id is an error, not skipped: a
// silently missing schema would show up much later as "unknown schema" on records.
func WithDir(dir string) LocalOpt {
	return localOpt(func(c *localCfg) { c.dirs = append(c.dirs, dir) })
}

// NewLocal builds a Local source. The same id given twice is an error unless both
// name the same schema.
func NewLocal(opts ...LocalOpt) (*Local, error) {
	var c localCfg
	for _, o := range opts {
		o.apply(&c)
	}
	for _, spec := range c.specs {
		id, path, err := ParseSpec(spec)
		if err != nil {
			return nil, err
		}
		c.entries = append(c.entries, localEntry{id: id, path: path})
	}
	for _, dir := range c.dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.avsc"))
		if err != nil {
			return nil, fmt.Errorf("%w: schema dir %s: %v", ErrBadSpec, dir, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%w: schema dir %s holds no .avsc file", ErrBadSpec, dir)
		}
		sort.Strings(files)
		for _, f := range files {
			id, err := IDFromFileName(f)
			if err != nil {
				return nil, err
			}
			c.entries = append(c.entries, localEntry{id: id, path: f})
		}
	}

	l := &Local{byID: map[int]avro.Schema{}, byFP: map[[32]byte]int{}}
	for _, e := range c.entries {
		if err := l.add(e); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *Local) add(e localEntry) error {
	if e.id < 0 || int64(e.id) > 1<<32-1 {
		return fmt.Errorf("%w: schema id %d out of range", ErrBadSpec, e.id)
	}
	s, what := e.schema, "schema"
	var err error
	switch {
	case s != nil:
	case e.path != "":
		what = e.path
		s, err = ParseFile(e.path)
	default:
		s, err = Parse(e.text)
	}
	if err != nil {
		return fmt.Errorf("schema id %d: %w", e.id, err)
	}
	if prev, ok := l.byID[e.id]; ok {
		if prev.Fingerprint() != s.Fingerprint() {
			return fmt.Errorf("%w: schema id %d given twice with different schemas (second: %s)", ErrBadSpec, e.id, what)
		}
		return nil
	}
	l.byID[e.id] = s
	// The lowest id wins for IDFor when one schema sits under several ids, so the
	// answer does not depend on option order.
	if prev, ok := l.byFP[s.Fingerprint()]; !ok || e.id < prev {
		l.byFP[s.Fingerprint()] = e.id
	}
	return nil
}

// SchemaByID implements Source.
func (l *Local) SchemaByID(_ context.Context, id int) (avro.Schema, error) {
	s, ok := l.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: id %d (local schemas: %v)", ErrUnknownSchema, id, l.IDs())
	}
	return s, nil
}

// IDFor implements Registrar: the id under which s (compared by its Parsing Canonical
// Form fingerprint) was given. The subject is ignored; local ids are global.
func (l *Local) IDFor(_ context.Context, _ string, s avro.Schema) (int, error) {
	id, ok := l.byFP[s.Fingerprint()]
	if !ok {
		return 0, fmt.Errorf("%w: schema %.80s is not among the local schemas (ids %v)", ErrUnknownSchema, s.String(), l.IDs())
	}
	return id, nil
}

// IDs returns the ids l holds, sorted.
func (l *Local) IDs() []int {
	ids := make([]int, 0, len(l.byID))
	for id := range l.byID {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}
