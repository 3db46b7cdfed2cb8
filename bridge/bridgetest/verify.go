package bridgetest

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/provenance"
)

// Report is Verify's verdict on one source topic copied to one target topic.
type Report struct {
	Expected      int // source records that should have been copied
	Copied        int // target records that map to one of them, once each
	Missing       int // expected source records never found on the target
	Duplicates    int // target records copying a source record already seen
	Reordered     int // target records whose source offset went backwards
	BadProvenance int // target records without valid provenance for this source
	Mismatched    int // copies whose key, value, headers or timestamp differ
	Problems      []string
}

// OK reports an exactly-once, in-order, faithful copy.
func (r Report) OK() bool {
	return r.Missing == 0 && r.Duplicates == 0 && r.Reordered == 0 && r.BadProvenance == 0 && r.Mismatched == 0 && r.Copied == r.Expected
}

func (r Report) String() string {
	s := fmt.Sprintf("expected=%d copied=%d missing=%d duplicates=%d reordered=%d bad_provenance=%d mismatched=%d",
		r.Expected, r.Copied, r.Missing, r.Duplicates, r.Reordered, r.BadProvenance, r.Mismatched)
	if len(r.Problems) > 0 {
		s += "\n  " + strings.Join(r.Problems, "\n  ")
	}
	return s
}

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < 20 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Verify checks that target holds every record of source except those skip
// selects, exactly once, in source order per partition, on the same
// partition number, with key, value, headers and timestamp intact, and
// provenance headers naming sourceCluster, sourceTopic, the partition and the
// source offset. transform, when not nil, gives the value expected on the
// target for a source value (a re-encoding validator).
func Verify(source, target Records, sourceCluster, sourceTopic string, skip func(*kgo.Record) bool, transform func([]byte) []byte) Report {
	var r Report
	for p, srcs := range source {
		byOffset := map[int64]*kgo.Record{}
		for _, s := range srcs {
			if skip != nil && skip(s) {
				continue
			}
			byOffset[s.Offset] = s
			r.Expected++
		}
		seen := map[int64]bool{}
		last := int64(-1)
		for _, d := range target[p] {
			prov, ok := provenance.FromHeaders(d.Headers)
			if !ok || prov.Cluster != sourceCluster || prov.Topic != sourceTopic || prov.Partition != p {
				r.BadProvenance++
				r.problem("partition %d target offset %d: provenance %+v (ok=%v)", p, d.Offset, prov, ok)
				continue
			}
			s, ok := byOffset[prov.Offset]
			if !ok {
				r.BadProvenance++
				r.problem("partition %d target offset %d: copies source offset %d, which is not expected", p, d.Offset, prov.Offset)
				continue
			}
			if seen[prov.Offset] {
				r.Duplicates++
				r.problem("partition %d: source offset %d copied again at target offset %d", p, prov.Offset, d.Offset)
				continue
			}
			seen[prov.Offset] = true
			if prov.Offset < last {
				r.Reordered++
				r.problem("partition %d: source offset %d after %d", p, prov.Offset, last)
			}
			last = max(last, prov.Offset)
			r.Copied++
			want := s.Value
			if transform != nil {
				want = transform(s.Value)
			}
			if !bytes.Equal(d.Key, s.Key) || !bytes.Equal(d.Value, want) || !d.Timestamp.Equal(s.Timestamp) || !headersKept(s.Headers, d.Headers) {
				r.Mismatched++
				r.problem("partition %d source offset %d: copy differs: key %q/%q value %q/%q ts %v/%v",
					p, s.Offset, s.Key, d.Key, want, d.Value, s.Timestamp, d.Timestamp)
			}
		}
		for off := range byOffset {
			if !seen[off] {
				r.Missing++
				r.problem("partition %d: source offset %d never copied", p, off)
			}
		}
	}
	for p, ds := range target {
		if _, ok := source[p]; !ok && len(ds) > 0 {
			r.BadProvenance += len(ds)
			r.problem("target partition %d has %d records but the source partition is empty", p, len(ds))
		}
	}
	return r
}

// headersKept reports whether dst starts with the source headers src.
func headersKept(src, dst []kgo.RecordHeader) bool {
	if len(dst) < len(src) {
		return false
	}
	for i, h := range src {
		if dst[i].Key != h.Key || !bytes.Equal(dst[i].Value, h.Value) {
			return false
		}
	}
	return true
}
