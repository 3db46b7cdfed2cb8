package schema

import "errors"

// Sentinel errors. Every error a function of this package returns for bad input wraps
// one of these, so callers (the bridge's dead-letter path, the checker's classes) can
// sort failures with errors.Is without parsing messages.
var (
	// ErrNotWireFormat: the bytes do not start with the Confluent header (magic byte 0
	// and a 4-byte schema id), or are shorter than it.
	ErrNotWireFormat = errors.New("not in Confluent wire format")

	// ErrUnknownSchema: no schema is known under the id (or for the schema asked for).
	ErrUnknownSchema = errors.New("unknown schema")

	// ErrMalformed: the body does not decode with its writer schema (truncated, trailing
	// bytes, bad length or enum index, or a value the schema cannot hold).
	ErrMalformed = errors.New("body does not match its schema")

	// ErrIncompatible: a record written with one schema cannot be read with another.
	ErrIncompatible = errors.New("schemas are incompatible")

	// ErrNotAvro: a registry returned a schema of another type (PROTOBUF, JSON), or one
	// with references, which this package does not resolve.
	ErrNotAvro = errors.New("not a self-contained Avro schema")

	// ErrBadSpec: a schema source was configured wrongly (bad "id=path", file name
	// without an id, the same id twice).
	ErrBadSpec = errors.New("bad schema source")
)
