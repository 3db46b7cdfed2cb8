package chaos

import (
	"fmt"
	"strings"
	"time"
)

// Invariant is a property a run must keep.
type Invariant string

// The invariants. All but ZombieFenced are checked in every scenario.
const (
	// NoLoss: every event the source acknowledged reached the target.
	NoLoss Invariant = "no-loss"
	// NoDuplicates: no event reached the target twice.
	NoDuplicates Invariant = "no-duplicates"
	// NoAbortedReads: no event of an aborted transaction was read.
	NoAbortedReads Invariant = "no-aborted-reads"
	// KeyOrder: per key (and per partition), a producer's events arrive in
	// the order it sent them.
	KeyOrder Invariant = "key-order"
	// CleanCheck: the checker found nothing else (undecodable, unexpected or
	// inconsistent records, wrong provenance) and had no errors of its own.
	CleanCheck Invariant = "clean-check"
	// ProxyAddressesOnly: every broker address the bridge dialled was one the
	// proxies advertise; it never learned a real broker address.
	ProxyAddressesOnly Invariant = "proxy-addresses-only"
	// Recovery: after the last heal the bridge caught up (lag at or below the
	// form's CaughtUpLag for good) within the form's Recovery bound.
	Recovery Invariant = "recovery"
	// ZombieFenced: a frozen bridge instance that woke up after another took
	// over its tasks was fenced (the bridges' tasks_fenced_total grew).
	ZombieFenced Invariant = "zombie-fenced"
)

// DefaultInvariants are checked by every scenario.
func DefaultInvariants() []Invariant {
	return []Invariant{NoLoss, NoDuplicates, NoAbortedReads, KeyOrder, CleanCheck, ProxyAddressesOnly, Recovery}
}

// Needs is the topology a scenario needs; the environment factory builds it.
type Needs struct {
	// SourceNodes and TargetNodes are broker nodes per side (default 1).
	SourceNodes, TargetNodes int
	// Bridges is the number of bridge instances sharing the tasks through a
	// group (default 1).
	Bridges int
	// ProxiesPerSide is the number of airlock-proxy replicas per side
	// (default 1).
	ProxiesPerSide int
	// Persistent brokers keep their data across a stop or kill (synced
	// writes), as a replicated Kafka cluster would.
	Persistent bool
	// Partitions of the workload topic (default 6).
	Partitions int
	// BridgeTxnTimeout and BridgeSessionTimeout override the bridge's
	// transaction timeout and group session timeout (0 keeps its defaults);
	// a freeze must outlast both.
	BridgeTxnTimeout     time.Duration
	BridgeSessionTimeout time.Duration
}

func (n Needs) withDefaults() Needs {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&n.SourceNodes, 1)
	def(&n.TargetNodes, 1)
	def(&n.Bridges, 1)
	def(&n.ProxiesPerSide, 1)
	def(&n.Partitions, 6)
	return n
}

// WorkloadSpec is what the environment's workload does.
type WorkloadSpec struct {
	// Events to produce in total.
	Events int64
	// Rate in events per second, spreading Events over the fault phase.
	Rate float64
	// Keys the events are spread over (per-key order is checked).
	Keys int
	// TxnSize > 0 makes the producer transactional with this many events per
	// transaction, AbortFraction of them aborted on purpose (aborted reads
	// are then possible to observe).
	TxnSize       int
	AbortFraction float64
}

// Form is one size of a scenario: short for `make test`, long for `make chaos`.
type Form struct {
	// Duration is the fault phase; the workload spreads its events over it.
	Duration time.Duration
	// Events is the workload size.
	Events int64
	// Windows is the schedule, written for Duration (ignored by a nemesis
	// scenario, which draws its own).
	Windows []Window
	// Recovery is the bound T: the bridge must be caught up within T of the
	// last heal.
	Recovery time.Duration
}

// FormName selects a form.
type FormName string

// The forms.
const (
	Short FormName = "short"
	Long  FormName = "long"
)

// ParseForm parses "short" or "long".
func ParseForm(s string) (FormName, error) {
	switch f := FormName(strings.ToLower(s)); f {
	case Short, Long:
		return f, nil
	}
	return "", fmt.Errorf("%w: form %q: want short or long", ErrBadSpec, s)
}

// Scenario is a workload, a fault schedule and invariants, as data.
type Scenario struct {
	Name        string
	Description string
	Needs       Needs
	// Invariants defaults to DefaultInvariants.
	Invariants  []Invariant
	Short, Long Form
	// Keys the workload spreads events over (default 24).
	Keys int
	// TxnSize and AbortFraction make the producer transactional (see
	// WorkloadSpec).
	TxnSize       int
	AbortFraction float64
	// Nemesis, when set, draws the schedule from the seed instead of taking
	// the form's windows.
	Nemesis *NemesisSpec
}

// Form returns the named form.
func (s Scenario) Form(f FormName) (Form, error) {
	switch f {
	case Short, "":
		return s.Short, nil
	case Long:
		return s.Long, nil
	}
	return Form{}, fmt.Errorf("%w: form %q", ErrBadSpec, f)
}

// Overrides change a plan's size; zero fields keep the form's.
type Overrides struct {
	// Seed drives the nemesis schedule (0 means seed 0, which is a seed
	// like any other: the CLI picks a random one when none is given).
	Seed int64
	// Duration replaces the fault phase; fixed schedules are stretched to
	// it, a nemesis draws over it.
	Duration time.Duration
	// Events replaces the workload size.
	Events int64
}

// Plan is a scenario made concrete: one form, one seed, one size.
type Plan struct {
	Scenario   string
	Form       FormName
	Seed       int64
	Needs      Needs
	Invariants []Invariant
	Duration   time.Duration
	Recovery   time.Duration
	// CaughtUpLag is the lag (records) at or below which the bridge counts
	// as caught up: one second of production, since the producer may still
	// be running when the last fault heals.
	CaughtUpLag float64
	Workload    WorkloadSpec
	Windows     []Window
}

// Plan makes the scenario concrete for form f with overrides o.
func (s Scenario) Plan(f FormName, o Overrides) (Plan, error) {
	form, err := s.Form(f)
	if err != nil {
		return Plan{}, err
	}
	if f == "" {
		f = Short
	}
	d := form.Duration
	if o.Duration > 0 {
		d = o.Duration
	}
	events := form.Events
	if o.Events > 0 {
		events = o.Events
	}
	if d <= 0 || events <= 0 || form.Recovery <= 0 {
		return Plan{}, fmt.Errorf("%w: scenario %s (%s): duration %v, events %d, recovery %v must be positive", ErrBadSpec, s.Name, f, d, events, form.Recovery)
	}
	var windows []Window
	if s.Nemesis != nil {
		if err := s.Nemesis.validate(); err != nil {
			return Plan{}, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		windows = s.Nemesis.Windows(o.Seed, d)
	} else {
		windows = scaleWindows(form.Windows, form.Duration, d)
	}
	if err := validateWindows(windows, d); err != nil {
		return Plan{}, fmt.Errorf("scenario %s (%s): %w", s.Name, f, err)
	}
	invs := s.Invariants
	if len(invs) == 0 {
		invs = DefaultInvariants()
	}
	keys := s.Keys
	if keys == 0 {
		keys = 24
	}
	rate := float64(events) / d.Seconds()
	return Plan{
		Scenario:    s.Name,
		Form:        f,
		Seed:        o.Seed,
		Needs:       s.Needs.withDefaults(),
		Invariants:  invs,
		Duration:    d,
		Recovery:    form.Recovery,
		CaughtUpLag: rate,
		Workload: WorkloadSpec{
			Events: events, Rate: rate, Keys: keys,
			TxnSize: s.TxnSize, AbortFraction: s.AbortFraction,
		},
		Windows: windows,
	}, nil
}

// Steps builds the plan's faults against t. Every spec is built before any
// fault runs, so a scenario that does not fit the topology fails up front.
func (p Plan) Steps(t Targets) ([]Step, error) {
	steps := make([]Step, 0, len(p.Windows))
	for i, w := range p.Windows {
		id := fmt.Sprintf("w%02d", i+1)
		f, err := w.Fault.Build(t, id)
		if err != nil {
			return nil, fmt.Errorf("window %s (%s): %w", id, w, err)
		}
		steps = append(steps, Step{ID: id, At: w.At, For: w.For, Fault: f})
	}
	return steps, nil
}

// Describe lists the plan for people: one window per line.
func (p Plan) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, seed %d): %d events over %v, recovery within %v\n", p.Scenario, p.Form, p.Seed, p.Workload.Events, p.Duration, p.Recovery)
	for i, w := range p.Windows {
		fmt.Fprintf(&b, "  w%02d  %s\n", i+1, w)
	}
	return b.String()
}
