package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// defaultHealTimeout bounds each heal done on the way out, after the run's
// own context may already be gone.
const defaultHealTimeout = 60 * time.Second

// Step is a built fault with its window.
type Step struct {
	// ID names the step in the timeline ("w03").
	ID    string
	At    time.Duration
	For   time.Duration
	Fault Fault
}

// EventKind says what happened to a fault.
type EventKind string

// Event kinds.
const (
	EventApply EventKind = "apply"
	EventHeal  EventKind = "heal"
)

// Event is one entry of a timeline.
type Event struct {
	// At is when the action finished, since the run started.
	At    time.Duration `json:"-"`
	Step  string        `json:"step"`
	Fault string        `json:"fault"`
	Kind  EventKind     `json:"kind"`
	// Cleanup marks a heal done on the way out (cancel, panic) rather than
	// on schedule.
	Cleanup bool   `json:"cleanup,omitempty"`
	Err     string `json:"error,omitempty"`
}

// Timeline is what a Runner did, in order.
type Timeline struct {
	Start  time.Time
	Events []Event
}

// RunnerOpt configures NewRunner.
type RunnerOpt interface{ applyRunner(*Runner) }

type runnerOpt func(*Runner)

func (o runnerOpt) applyRunner(r *Runner) { o(r) }

// RunnerLogger sets the logger, overriding slog.Default().
func RunnerLogger(l *slog.Logger) RunnerOpt { return runnerOpt(func(r *Runner) { r.log = l }) }

// OnEvent calls fn after every apply and heal (from the Runner's goroutine),
// for progress output.
func OnEvent(fn func(Event)) RunnerOpt { return runnerOpt(func(r *Runner) { r.onEvent = fn }) }

// HealTimeout bounds each heal done on the way out, overriding 60s.
func HealTimeout(d time.Duration) RunnerOpt { return runnerOpt(func(r *Runner) { r.healTimeout = d }) }

// StartAt sets the instant window times count from, overriding the time Run
// is called; Run shares it with the metrics sampler so the timeline and the
// series line up.
func StartAt(t time.Time) RunnerOpt { return runnerOpt(func(r *Runner) { r.start = t }) }

// Runner applies and heals scheduled faults on time. A Runner runs one
// schedule.
type Runner struct {
	log         *slog.Logger
	onEvent     func(Event)
	healTimeout time.Duration
	start       time.Time

	mu     sync.Mutex
	names  []string // step names, for Active
	active []int    // indexes of applied, unhealed steps, in apply order
}

// NewRunner returns a Runner.
func NewRunner(opts ...RunnerOpt) *Runner {
	r := &Runner{log: slog.Default(), healTimeout: defaultHealTimeout}
	for _, o := range opts {
		o.applyRunner(r)
	}
	return r
}

// action is one timed apply or heal.
type action struct {
	at   time.Duration
	heal bool
	step int
}

// class orders actions at the same instant: heals, applies, instant heals.
func (a action) class(steps []Step) int {
	switch {
	case !a.heal:
		return 1
	case steps[a.step].For == 0:
		return 2
	}
	return 0
}

// Run applies and heals steps at their times, one action at a time (a slow
// docker stop delays what follows; the timeline records when things really
// happened). A failed apply is recorded and its heal skipped: Apply undoes
// itself. When ctx ends, or a fault panics, every applied fault is healed
// before Run returns (or re-panics), under a fresh context bounded by
// HealTimeout. The error joins every failed action (ErrFault) and ctx's
// error if it ended the run early.
func (r *Runner) Run(ctx context.Context, steps []Step) (tl Timeline, err error) {
	if r.start.IsZero() {
		r.start = time.Now()
	}
	tl.Start = r.start
	acts := make([]action, 0, 2*len(steps))
	for i, s := range steps {
		if s.Fault == nil || s.At < 0 || s.For < 0 {
			return tl, fmt.Errorf("%w: step %d (%s): no fault or a negative time", ErrBadSpec, i, s.ID)
		}
		acts = append(acts, action{at: s.At, step: i}, action{at: s.At + s.For, heal: true, step: i})
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.ID + " " + s.Fault.Name()
	}
	r.mu.Lock()
	r.names = names
	r.mu.Unlock()
	// By time; at a tie heals first (a restart ends before the next
	// begins), then applies, then the heals of instant faults (which must
	// follow their own apply), each by step order.
	slices.SortStableFunc(acts, func(a, b action) int {
		if c := cmpDur(a.at, b.at); c != 0 {
			return c
		}
		if c := a.class(steps) - b.class(steps); c != 0 {
			return c
		}
		return a.step - b.step
	})

	var errs []error
	record := func(ev Event, e error) {
		ev.At = time.Since(r.start)
		if e != nil {
			ev.Err = e.Error()
			errs = append(errs, fmt.Errorf("%w: %s %s (%s): %w", ErrFault, ev.Kind, ev.Step, ev.Fault, e))
			r.log.Warn("fault action failed", "step", ev.Step, "kind", ev.Kind, "fault", ev.Fault, "err", e)
		} else {
			r.log.Info("fault "+string(ev.Kind), "step", ev.Step, "fault", ev.Fault, "at", ev.At.Round(time.Millisecond), "cleanup", ev.Cleanup)
		}
		tl.Events = append(tl.Events, ev)
		if r.onEvent != nil {
			r.onEvent(ev)
		}
	}

	defer func() {
		p := recover()
		// Heal whatever is still applied, newest first, whatever ended the
		// run: a fault must never outlive it.
		for _, i := range slices.Backward(r.takeActive()) {
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.healTimeout)
			herr := safeHeal(hctx, steps[i].Fault)
			cancel()
			record(Event{Step: steps[i].ID, Fault: steps[i].Fault.Name(), Kind: EventHeal, Cleanup: true}, herr)
		}
		if p != nil {
			panic(p)
		}
		err = errors.Join(errs...)
	}()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for _, a := range acts {
		if wait := time.Until(r.start.Add(a.at)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("fault schedule stopped at %v: %w", time.Since(r.start).Round(time.Millisecond), ctx.Err()))
				return tl, nil // the deferred cleanup sets err
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("fault schedule stopped at %v: %w", time.Since(r.start).Round(time.Millisecond), ctx.Err()))
			return tl, nil
		}
		s := steps[a.step]
		ev := Event{Step: s.ID, Fault: s.Fault.Name(), Kind: EventApply}
		if a.heal {
			if !r.deactivate(a.step) {
				continue // its apply failed and undid itself
			}
			ev.Kind = EventHeal
			herr := s.Fault.Heal(ctx)
			if herr != nil && ctx.Err() != nil {
				r.activate(a.step) // cut short by the cancel: the cleanup tries again
			}
			record(ev, herr)
			continue
		}
		aerr := s.Fault.Apply(ctx)
		if aerr == nil {
			r.activate(a.step)
		}
		record(ev, aerr)
	}
	return tl, nil
}

// Active returns the names of the faults applied and not yet healed, oldest
// first; safe to call from another goroutine while Run runs.
func (r *Runner) Active() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.active))
	for _, i := range r.active {
		out = append(out, r.names[i])
	}
	return out
}

func (r *Runner) activate(i int) {
	r.mu.Lock()
	r.active = append(r.active, i)
	r.mu.Unlock()
}

func (r *Runner) deactivate(i int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := slices.Index(r.active, i)
	if j < 0 {
		return false
	}
	r.active = slices.Delete(r.active, j, j+1)
	return true
}

func (r *Runner) takeActive() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.active
	r.active = nil
	return out
}

// safeHeal heals f, turning a panic into an error so one broken fault does
// not stop the others from being healed.
func safeHeal(ctx context.Context, f Fault) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("heal panicked: %v", p)
		}
	}()
	return f.Heal(ctx)
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
