package chaos

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Checker classes, as consumer.Check names them (consumer/check.go).
const (
	ClassLost           = "lost"
	ClassDuplicate      = "duplicate"
	ClassAbortedRead    = "aborted_read"
	ClassUnexpected     = "unexpected"
	ClassOrderPartition = "order_partition"
	ClassOrderKey       = "order_key"
	ClassUndecodable    = "undecodable"
	ClassInconsistent   = "inconsistent"
	ClassProvenance     = "provenance_mismatch"
)

const (
	maxAddressExamples   = 5
	recoveryDetailFormat = "caught up %v after the last heal (bound %v, lag <= %s)"
)

// CheckResult mirrors consumer.Report (the checker's verdict) field for field
// and in its JSON form, so this package does not depend on the consumer: the
// environment converts (chaos/consumercheck does it for consumer.Report), or
// decodes the consumer's JSON report straight into it.
type CheckResult struct {
	OK      bool          `json:"ok"`
	Stats   CheckStats    `json:"stats"`
	Classes []ClassResult `json:"classes"`
	Errors  []string      `json:"errors,omitempty"`
}

// CheckStats mirrors consumer.Stats.
type CheckStats struct {
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

// ClassResult mirrors consumer.ClassResult.
type ClassResult struct {
	Class    string         `json:"class"`
	Count    int            `json:"count"`
	Examples []CheckExample `json:"examples,omitempty"`
}

// CheckExample mirrors consumer.Example.
type CheckExample struct {
	Event  string   `json:"event,omitempty"`
	Key    string   `json:"key,omitempty"`
	Where  []string `json:"where,omitempty"`
	Detail string   `json:"detail"`
}

// String formats the example like the consumer's table does.
func (e CheckExample) String() string {
	var b strings.Builder
	if e.Event != "" {
		b.WriteString(e.Event + " ")
	}
	if e.Key != "" {
		b.WriteString("key=" + e.Key + " ")
	}
	if len(e.Where) > 0 {
		b.WriteString("at " + strings.Join(e.Where, ", ") + " ")
	}
	b.WriteString("- " + e.Detail)
	return b.String()
}

// Class returns the result of one class (zero count when absent).
func (c *CheckResult) Class(name string) ClassResult {
	for _, cr := range c.Classes {
		if cr.Class == name {
			return cr
		}
	}
	return ClassResult{Class: name}
}

// Evidence is everything the invariants are judged on.
type Evidence struct {
	// Check is the checker's verdict; nil when the check could not run
	// (every checker invariant then fails).
	Check *CheckResult
	// Addresses are the broker addresses the bridge dialled; Allowed those
	// the proxies advertise.
	Addresses, Allowed []string
	// Lag is the bridge's lag series; LastHeal when the last fault healed.
	Lag      Series
	LastHeal time.Duration
	// RecoveryBound is the T of "caught up within T of the last heal";
	// CaughtUpLag the lag that counts as caught up.
	RecoveryBound time.Duration
	CaughtUpLag   float64
	// Fenced is how much the bridges' fenced-tasks counter grew.
	Fenced float64
}

// InvariantResult is the verdict on one invariant.
type InvariantResult struct {
	Invariant Invariant `json:"invariant"`
	OK        bool      `json:"ok"`
	Detail    string    `json:"detail"`
	Examples  []string  `json:"examples,omitempty"`
}

// Evaluate judges each invariant on ev, in the order given.
func Evaluate(invs []Invariant, ev Evidence) []InvariantResult {
	out := make([]InvariantResult, 0, len(invs))
	for _, inv := range invs {
		out = append(out, evaluate(inv, ev))
	}
	return out
}

// checkerClasses returns the checker classes an invariant covers, if it is
// judged by the checker.
func checkerClasses(inv Invariant) ([]string, bool) {
	switch inv {
	case NoLoss:
		return []string{ClassLost}, true
	case NoDuplicates:
		return []string{ClassDuplicate}, true
	case NoAbortedReads:
		return []string{ClassAbortedRead}, true
	case KeyOrder:
		return []string{ClassOrderKey, ClassOrderPartition}, true
	case CleanCheck:
		return []string{ClassUnexpected, ClassUndecodable, ClassInconsistent, ClassProvenance}, true
	}
	return nil, false
}

func evaluate(inv Invariant, ev Evidence) InvariantResult {
	r := InvariantResult{Invariant: inv}
	if classes, ok := checkerClasses(inv); ok {
		if ev.Check == nil {
			r.Detail = "no checker report: the check did not run"
			return r
		}
		return fromClasses(r, ev.Check, classes, inv == CleanCheck)
	}
	switch inv {
	case ProxyAddressesOnly:
		return addressesOnly(r, ev)
	case Recovery:
		d, ok := ev.Lag.Recovery(ev.LastHeal, ev.CaughtUpLag)
		switch {
		case len(ev.Lag) == 0:
			r.Detail = "no lag samples: the bridge's metrics were never read"
		case !ok:
			last, _ := ev.Lag.Last()
			r.Detail = fmt.Sprintf("not caught up: lag %s at %v, %v after the last heal (bound %v)",
				formatNum(last.V), last.T.Round(time.Second), (last.T - ev.LastHeal).Round(time.Second), ev.RecoveryBound)
		default:
			r.OK = d <= ev.RecoveryBound
			r.Detail = fmt.Sprintf(recoveryDetailFormat, d.Round(100*time.Millisecond), ev.RecoveryBound, formatNum(ev.CaughtUpLag))
		}
		return r
	case ZombieFenced:
		r.OK = ev.Fenced > 0
		r.Detail = fmt.Sprintf("bridges reported %s fenced task(s)", formatNum(ev.Fenced))
		return r
	}
	r.Detail = "unknown invariant"
	return r
}

func fromClasses(r InvariantResult, c *CheckResult, classes []string, withErrors bool) InvariantResult {
	var parts []string
	total := 0
	for _, name := range classes {
		cr := c.Class(name)
		if cr.Count == 0 {
			continue
		}
		total += cr.Count
		parts = append(parts, fmt.Sprintf("%d %s", cr.Count, name))
		for _, ex := range cr.Examples {
			r.Examples = append(r.Examples, name+": "+ex.String())
		}
		if more := cr.Count - len(cr.Examples); more > 0 && len(cr.Examples) > 0 {
			r.Examples = append(r.Examples, fmt.Sprintf("%s: ... and %d more", name, more))
		}
	}
	if withErrors && len(c.Errors) > 0 {
		total += len(c.Errors)
		parts = append(parts, fmt.Sprintf("%d checker error(s)", len(c.Errors)))
		for _, e := range c.Errors {
			r.Examples = append(r.Examples, "error: "+e)
		}
	}
	r.OK = total == 0
	if r.OK {
		r.Detail = fmt.Sprintf("none (%d records read, %d of %d acknowledged events seen)", c.Stats.Records, c.Stats.AckedSeen, c.Stats.Acked)
	} else {
		r.Detail = strings.Join(parts, ", ")
	}
	return r
}

func addressesOnly(r InvariantResult, ev Evidence) InvariantResult {
	if len(ev.Allowed) == 0 {
		r.Detail = "the environment named no proxy addresses to compare with"
		return r
	}
	var bad []string
	seen := map[string]bool{}
	for _, a := range ev.Addresses {
		if seen[a] {
			continue
		}
		seen[a] = true
		if !slices.Contains(ev.Allowed, a) {
			bad = append(bad, a)
		}
	}
	slices.Sort(bad)
	r.OK = len(bad) == 0 && len(seen) > 0
	switch {
	case len(seen) == 0:
		r.Detail = "the bridge reported no addresses at all"
	case r.OK:
		r.Detail = fmt.Sprintf("%d distinct addresses, all advertised by the proxies", len(seen))
	default:
		r.Detail = fmt.Sprintf("%d of %d distinct addresses are not proxy addresses", len(bad), len(seen))
		for i, a := range bad {
			if i == maxAddressExamples {
				r.Examples = append(r.Examples, fmt.Sprintf("... and %d more", len(bad)-i))
				break
			}
			r.Examples = append(r.Examples, a)
		}
	}
	return r
}
