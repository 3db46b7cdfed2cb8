package schema

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Registry is a Source and Registrar backed by a Confluent-compatible schema registry
// (franz-go pkg/sr). Schemas are cached by id forever (an id never changes meaning);
// ids that the registry does not know are remembered for a short time, so a stream of
// garbage records with random ids does not turn into a stream of HTTP requests.
// Safe for concurrent use.
type Registry struct {
	cl     *sr.Client
	negTTL time.Duration
	now    func() time.Time

	mu      sync.Mutex
	byID    map[int]avro.Schema
	unknown map[int]time.Time // id -> when it was last found missing
	ids     map[subjectText]int
}

type subjectText struct{ subject, text string }

// RegistryOpt configures NewRegistry.
type RegistryOpt interface{ apply(*registryCfg) }

type registryOpt func(*registryCfg)

func (o registryOpt) apply(c *registryCfg) { o(c) }

type registryCfg struct {
	clientOpts []sr.ClientOpt
	negTTL     time.Duration
	now        func() time.Time
}

// WithClientOpts passes options to the franz-go registry client: sr.BasicAuth,
// sr.DialTLSConfig, sr.HTTPClient, more URLs.
func WithClientOpts(opts ...sr.ClientOpt) RegistryOpt {
	return registryOpt(func(c *registryCfg) { c.clientOpts = append(c.clientOpts, opts...) })
}

// WithUnknownTTL sets how long an id the registry does not know is answered from
// memory, overriding the default of 10s. 0 asks the registry every time.
func WithUnknownTTL(d time.Duration) RegistryOpt {
	return registryOpt(func(c *registryCfg) { c.negTTL = d })
}

// withClock replaces time.Now in tests.
func withClock(now func() time.Time) RegistryOpt {
	return registryOpt(func(c *registryCfg) { c.now = now })
}

// NewRegistry returns a registry source for the registry at url (several URLs may be
// given comma-separated; the client fails over between them).
func NewRegistry(url string, opts ...RegistryOpt) (*Registry, error) {
	c := registryCfg{negTTL: 10 * time.Second, now: time.Now}
	for _, o := range opts {
		o.apply(&c)
	}
	var urls []string
	for _, u := range strings.Split(url, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("%w: empty schema registry URL", ErrBadSpec)
	}
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(urls...)}, c.clientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return &Registry{
		cl:      cl,
		negTTL:  c.negTTL,
		now:     c.now,
		byID:    map[int]avro.Schema{},
		unknown: map[int]time.Time{},
		ids:     map[subjectText]int{},
	}, nil
}

// SchemaByID implements Source: GET /schemas/ids/{id}, cached.
func (r *Registry) SchemaByID(ctx context.Context, id int) (avro.Schema, error) {
	r.mu.Lock()
	s, ok := r.byID[id]
	at, missing := r.unknown[id]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	if missing && r.now().Sub(at) < r.negTTL {
		return nil, fmt.Errorf("%w: id %d (registry answered not found recently)", ErrUnknownSchema, id)
	}

	rs, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		if isNotFound(err) {
			r.mu.Lock()
			r.unknown[id] = r.now()
			r.mu.Unlock()
			return nil, fmt.Errorf("%w: id %d: %v", ErrUnknownSchema, id, err)
		}
		return nil, fmt.Errorf("schema registry: get schema %d: %w", id, err)
	}
	s, err = parseRegistered(rs)
	if err != nil {
		return nil, fmt.Errorf("schema registry: schema %d: %w", id, err)
	}
	r.mu.Lock()
	r.byID[id] = s
	delete(r.unknown, id)
	r.mu.Unlock()
	return s, nil
}

// IDFor implements Registrar: POST /subjects/{subject}/versions, which returns the
// existing id when the schema is already registered under subject. Cached per
// (subject, schema text).
func (r *Registry) IDFor(ctx context.Context, subject string, s avro.Schema) (int, error) {
	text, err := Text(s)
	if err != nil {
		return 0, err
	}
	key := subjectText{subject, text}
	r.mu.Lock()
	id, ok := r.ids[key]
	r.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err = r.cl.RegisterSchema(ctx, subject, sr.Schema{Schema: text, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return 0, fmt.Errorf("schema registry: register schema under subject %q: %w", subject, err)
	}
	r.mu.Lock()
	r.ids[key] = id
	if _, ok := r.byID[id]; !ok {
		r.byID[id] = s
	}
	r.mu.Unlock()
	return id, nil
}

func isNotFound(err error) bool {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.StatusCode == http.StatusNotFound || re.ErrorCode == sr.ErrSchemaNotFound.Code
}

func parseRegistered(rs sr.Schema) (avro.Schema, error) {
	if rs.Type != sr.TypeAvro {
		return nil, fmt.Errorf("%w: type %s", ErrNotAvro, rs.Type)
	}
	if len(rs.References) > 0 {
		return nil, fmt.Errorf("%w: it has %d references", ErrNotAvro, len(rs.References))
	}
	return Parse(rs.Schema)
}
