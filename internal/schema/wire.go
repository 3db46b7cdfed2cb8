// Package schema handles Avro records in the Confluent wire format (magic byte 0, a
// 4-byte big-endian schema id, then the Avro binary body) and the places schemas come
// from: local .avsc files with assigned ids, or a Confluent-compatible schema registry.
//
// It validates records (Decode, DecodeInto) and re-encodes them for another schema
// (Convert, Converter), applying Avro schema resolution so a reader schema reads
// records written with an older or newer writer schema.
package schema

import (
	"encoding/binary"
	"fmt"
)

const (
	// Magic is the first byte of every Confluent wire format record.
	Magic byte = 0
	// HeaderSize is the length of the wire format prefix: magic byte + schema id.
	HeaderSize = 5
)

// SplitWire splits a wire format record into its schema id and Avro body. The body
// aliases b. It returns ErrNotWireFormat when b is shorter than the header or does not
// start with the magic byte.
func SplitWire(b []byte) (id int, body []byte, err error) {
	if len(b) < HeaderSize {
		return 0, nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrNotWireFormat, len(b), HeaderSize)
	}
	if b[0] != Magic {
		return 0, nil, fmt.Errorf("%w: magic byte %#x, want %#x", ErrNotWireFormat, b[0], Magic)
	}
	return int(binary.BigEndian.Uint32(b[1:HeaderSize])), b[HeaderSize:], nil
}

// AppendWire appends the wire format header for id and then body to dst. Ids are
// unsigned 32-bit on the wire; id is truncated to that.
func AppendWire(dst []byte, id int, body []byte) []byte {
	dst = append(dst, Magic)
	dst = binary.BigEndian.AppendUint32(dst, uint32(id))
	return append(dst, body...)
}
