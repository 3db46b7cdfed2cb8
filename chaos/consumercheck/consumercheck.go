// Package consumercheck converts the checker's verdict (consumer.Report) into
// chaos.CheckResult. It is apart from package chaos so that chaos does not
// depend on the consumer; an Environment implementation imports both.
package consumercheck

import (
	"github.com/airlock-kafka/airlock/chaos"
	"github.com/airlock-kafka/airlock/consumer"
)

// FromReport converts r field by field. The test proves the mirror complete:
// a report with every field set survives the trip unchanged.
func FromReport(r consumer.Report) *chaos.CheckResult {
	s := r.Stats
	out := &chaos.CheckResult{
		OK: r.OK,
		Stats: chaos.CheckStats{
			Ledgers:          append([]string(nil), s.Ledgers...),
			LedgerEvents:     s.LedgerEvents,
			Acked:            s.Acked,
			Aborted:          s.Aborted,
			Uncertain:        s.Uncertain,
			Records:          s.Records,
			Decoded:          s.Decoded,
			DistinctEvents:   s.DistinctEvents,
			AckedSeen:        s.AckedSeen,
			UncertainSeen:    s.UncertainSeen,
			UncertainUnseen:  s.UncertainUnseen,
			WithProvenance:   s.WithProvenance,
			ProvenanceOK:     s.ProvenanceOK,
			ProvenanceNoted:  s.ProvenanceNoted,
			ProvenanceLookup: s.ProvenanceLookup,
		},
		Errors: append([]string(nil), r.Errors...),
	}
	for _, c := range r.Classes {
		cr := chaos.ClassResult{Class: string(c.Class), Count: c.Count}
		for _, ex := range c.Examples {
			cr.Examples = append(cr.Examples, chaos.CheckExample{
				Event: ex.Event, Key: ex.Key, Where: append([]string(nil), ex.Where...), Detail: ex.Detail,
			})
		}
		out.Classes = append(out.Classes, cr)
	}
	return out
}
