package bridge

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/airlock-kafka/airlock/internal/schema"
)

// AvroValidator is the Validator for topics that carry Avro in the Confluent
// wire format. Every value of a selected topic is decoded with its writer
// schema (the id in its header, resolved by a schema.Source: local .avsc
// files or a registry) and, with a target schema, re-encoded for it under the
// target id. Records of other topics pass untouched.
//
// A record that cannot be read is rejected with a *Rejection naming the
// reason class (ReasonNotWireFormat, ReasonUnknownSchema, ReasonMalformed,
// ReasonIncompatible, ReasonNotAvro), which sends it to the dead-letter
// topic. Any other failure — the registry unreachable, answering 5xx or
// refusing our credentials — is wrapped in ErrTransient: the bridge aborts
// and retries the transaction, because a record must never be dead-lettered
// for the registry's sake.
//
// A null value (a tombstone of a compacted topic) is not Avro and passes, as
// in Confluent's deserializers. Safe for concurrent use.
type AvroValidator struct {
	src    schema.Source
	topics map[string]bool
	res    []*regexp.Regexp
	conv   *schema.Converter // nil: validate only, keep the bytes

	mu       sync.Mutex
	selected map[string]bool // topic -> matched, memoised (topics are few, records many)
}

// AvroOpt configures NewAvroValidator.
type AvroOpt interface{ applyAvro(*avroCfg) }

type avroOpt func(*avroCfg)

func (o avroOpt) applyAvro(c *avroCfg) { o(c) }

type avroCfg struct {
	topics   []string
	res      []string
	target   avro.Schema
	targetID int
}

// AvroTopics selects source topics by exact name.
func AvroTopics(topics ...string) AvroOpt {
	return avroOpt(func(c *avroCfg) { c.topics = append(c.topics, topics...) })
}

// AvroTopicRegex selects source topics whose whole name matches one of the
// regular expressions.
func AvroTopicRegex(res ...string) AvroOpt {
	return avroOpt(func(c *avroCfg) { c.res = append(c.res, res...) })
}

// AvroTarget re-encodes every value for schema s and writes id into its wire
// header, resolving each writer schema against s (fields s adds get their
// defaults, fields it lacks are dropped). id belongs to the target side's
// registry, which may number schemas differently from the source's.
func AvroTarget(s avro.Schema, id int) AvroOpt {
	return avroOpt(func(c *avroCfg) { c.target, c.targetID = s, id })
}

// NewAvroValidator returns a validator reading writer schemas from src. At
// least one topic or regular expression is required.
func NewAvroValidator(src schema.Source, opts ...AvroOpt) (*AvroValidator, error) {
	var c avroCfg
	for _, o := range opts {
		o.applyAvro(&c)
	}
	var errs []error
	if src == nil {
		errs = append(errs, errors.New("no schema source"))
	}
	if len(c.topics) == 0 && len(c.res) == 0 {
		errs = append(errs, errors.New("no Avro topics: give topics or a regex"))
	}
	v := &AvroValidator{src: src, topics: map[string]bool{}, selected: map[string]bool{}}
	for _, t := range c.topics {
		v.topics[t] = true
	}
	for _, s := range c.res {
		re, err := regexp.Compile("^(?:" + s + ")$")
		if err != nil {
			errs = append(errs, fmt.Errorf("avro topic regex %q: %v", s, err))
			continue
		}
		v.res = append(v.res, re)
	}
	if c.target != nil {
		if c.targetID < 0 || int64(c.targetID) > 1<<32-1 {
			errs = append(errs, fmt.Errorf("target schema id %d is not in [0, 2^32)", c.targetID))
		}
		v.conv = schema.NewConverter(src, c.target, c.targetID)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return v, nil
}

// Validate implements Validator.
func (v *AvroValidator) Validate(ctx context.Context, topic string, value []byte) ([]byte, error) {
	if value == nil || !v.selects(topic) {
		return nil, nil
	}
	if v.conv != nil {
		out, err := v.conv.Convert(ctx, value)
		if err != nil {
			return nil, classify(err)
		}
		return out, nil
	}
	if _, _, err := schema.Decode(ctx, v.src, value); err != nil {
		return nil, classify(err)
	}
	return nil, nil
}

// selects reports whether topic carries Avro.
func (v *AvroValidator) selects(topic string) bool {
	if v.topics[topic] {
		return true
	}
	if len(v.res) == 0 {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	sel, ok := v.selected[topic]
	if !ok {
		for _, re := range v.res {
			if re.MatchString(topic) {
				sel = true
				break
			}
		}
		v.selected[topic] = sel
	}
	return sel
}

// recordFaults maps internal/schema's sentinels for bad records to reason
// classes. Everything else schema returns is about reaching the schemas.
var recordFaults = []struct {
	err    error
	reason string
}{
	{schema.ErrNotWireFormat, ReasonNotWireFormat},
	{schema.ErrUnknownSchema, ReasonUnknownSchema},
	{schema.ErrMalformed, ReasonMalformed},
	{schema.ErrIncompatible, ReasonIncompatible},
	{schema.ErrNotAvro, ReasonNotAvro},
}

// classify turns a schema error into a Rejection when the record is at
// fault, and into an ErrTransient error otherwise.
func classify(err error) error {
	for _, f := range recordFaults {
		if errors.Is(err, f.err) {
			return &Rejection{Reason: f.reason, Err: err}
		}
	}
	return fmt.Errorf("%w: %w", ErrTransient, err)
}
