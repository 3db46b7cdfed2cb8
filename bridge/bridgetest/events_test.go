package bridgetest

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/provenance"
)

// TestCheckEvents feeds CheckEvents a faithful copy and copies broken in one
// way each: the checker must see exactly that anomaly.
func TestCheckEvents(t *testing.T) {
	ctx := context.Background()
	p, err := NewEventProducer("p1")
	if err != nil {
		t.Fatal(err)
	}
	var src []*kgo.Record
	for i := range 6 {
		r, err := p.Record("t", 0)
		if err != nil {
			t.Fatal(err)
		}
		r.Offset = int64(2 * i) // gaps, like transaction markers leave
		src = append(src, r)
	}
	if err := p.Acked(src...); err != nil {
		t.Fatal(err)
	}
	schemas, err := event.DefaultSource()
	if err != nil {
		t.Fatal(err)
	}
	// copyOf is the target copy of source record i at target offset at.
	copyOf := func(i int, at int64) *kgo.Record {
		s := src[i]
		hs := append(slices.Clone(s.Headers), provenance.Source{Cluster: "src", Topic: "t", Partition: 0, Offset: s.Offset}.Headers()...)
		return &kgo.Record{Topic: "c.t", Partition: 0, Offset: at, Key: s.Key, Value: s.Value, Headers: hs}
	}
	faithful := func() []*kgo.Record {
		var out []*kgo.Record
		for i := range src {
			out = append(out, copyOf(i, int64(i)))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		target func() []*kgo.Record
		want   consumer.Class // "" for a clean report
	}{
		{"faithful copy", faithful, ""},
		{"duplicate", func() []*kgo.Record { return append(faithful(), copyOf(2, 6)) }, consumer.ClassDuplicate},
		{"lost", func() []*kgo.Record { return faithful()[:5] }, consumer.ClassLost},
		{"reordered", func() []*kgo.Record {
			out := faithful()
			out[1], out[2] = copyOf(2, 1), copyOf(1, 2)
			return out
		}, consumer.ClassOrderPartition},
		{"wrong provenance", func() []*kgo.Record {
			out := faithful()
			r := copyOf(3, 3)
			r.Headers = append(slices.Clone(src[3].Headers), provenance.Source{Cluster: "src", Topic: "t", Partition: 0, Offset: src[4].Offset}.Headers()...)
			out[3] = r
			return out
		}, consumer.ClassProvenance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := CheckEvents(ctx, schemas, []event.Ledger{p.Ledger()}, "src",
				map[string]Records{"t": {0: src}}, map[string]Records{"c.t": {0: tc.target()}},
				func(topic string) string { return "c." + topic })
			if tc.want == "" {
				if !rep.OK || rep.Stats.AckedSeen != 6 || rep.Stats.ProvenanceOK != 6 {
					t.Fatalf("clean copy judged %+v", rep)
				}
				return
			}
			if rep.OK || rep.Class(tc.want).Count == 0 {
				t.Fatalf("want %s reported, got %+v", tc.want, rep.Classes)
			}
		})
	}
}
