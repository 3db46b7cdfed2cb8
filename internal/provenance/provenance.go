// Package provenance names the record headers airlock-bridge adds to every record it
// copies, so a checker can trace a target record back to its source offset and the
// bridge can refuse to copy its own output again (no replication cycles).
package provenance

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header keys. Values are UTF-8 strings; partition and offset are decimal.
const (
	HeaderCluster   = "airlock.source.cluster"
	HeaderTopic     = "airlock.source.topic"
	HeaderPartition = "airlock.source.partition"
	HeaderOffset    = "airlock.source.offset"
)

// Source is where a copied record came from.
type Source struct {
	Cluster   string
	Topic     string
	Partition int32
	Offset    int64
}

// Headers returns the provenance headers for s.
func (s Source) Headers() []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: HeaderCluster, Value: []byte(s.Cluster)},
		{Key: HeaderTopic, Value: []byte(s.Topic)},
		{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(s.Partition), 10)},
		{Key: HeaderOffset, Value: strconv.AppendInt(nil, s.Offset, 10)},
	}
}

// FromHeaders reads provenance from record headers; ok is false when any header is
// missing or malformed.
func FromHeaders(hs []kgo.RecordHeader) (s Source, ok bool) {
	var seen int
	for _, h := range hs {
		switch h.Key {
		case HeaderCluster:
			s.Cluster = string(h.Value)
			seen |= 1
		case HeaderTopic:
			s.Topic = string(h.Value)
			seen |= 2
		case HeaderPartition:
			p, err := strconv.ParseInt(string(h.Value), 10, 32)
			if err != nil {
				return Source{}, false
			}
			s.Partition = int32(p)
			seen |= 4
		case HeaderOffset:
			o, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil {
				return Source{}, false
			}
			s.Offset = o
			seen |= 8
		}
	}
	return s, seen == 15
}
