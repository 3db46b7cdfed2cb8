package consumer

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteTable writes r for people: one row per class with its count, its examples
// indented under it, then the totals and the verdict.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%-20s %8s\n", "CLASS", "COUNT")
	for _, c := range r.Classes {
		fmt.Fprintf(w, "%-20s %8d\n", c.Class, c.Count)
		for _, ex := range c.Examples {
			fmt.Fprintf(w, "    %s\n", formatExample(ex))
		}
		if more := c.Count - len(c.Examples); more > 0 && len(c.Examples) > 0 {
			fmt.Fprintf(w, "    ... and %d more\n", more)
		}
	}
	s := r.Stats
	fmt.Fprintf(w, "ledgers: %d events (acked %d, aborted %d, uncertain %d) in %s\n",
		s.LedgerEvents, s.Acked, s.Aborted, s.Uncertain, strings.Join(s.Ledgers, ", "))
	fmt.Fprintf(w, "records: %d read, %d decoded, %d distinct events; acked seen %d/%d; uncertain seen %d, unseen %d\n",
		s.Records, s.Decoded, s.DistinctEvents, s.AckedSeen, s.Acked, s.UncertainSeen, s.UncertainUnseen)
	if s.WithProvenance > 0 {
		fmt.Fprintf(w, "provenance: %d records carry it, %d verified, %d not verified\n",
			s.WithProvenance, s.ProvenanceOK, s.ProvenanceNoted)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	verdict := "PASS"
	if !r.OK {
		verdict = fmt.Sprintf("FAIL (%d violations, %d errors)", r.Violations(), len(r.Errors))
	}
	_, err := fmt.Fprintf(w, "result: %s\n", verdict)
	return err
}

func formatExample(ex Example) string {
	var b strings.Builder
	if ex.Event != "" {
		b.WriteString(ex.Event)
		b.WriteByte(' ')
	}
	if ex.Key != "" {
		fmt.Fprintf(&b, "key=%s ", ex.Key)
	}
	if len(ex.Where) > 0 {
		fmt.Fprintf(&b, "at %s ", strings.Join(ex.Where, ", "))
	}
	b.WriteString("- ")
	b.WriteString(ex.Detail)
	return b.String()
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
