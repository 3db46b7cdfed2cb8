package consumer

import (
	"context"
	"fmt"
	"sort"

	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/provenance"
)

// Class is one kind of anomaly the checker reports.
type Class string

// Anomaly classes, after Jepsen's Kafka workload.
const (
	// ClassLost: acked by the broker (transaction committed), never seen.
	ClassLost Class = "lost"
	// ClassDuplicate: one event seen more than once (at several offsets, or at one
	// offset read twice).
	ClassDuplicate Class = "duplicate"
	// ClassAbortedRead: an event of an aborted transaction was seen (G1a).
	ClassAbortedRead Class = "aborted_read"
	// ClassUnexpected: an event no ledger produced.
	ClassUnexpected Class = "unexpected"
	// ClassOrderPartition: within a partition, a producer's seq went backwards.
	ClassOrderPartition Class = "order_partition"
	// ClassOrderKey: within a key (in one partition), a producer's seq went backwards.
	ClassOrderKey Class = "order_key"
	// ClassUndecodable: a record whose value is not a valid event.
	ClassUndecodable Class = "undecodable"
	// ClassInconsistent: a record disagrees with itself or with the ledger: record key
	// or event headers differ from the Avro body, or the offset an event was acked at
	// holds another event.
	ClassInconsistent Class = "inconsistent"
	// ClassProvenance: the source partition/offset a record's provenance headers name
	// does not hold that event.
	ClassProvenance Class = "provenance_mismatch"
)

// AllClasses lists every class in report order.
func AllClasses() []Class {
	return []Class{
		ClassLost, ClassDuplicate, ClassAbortedRead, ClassUnexpected, ClassOrderPartition,
		ClassOrderKey, ClassUndecodable, ClassInconsistent, ClassProvenance,
	}
}

// SourceLookup finds which event a source cluster holds at given positions. The CLI
// implements it by fetching from the source cluster (KafkaLookup); tests fake it
// (IndexLookup). A position missing from the result holds no event visible to a
// read_committed reader (absent, aborted, or undecodable).
type SourceLookup interface {
	Lookup(ctx context.Context, positions []provenance.Source) (map[provenance.Source]event.ID, error)
}

// IndexLookup is a SourceLookup over a known index, for tests and for callers that
// consumed the source themselves.
type IndexLookup map[provenance.Source]event.ID

// Lookup implements SourceLookup.
func (ix IndexLookup) Lookup(_ context.Context, positions []provenance.Source) (map[provenance.Source]event.ID, error) {
	out := make(map[provenance.Source]event.ID, len(positions))
	for _, p := range positions {
		if id, ok := ix[p]; ok {
			out[p] = id
		}
	}
	return out, nil
}

// CheckOpt configures Check.
type CheckOpt interface{ apply(*checkCfg) }

type checkOpt func(*checkCfg)

func (o checkOpt) apply(c *checkCfg) { o(c) }

type checkCfg struct {
	lookup      SourceLookup
	maxExamples int
}

// WithSourceLookup verifies provenance headers against l.
func WithSourceLookup(l SourceLookup) CheckOpt { return checkOpt(func(c *checkCfg) { c.lookup = l }) }

// WithMaxExamples sets how many examples each class keeps, overriding 5.
func WithMaxExamples(n int) CheckOpt { return checkOpt(func(c *checkCfg) { c.maxExamples = n }) }

// Example is one instance of an anomaly.
type Example struct {
	Event  string   `json:"event,omitempty"`
	Key    string   `json:"key,omitempty"`
	Where  []string `json:"where,omitempty"`
	Detail string   `json:"detail"`
}

// ClassResult is the count and examples of one class.
type ClassResult struct {
	Class    Class     `json:"class"`
	Count    int       `json:"count"`
	Examples []Example `json:"examples,omitempty"`
}

// Stats are the totals behind a report.
type Stats struct {
	Ledgers          []string `json:"ledgers"`
	LedgerEvents     int      `json:"ledger_events"`
	Acked            int      `json:"acked"`
	Aborted          int      `json:"aborted"`
	Uncertain        int      `json:"uncertain"`
	Records          int      `json:"records"`
	Decoded          int      `json:"decoded"`
	DistinctEvents   int      `json:"distinct_events"`
	AckedSeen        int      `json:"acked_seen"`
	UncertainSeen    int      `json:"uncertain_seen"`
	UncertainUnseen  int      `json:"uncertain_unseen"`
	WithProvenance   int      `json:"with_provenance"`
	ProvenanceOK     int      `json:"provenance_verified"`
	ProvenanceNoted  int      `json:"provenance_unverified"`
	ProvenanceLookup bool     `json:"provenance_lookup"`
}

// Report is the checker's verdict.
type Report struct {
	OK      bool          `json:"ok"`
	Stats   Stats         `json:"stats"`
	Classes []ClassResult `json:"classes"`
	// Errors are problems with the check itself (a ledger naming one event twice, a
	// failed provenance lookup); they fail the check like violations do.
	Errors []string `json:"errors,omitempty"`
}

// Violations returns the total count over all classes.
func (r *Report) Violations() int {
	n := 0
	for _, c := range r.Classes {
		n += c.Count
	}
	return n
}

// Class returns the result for class c.
func (r *Report) Class(c Class) ClassResult {
	for _, cr := range r.Classes {
		if cr.Class == c {
			return cr
		}
	}
	return ClassResult{Class: c}
}

type ledgered struct {
	e      *event.Entry
	ledger string
}

type pos struct {
	topic     string
	partition int32
	offset    int64
}

type checker struct {
	cfg     checkCfg
	classes map[Class]*ClassResult
	report  Report
}

func (c *checker) add(class Class, ex Example) {
	cr := c.classes[class]
	cr.Count++
	if len(cr.Examples) < c.cfg.maxExamples {
		cr.Examples = append(cr.Examples, ex)
	}
}

// Check compares observed records with the producers' ledgers. It does not modify its
// inputs. With no ledgers at all only the record-level classes apply (duplicate,
// order, undecodable, inconsistent, provenance), so it can validate a topic alone. The only I/O is the provenance lookup, when one is given; ctx bounds it.
func Check(ctx context.Context, ledgers []event.Ledger, observed []Observed, opts ...CheckOpt) Report {
	c := &checker{cfg: checkCfg{maxExamples: 5}, classes: map[Class]*ClassResult{}}
	for _, o := range opts {
		o.apply(&c.cfg)
	}
	for _, cl := range AllClasses() {
		c.classes[cl] = &ClassResult{Class: cl}
	}
	st := &c.report.Stats
	st.Records = len(observed)

	// Index the ledgers.
	led := map[event.ID]ledgered{}
	for li := range ledgers {
		l := &ledgers[li]
		st.Ledgers = append(st.Ledgers, l.Name)
		for i := range l.Entries {
			e := &l.Entries[i]
			id := e.ID()
			if prev, ok := led[id]; ok {
				c.report.Errors = append(c.report.Errors, fmt.Sprintf("event %s is in ledger %s and again in %s: producer ids must be unique per run", id, prev.ledger, l.Name))
				continue
			}
			led[id] = ledgered{e: e, ledger: l.Name}
			st.LedgerEvents++
			switch e.Status {
			case event.StatusAcked:
				st.Acked++
			case event.StatusAborted:
				st.Aborted++
			case event.StatusUncertain:
				st.Uncertain++
			}
		}
	}

	// Records in log order, so order checks compare neighbours by offset.
	idx := make([]int, len(observed))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		x, y := &observed[idx[a]], &observed[idx[b]]
		if x.Topic != y.Topic {
			return x.Topic < y.Topic
		}
		if x.Partition != y.Partition {
			return x.Partition < y.Partition
		}
		return x.Offset < y.Offset
	})

	seen := map[event.ID][]*Observed{}
	var firstSeen []event.ID
	at := map[pos]event.ID{}
	// Ledger offsets are where the producer's broker acknowledged an event. A
	// record copied by the bridge sits elsewhere on the target; its provenance
	// headers name the acknowledged position, so the ledger is compared there.
	ledgerAt := map[pos]event.ID{}
	topics := map[string]bool{}
	for _, i := range idx {
		o := &observed[i]
		lp := pos{o.Topic, o.Partition, o.Offset}
		if o.HasSource {
			lp = pos{o.Source.Topic, o.Source.Partition, o.Source.Offset}
		}
		topics[lp.topic] = true
		if o.Err != "" {
			c.add(ClassUndecodable, Example{Key: o.Key, Where: []string{o.Where()}, Detail: o.Err})
			continue
		}
		st.Decoded++
		if o.Key != o.EventKey {
			c.add(ClassInconsistent, Example{Event: o.ID.String(), Key: o.EventKey, Where: []string{o.Where()},
				Detail: fmt.Sprintf("record key %q differs from event key %q", o.Key, o.EventKey)})
		}
		if o.HasHeader && o.HeaderID != o.ID {
			c.add(ClassInconsistent, Example{Event: o.ID.String(), Key: o.EventKey, Where: []string{o.Where()},
				Detail: fmt.Sprintf("headers claim event %s, Avro body holds %s", o.HeaderID, o.ID)})
		}
		p := pos{o.Topic, o.Partition, o.Offset}
		if prev, ok := at[p]; ok && prev != o.ID {
			c.add(ClassInconsistent, Example{Event: o.ID.String(), Key: o.EventKey, Where: []string{o.Where()},
				Detail: fmt.Sprintf("offset read twice with different events: %s and %s", prev, o.ID)})
		} else if !ok {
			at[p] = o.ID
		}
		if _, ok := ledgerAt[lp]; !ok {
			ledgerAt[lp] = o.ID
		}
		if _, ok := seen[o.ID]; !ok {
			firstSeen = append(firstSeen, o.ID)
		}
		seen[o.ID] = append(seen[o.ID], o)
	}
	st.DistinctEvents = len(firstSeen)

	// Per seen event: duplicates, unexpected, aborted reads.
	for _, id := range firstSeen {
		obs := seen[id]
		first := obs[0]
		if len(obs) > 1 {
			ws := make([]string, len(obs))
			for i, o := range obs {
				ws[i] = o.Where()
			}
			c.add(ClassDuplicate, Example{Event: id.String(), Key: first.EventKey, Where: ws,
				Detail: fmt.Sprintf("seen %d times", len(obs))})
		}
		l, ok := led[id]
		switch {
		case !ok && len(ledgers) == 0:
			// Without ledgers only record-level classes apply.
		case !ok:
			c.add(ClassUnexpected, Example{Event: id.String(), Key: first.EventKey, Where: []string{first.Where()},
				Detail: "no ledger produced this event"})
		case l.e.Status == event.StatusAborted:
			c.add(ClassAbortedRead, Example{Event: id.String(), Key: first.EventKey, Where: []string{first.Where()},
				Detail: fmt.Sprintf("transaction %d of %s was aborted (ledger %s)", l.e.Txn, id.Producer, l.ledger)})
		case l.e.Status == event.StatusUncertain:
			st.UncertainSeen++
		case l.e.Status == event.StatusAcked:
			st.AckedSeen++
		}
	}

	// Per ledger entry: lost acked events, acked offsets holding something else.
	for li := range ledgers {
		for i := range ledgers[li].Entries {
			e := &ledgers[li].Entries[i]
			id := e.ID()
			if l := led[id]; l.e != e {
				continue // a second ledger's copy, already reported
			}
			_, wasSeen := seen[id]
			switch e.Status {
			case event.StatusUncertain:
				if !wasSeen {
					st.UncertainUnseen++
				}
				continue
			case event.StatusAborted:
				continue
			}
			if !wasSeen {
				detail := "acked, never seen"
				var ws []string
				if e.Offset >= 0 {
					ws = []string{where(e.Topic, e.Partition, e.Offset)}
					detail = "acked at " + ws[0] + ", never seen"
				}
				c.add(ClassLost, Example{Event: id.String(), Key: e.Key, Where: ws, Detail: detail})
				continue
			}
			if e.Offset >= 0 && topics[e.Topic] {
				if got, ok := ledgerAt[pos{e.Topic, e.Partition, e.Offset}]; ok && got != id {
					c.add(ClassInconsistent, Example{Event: id.String(), Key: e.Key, Where: []string{where(e.Topic, e.Partition, e.Offset)},
						Detail: fmt.Sprintf("acked at this offset, which holds %s", got)})
				}
			}
		}
	}

	c.checkOrder(idx, observed)
	c.checkProvenance(ctx, idx, observed)

	for _, cl := range AllClasses() {
		c.report.Classes = append(c.report.Classes, *c.classes[cl])
	}
	c.report.OK = c.report.Violations() == 0 && len(c.report.Errors) == 0
	return c.report
}

type partKey struct {
	topic     string
	partition int32
	producer  string
}

type keyKey struct {
	partKey
	key string
}

type lastSeen struct {
	seq int64
	o   *Observed
}

// checkOrder flags a producer's seq going backwards within a partition and within a
// key. Only the first sighting of each event counts: a later duplicate is reported as
// a duplicate, not also as a reordering.
func (c *checker) checkOrder(idx []int, observed []Observed) {
	counted := map[event.ID]bool{}
	byPart := map[partKey]lastSeen{}
	byKey := map[keyKey]lastSeen{}
	for _, i := range idx {
		o := &observed[i]
		if o.Err != "" || counted[o.ID] {
			continue
		}
		counted[o.ID] = true
		pk := partKey{o.Topic, o.Partition, o.ID.Producer}
		if prev, ok := byPart[pk]; ok && o.ID.Seq < prev.seq {
			c.add(ClassOrderPartition, Example{Event: o.ID.String(), Key: o.EventKey, Where: []string{prev.o.Where(), o.Where()},
				Detail: fmt.Sprintf("seq %d after seq %d of producer %s in %s/%d", o.ID.Seq, prev.seq, o.ID.Producer, o.Topic, o.Partition)})
		}
		if prev, ok := byPart[pk]; !ok || o.ID.Seq > prev.seq {
			byPart[pk] = lastSeen{o.ID.Seq, o}
		}
		kk := keyKey{pk, o.EventKey}
		if prev, ok := byKey[kk]; ok && o.ID.Seq < prev.seq {
			c.add(ClassOrderKey, Example{Event: o.ID.String(), Key: o.EventKey, Where: []string{prev.o.Where(), o.Where()},
				Detail: fmt.Sprintf("seq %d after seq %d of producer %s for key %q", o.ID.Seq, prev.seq, o.ID.Producer, o.EventKey)})
		}
		if prev, ok := byKey[kk]; !ok || o.ID.Seq > prev.seq {
			byKey[kk] = lastSeen{o.ID.Seq, o}
		}
	}
}

// checkProvenance verifies that each record's named source position holds its event.
func (c *checker) checkProvenance(ctx context.Context, idx []int, observed []Observed) {
	st := &c.report.Stats
	var want []provenance.Source
	wanted := map[provenance.Source]bool{}
	for _, i := range idx {
		o := &observed[i]
		if !o.HasSource || o.Err != "" {
			continue
		}
		st.WithProvenance++
		if !wanted[o.Source] {
			wanted[o.Source] = true
			want = append(want, o.Source)
		}
	}
	if st.WithProvenance == 0 {
		return
	}
	if c.cfg.lookup == nil {
		st.ProvenanceNoted = st.WithProvenance
		return
	}
	st.ProvenanceLookup = true
	got, err := c.cfg.lookup.Lookup(ctx, want)
	if err != nil {
		st.ProvenanceNoted = st.WithProvenance
		c.report.Errors = append(c.report.Errors, fmt.Errorf("%w: %v", ErrLookup, err).Error())
		return
	}
	for _, i := range idx {
		o := &observed[i]
		if !o.HasSource || o.Err != "" {
			continue
		}
		src := where(o.Source.Topic, o.Source.Partition, o.Source.Offset)
		if o.Source.Cluster != "" {
			src = o.Source.Cluster + ":" + src
		}
		id, ok := got[o.Source]
		switch {
		case !ok:
			c.add(ClassProvenance, Example{Event: o.ID.String(), Key: o.EventKey, Where: []string{o.Where(), src},
				Detail: "source position holds no committed, decodable event"})
		case id != o.ID:
			c.add(ClassProvenance, Example{Event: o.ID.String(), Key: o.EventKey, Where: []string{o.Where(), src},
				Detail: fmt.Sprintf("source position holds %s", id)})
		default:
			st.ProvenanceOK++
		}
	}
}
