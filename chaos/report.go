package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Seconds is a duration that reads and writes JSON as seconds.
type Seconds time.Duration

// MarshalJSON writes seconds with millisecond precision.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(time.Duration(s).Seconds(), 'f', -1, 64)), nil
}

// UnmarshalJSON reads seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = Seconds(time.Duration(f * float64(time.Second)).Round(time.Millisecond))
	return nil
}

// D returns s as a time.Duration.
func (s Seconds) D() time.Duration { return time.Duration(s) }

// String formats like the report tables: 4.5s, 1m30s, 120ms.
func (s Seconds) String() string { return fmtDur(time.Duration(s)) }

// fmtDur prints durations the way the tables want them: 4.5s, 1m30s, 120ms.
func fmtDur(d time.Duration) string {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// Counts are the headline numbers of a run.
type Counts struct {
	// Produced is events the producer sent; Acknowledged those the source
	// acknowledged; Delivered distinct events read from the target.
	Produced     int64 `json:"produced"`
	Acknowledged int64 `json:"acknowledged"`
	Delivered    int64 `json:"delivered"`
	Lost         int64 `json:"lost"`
	Duplicated   int64 `json:"duplicated"`
}

// FaultRecord is one fault window as scheduled and as it happened.
type FaultRecord struct {
	Step  string  `json:"step"`
	Fault string  `json:"fault"`
	At    Seconds `json:"at"`
	For   Seconds `json:"for"`
	// Applied and Healed are when it really happened (nil: it did not).
	Applied *Seconds `json:"applied,omitempty"`
	Healed  *Seconds `json:"healed,omitempty"`
	// Cleanup means it was healed on the way out, not on schedule.
	Cleanup bool     `json:"cleanup,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

// Report is the outcome of one run.
type Report struct {
	Scenario    string    `json:"scenario"`
	Description string    `json:"description,omitempty"`
	Form        FormName  `json:"form"`
	Seed        int64     `json:"seed"`
	Started     time.Time `json:"started"`
	// Elapsed is the whole run; FaultPhase the scheduled part.
	Elapsed       Seconds `json:"elapsed"`
	FaultPhase    Seconds `json:"fault_phase"`
	RecoveryBound Seconds `json:"recovery_bound"`
	Counts        Counts  `json:"counts"`
	MaxLag        float64 `json:"max_lag"`
	// Recovery is how long after the last heal the bridge caught up; nil
	// when it did not within the run.
	Recovery   *Seconds          `json:"recovery"`
	LastHeal   Seconds           `json:"last_heal"`
	Faults     []FaultRecord     `json:"faults"`
	Invariants []InvariantResult `json:"invariants"`
	OK         bool              `json:"ok"`
	// Errors are problems with the run itself (a fault that failed to
	// apply, a check that could not run); any of them fails the run.
	Errors []string `json:"errors,omitempty"`
	// Notes are things worth knowing that fail nothing (scrapes that failed
	// while a process was down).
	Notes  []string          `json:"notes,omitempty"`
	Check  *CheckResult      `json:"check,omitempty"`
	Series map[string]Series `json:"series"`
}

// Err returns nil for a passing run, else an ErrViolation naming each failed
// invariant with the checker's examples, and every run error. It is what a
// Ginkgo spec asserts on.
func (r *Report) Err() error {
	if r.OK {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s (%s, seed %d) failed", r.Scenario, r.Form, r.Seed)
	for _, inv := range r.Invariants {
		if inv.OK {
			continue
		}
		fmt.Fprintf(&b, "\n  %s: %s", inv.Invariant, inv.Detail)
		for _, ex := range inv.Examples {
			fmt.Fprintf(&b, "\n      %s", ex)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\n  error: %s", e)
	}
	return fmt.Errorf("%w: %s", ErrViolation, b.String())
}

// failedInvariants lists the names of failed invariants.
func (r *Report) failedInvariants() []string {
	var out []string
	for _, inv := range r.Invariants {
		if !inv.OK {
			out = append(out, string(inv.Invariant))
		}
	}
	return out
}

// WriteText writes the report as tables for people.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	verdict := "PASS"
	if !r.OK {
		verdict = "FAIL"
		if f := r.failedInvariants(); len(f) > 0 {
			verdict += ": " + strings.Join(f, ", ")
		}
		if len(r.Errors) > 0 {
			verdict += fmt.Sprintf(" (%d run errors)", len(r.Errors))
		}
	}
	ew.printf("scenario  %s (%s form, seed %d)\n", r.Scenario, r.Form, r.Seed)
	if r.Description != "" {
		ew.printf("          %s\n", r.Description)
	}
	ew.printf("result    %s\n", verdict)
	ew.printf("run       %s, fault phase %s, recovery bound %s\n\n", r.Elapsed, r.FaultPhase, r.RecoveryBound)

	rec := "not caught up"
	if r.Recovery != nil {
		rec = r.Recovery.String()
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, "produced\tacknowledged\tdelivered\tlost\tduplicated\tmax lag\trecovery\t")
	_, _ = fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", r.Counts.Produced, r.Counts.Acknowledged, r.Counts.Delivered,
		r.Counts.Lost, r.Counts.Duplicated, formatNum(r.MaxLag), rec)
	_ = tw.Flush()

	ew.printf("\nfaults\n")
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "  step\tfault\tplanned\tapplied\thealed")
	for _, f := range r.Faults {
		planned := f.At.String()
		if f.For > 0 {
			planned += "+" + f.For.String()
		}
		_, _ = fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.Step, f.Fault, planned, optSeconds(f.Applied, "-"), healed(f))
	}
	if len(r.Faults) == 0 {
		_, _ = fmt.Fprintln(tw, "  (none)")
	}
	_ = tw.Flush()
	for _, f := range r.Faults {
		for _, e := range f.Errors {
			ew.printf("  %s error: %s\n", f.Step, e)
		}
	}

	ew.printf("\ninvariants\n")
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, inv := range r.Invariants {
		mark := "ok"
		if !inv.OK {
			mark = "FAIL"
		}
		_, _ = fmt.Fprintf(tw, "  %s\t%s\t%s\n", mark, inv.Invariant, inv.Detail)
	}
	_ = tw.Flush()
	for _, inv := range r.Invariants {
		if inv.OK || len(inv.Examples) == 0 {
			continue
		}
		ew.printf("\n%s examples:\n", inv.Invariant)
		for _, ex := range inv.Examples {
			ew.printf("    %s\n", ex)
		}
	}
	if len(r.Errors) > 0 {
		ew.printf("\nerrors\n")
		for _, e := range r.Errors {
			ew.printf("  %s\n", e)
		}
	}
	if len(r.Notes) > 0 {
		ew.printf("\nnotes\n")
		for _, n := range r.Notes {
			ew.printf("  %s\n", n)
		}
	}
	return ew.err
}

func healed(f FaultRecord) string {
	s := optSeconds(f.Healed, "-")
	if f.Cleanup && f.Healed != nil {
		s += " (cleanup)"
	}
	return s
}

func optSeconds(s *Seconds, none string) string {
	if s == nil {
		return none
	}
	return s.String()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// Report file names in a report directory.
const (
	ReportText     = "report.txt"
	ReportJSON     = "report.json"
	ReportTimeline = "timeline.svg"
)

// WriteDir writes report.txt, report.json and timeline.svg into dir,
// creating it, and returns the paths written.
func (r *Report) WriteDir(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report dir: %w", err)
	}
	writers := []struct {
		name  string
		write func(io.Writer) error
	}{
		{ReportText, r.WriteText},
		{ReportJSON, r.WriteJSON},
		{ReportTimeline, r.WriteSVG},
	}
	var paths []string
	for _, wr := range writers {
		p := filepath.Join(dir, wr.name)
		f, err := os.Create(p)
		if err != nil {
			return paths, fmt.Errorf("report: %w", err)
		}
		err = wr.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("report %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// faultRecords pairs the timeline's events with the steps.
func faultRecords(steps []Step, tl Timeline, name func(Step) string) []FaultRecord {
	out := make([]FaultRecord, len(steps))
	idx := make(map[string]int, len(steps))
	for i, s := range steps {
		idx[s.ID] = i
		out[i] = FaultRecord{Step: s.ID, Fault: name(s), At: Seconds(s.At), For: Seconds(s.For)}
	}
	for _, ev := range tl.Events {
		i, ok := idx[ev.Step]
		if !ok {
			continue
		}
		fr := &out[i]
		if ev.Err != "" {
			fr.Errors = append(fr.Errors, string(ev.Kind)+": "+ev.Err)
			continue
		}
		at := Seconds(ev.At)
		switch ev.Kind {
		case EventApply:
			fr.Applied = &at
		case EventHeal:
			fr.Healed = &at
			fr.Cleanup = ev.Cleanup
		}
	}
	return out
}

// errWriter keeps the first write error so the formatting code stays flat.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { _, _ = fmt.Fprintf(e, format, args...) }

// errorStrings turns errors into report lines, splitting joined errors.
func errorStrings(errs ...error) []string {
	var out []string
	for _, err := range errs {
		if err == nil {
			continue
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			out = append(out, errorStrings(j.Unwrap()...)...)
			continue
		}
		out = append(out, err.Error())
	}
	return out
}
