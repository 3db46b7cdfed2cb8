package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/provenance"
)

func obs(topic string, p int32, off int64, producer string, seq int64, key string) Observed {
	return Observed{Topic: topic, Partition: p, Offset: off, Key: key, SchemaID: 1,
		ID: event.ID{Producer: producer, Seq: seq}, EventKey: key,
		HeaderID: event.ID{Producer: producer, Seq: seq}, HasHeader: true}
}

func entry(producer string, seq int64, key string, st event.Status, p int32, off int64) event.Entry {
	return event.Entry{Producer: producer, Seq: seq, Key: key, Status: st, Topic: "t", Partition: p, Offset: off, Txn: -1}
}

// baseline: p1 wrote seq 0..3 (keys a, b, a, b) to t/0 at offsets 0..3, all acked.
func baseline() ([]event.Ledger, []Observed) {
	l := event.Ledger{Name: "p1.jsonl"}
	var o []Observed
	for i := range int64(4) {
		key := []string{"a", "b"}[i%2]
		l.Entries = append(l.Entries, entry("p1", i, key, event.StatusAcked, 0, i))
		o = append(o, obs("t", 0, i, "p1", i, key))
	}
	return []event.Ledger{l}, o
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed)
		opts   []CheckOpt
		want   map[Class]int
		errs   int
		detail string // a substring some example of a wanted class must carry
	}{
		{name: "clean", mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) { return ls, o }},
		{
			name: "lost: acked and never seen",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				return ls, append(o[:2:2], o[3])
			},
			want: map[Class]int{ClassLost: 1}, detail: "acked at t/0@2, never seen",
		},
		{
			name: "duplicate at a second offset",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				return ls, append(o, obs("t", 0, 4, "p1", 1, "b"))
			},
			want: map[Class]int{ClassDuplicate: 1}, detail: "seen 2 times",
		},
		{
			name: "duplicate: one offset read twice",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				return ls, append(o, o[2])
			},
			want: map[Class]int{ClassDuplicate: 1},
		},
		{
			name: "aborted read",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				ls[0].Entries[3].Status, ls[0].Entries[3].Txn = event.StatusAborted, 7
				return ls, o
			},
			want: map[Class]int{ClassAbortedRead: 1}, detail: "transaction 7 of p1 was aborted",
		},
		{
			// The bridge copies t/0@0..3 to the same topic name on the target, where the
			// records land at other offsets (markers of earlier transactions): the ledger
			// is compared at the position the provenance headers name, not the target's.
			name: "bridged copy at other offsets of a same-named topic",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				for i := range o {
					o[i].Source = provenance.Source{Cluster: "src", Topic: "t", Partition: 0, Offset: o[i].Offset}
					o[i].HasSource = true
					o[i].Offset += 10
				}
				return ls, o
			},
		},
		{
			name: "bridged copy whose provenance names the wrong source offset",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				for i := range o {
					o[i].Source = provenance.Source{Cluster: "src", Topic: "t", Partition: 0, Offset: o[i].Offset}
					o[i].HasSource = true
					o[i].Offset += 10
				}
				o[1].Source.Offset, o[2].Source.Offset = 2, 1
				return ls, o
			},
			want: map[Class]int{ClassInconsistent: 2}, detail: "acked at this offset, which holds",
		},
		{
			name: "unexpected event",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				return ls, append(o, obs("t", 1, 0, "stranger", 0, "z"))
			},
			want: map[Class]int{ClassUnexpected: 1}, detail: "no ledger produced",
		},
		{
			name: "reordered pair in one key",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				// seq 0 and 2 (both key a) swap offsets.
				o[0].Offset, o[2].Offset = 2, 0
				return ls, o
			},
			want:   map[Class]int{ClassOrderPartition: 2, ClassOrderKey: 1, ClassInconsistent: 2},
			detail: `seq 0 after seq 2 of producer p1 for key "a"`,
		},
		{
			name: "undecodable record",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				return ls, append(o, Observed{Topic: "t", Partition: 0, Offset: 4, Err: "not in Confluent wire format"})
			},
			want: map[Class]int{ClassUndecodable: 1}, detail: "not in Confluent wire format",
		},
		{
			name: "record key differs from event key",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				o[1].Key = "other"
				return ls, o
			},
			want: map[Class]int{ClassInconsistent: 1}, detail: `record key "other" differs`,
		},
		{
			name: "headers disagree with the body",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				o[1].HeaderID.Seq = 99
				return ls, o
			},
			want: map[Class]int{ClassInconsistent: 1}, detail: "headers claim event p1/99",
		},
		{
			name: "uncertain: seen counts as delivered, unseen is not lost",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				ls[0].Entries[1].Status = event.StatusUncertain
				ls[0].Entries[3].Status = event.StatusUncertain
				return ls, o[:3]
			},
		},
		{
			name: "one event in two ledgers",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				return append(ls, event.Ledger{Name: "copy.jsonl", Entries: ls[0].Entries[:1]}), o
			},
			errs: 1,
		},
		{
			name: "no ledgers: record-level checks only",
			mutate: func(_ []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				return nil, append(o, o[0])
			},
			want: map[Class]int{ClassDuplicate: 1},
		},
		{
			name: "provenance verified",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				for i := range o {
					o[i].Source, o[i].HasSource = provenance.Source{Cluster: "src", Topic: "s", Partition: 0, Offset: int64(10 + i)}, true
				}
				return ls, o
			},
			opts: []CheckOpt{WithSourceLookup(IndexLookup{
				{Cluster: "src", Topic: "s", Partition: 0, Offset: 10}: {Producer: "p1", Seq: 0},
				{Cluster: "src", Topic: "s", Partition: 0, Offset: 11}: {Producer: "p1", Seq: 1},
				{Cluster: "src", Topic: "s", Partition: 0, Offset: 12}: {Producer: "p1", Seq: 2},
				{Cluster: "src", Topic: "s", Partition: 0, Offset: 13}: {Producer: "p1", Seq: 3},
			})},
		},
		{
			name: "provenance mismatch",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				o[0].Source, o[0].HasSource = provenance.Source{Cluster: "src", Topic: "s", Partition: 0, Offset: 10}, true
				o[1].Source, o[1].HasSource = provenance.Source{Cluster: "src", Topic: "s", Partition: 0, Offset: 11}, true
				return ls, o
			},
			opts: []CheckOpt{WithSourceLookup(IndexLookup{
				{Cluster: "src", Topic: "s", Partition: 0, Offset: 10}: {Producer: "p1", Seq: 5},
			})},
			want: map[Class]int{ClassProvenance: 2}, detail: "source position holds p1/5",
		},
		{
			name: "provenance lookup fails",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				o[0].Source, o[0].HasSource = provenance.Source{Topic: "s"}, true
				return ls, o
			},
			opts: []CheckOpt{WithSourceLookup(failingLookup{})},
			errs: 1,
		},
		{
			name: "provenance without a lookup is noted, not failed",
			mutate: func(ls []event.Ledger, o []Observed) ([]event.Ledger, []Observed) {
				o[0].Source, o[0].HasSource = provenance.Source{Topic: "s"}, true
				return ls, o
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, o := tc.mutate(baseline())
			rep := Check(context.Background(), ls, o, tc.opts...)
			for _, c := range AllClasses() {
				if got := rep.Class(c).Count; got != tc.want[c] {
					t.Errorf("class %s: count %d, want %d (examples %+v)", c, got, tc.want[c], rep.Class(c).Examples)
				}
			}
			if len(rep.Errors) != tc.errs {
				t.Errorf("errors %v, want %d", rep.Errors, tc.errs)
			}
			if wantOK := len(tc.want) == 0 && tc.errs == 0; rep.OK != wantOK {
				t.Errorf("OK = %v, want %v", rep.OK, wantOK)
			}
			if tc.detail != "" && !hasDetail(rep, tc.want, tc.detail) {
				t.Errorf("no example of %v mentions %q: %+v", tc.want, tc.detail, rep.Classes)
			}
			var table bytes.Buffer
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			if wantOK := len(tc.want) == 0 && tc.errs == 0; strings.Contains(table.String(), "result: PASS") != wantOK {
				t.Errorf("table verdict wrong:\n%s", table.String())
			}
		})
	}
}

func hasDetail(rep Report, classes map[Class]int, s string) bool {
	for c := range classes {
		for _, ex := range rep.Class(c).Examples {
			if strings.Contains(ex.Detail, s) {
				return true
			}
		}
	}
	return false
}

type failingLookup struct{}

func (failingLookup) Lookup(context.Context, []provenance.Source) (map[provenance.Source]event.ID, error) {
	return nil, errors.New("source cluster unreachable")
}

func TestCheckStatsAndExamples(t *testing.T) {
	ls, o := baseline()
	ls[0].Entries[1].Status = event.StatusUncertain
	ls[0].Entries[2].Status = event.StatusUncertain
	o = append(o[:2], o[3]) // seq 2 (uncertain) never seen
	for range 10 {
		o = append(o, o[0]) // seq 0 seen 11 times
	}
	rep := Check(context.Background(), ls, o, WithMaxExamples(1))
	st := rep.Stats
	if st.LedgerEvents != 4 || st.Acked != 2 || st.Uncertain != 2 || st.UncertainSeen != 1 || st.UncertainUnseen != 1 ||
		st.Records != 13 || st.Decoded != 13 || st.DistinctEvents != 3 || st.AckedSeen != 2 {
		t.Fatalf("stats %+v", st)
	}
	d := rep.Class(ClassDuplicate)
	if d.Count != 1 || len(d.Examples) != 1 || len(d.Examples[0].Where) != 11 {
		t.Fatalf("duplicate %+v", d)
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.OK || back.Class(ClassDuplicate).Count != 1 || back.Stats.UncertainUnseen != 1 {
		t.Fatalf("JSON round trip lost data: %s", js.String())
	}
}

func TestCheckDoesNotModifyInput(t *testing.T) {
	ls, o := baseline()
	o[0], o[3] = o[3], o[0]
	before := append([]Observed(nil), o...)
	Check(context.Background(), ls, o)
	for i := range o {
		if o[i] != before[i] {
			t.Fatalf("observed[%d] changed", i)
		}
	}
}
