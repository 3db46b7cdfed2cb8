package chaos

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// recFault records its calls in a shared log.
type recFault struct {
	name     string
	log      *callLog
	applyErr error
	panics   bool
	// healCtxErr is ctx.Err() as Heal saw it.
	healCtxErr error
}

func (f *recFault) Name() string { return f.name }

func (f *recFault) Apply(context.Context) error {
	if f.panics {
		panic("fault exploded")
	}
	f.log.add("apply %s", f.name)
	return f.applyErr
}

func (f *recFault) Heal(ctx context.Context) error {
	f.healCtxErr = ctx.Err()
	f.log.add("heal %s", f.name)
	return nil
}

func quietRunner(opts ...RunnerOpt) *Runner {
	return NewRunner(append([]RunnerOpt{RunnerLogger(slog.New(slog.DiscardHandler))}, opts...)...)
}

func eventStrings(tl Timeline) []string {
	var out []string
	for _, e := range tl.Events {
		s := string(e.Kind) + " " + e.Step
		if e.Cleanup {
			s += " cleanup"
		}
		if e.Err != "" {
			s += " error"
		}
		out = append(out, s)
	}
	return out
}

func TestRunnerOrder(t *testing.T) {
	var log callLog
	f := func(n string) *recFault { return &recFault{name: n, log: &log} }
	ms := time.Millisecond
	steps := []Step{
		{ID: "a", At: 0, For: 30 * ms, Fault: f("a")},
		{ID: "b", At: 10 * ms, For: 40 * ms, Fault: f("b")},
		{ID: "c", At: 30 * ms, For: 10 * ms, Fault: f("c")}, // starts when a heals: a heals first
		{ID: "d", At: 35 * ms, Fault: f("d")},               // instant
	}
	tl, err := quietRunner().Run(context.Background(), steps)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"apply a", "apply b", "heal a", "apply c", "apply d", "heal d", "heal c", "heal b"}
	if got := log.get(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q\nwant  %q", got, want)
	}
	if got := eventStrings(tl); len(got) != len(want) {
		t.Errorf("timeline %q", got)
	}
	for i := 1; i < len(tl.Events); i++ {
		if tl.Events[i].At < tl.Events[i-1].At {
			t.Errorf("timeline goes back in time at %d: %+v", i, tl.Events)
		}
	}
	if tl.Events[len(tl.Events)-1].At < 50*ms {
		t.Errorf("last heal at %v, scheduled at 50ms", tl.Events[len(tl.Events)-1].At)
	}
}

func TestRunnerHealsOnCancel(t *testing.T) {
	var log callLog
	long := &recFault{name: "long", log: &log}
	later := &recFault{name: "later", log: &log}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := quietRunner(OnEvent(func(e Event) {
		if e.Kind == EventApply && e.Step == "long" {
			cancel() // the user pressed ^C with the fault in place
		}
	}))
	steps := []Step{
		{ID: "long", At: 0, For: time.Hour, Fault: long},
		{ID: "later", At: time.Hour, For: time.Hour, Fault: later},
	}
	done := make(chan struct{})
	var tl Timeline
	var err error
	go func() {
		defer close(done)
		tl, err = r.Run(ctx, steps)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if got, want := log.get(), []string{"apply long", "heal long"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if long.healCtxErr != nil {
		t.Errorf("cleanup heal got a dead context: %v", long.healCtxErr)
	}
	if got, want := eventStrings(tl), []string{"apply long", "heal long cleanup"}; !reflect.DeepEqual(got, want) {
		t.Errorf("timeline %q, want %q", got, want)
	}
	if a := r.Active(); len(a) != 0 {
		t.Errorf("still active after Run: %q", a)
	}
}

func TestRunnerHealsOnPanic(t *testing.T) {
	var log callLog
	first := &recFault{name: "first", log: &log}
	steps := []Step{
		{ID: "first", At: 0, For: time.Hour, Fault: first},
		{ID: "boom", At: 0, For: time.Second, Fault: &recFault{name: "boom", log: &log, panics: true}},
	}
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Error("Run swallowed the panic")
			}
		}()
		_, _ = quietRunner().Run(context.Background(), steps)
	}()
	if got, want := log.get(), []string{"apply first", "heal first"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestRunnerApplyFailure(t *testing.T) {
	var log callLog
	steps := []Step{
		{ID: "bad", At: 0, For: 5 * time.Millisecond, Fault: &recFault{name: "bad", log: &log, applyErr: errors.New("docker said no")}},
		{ID: "good", At: 5 * time.Millisecond, For: 5 * time.Millisecond, Fault: &recFault{name: "good", log: &log}},
	}
	tl, err := quietRunner().Run(context.Background(), steps)
	if !errors.Is(err, ErrFault) || !strings.Contains(err.Error(), "docker said no") {
		t.Errorf("Run = %v, want ErrFault with the cause", err)
	}
	// The failed apply undid itself: no heal; the schedule went on.
	if got, want := eventStrings(tl), []string{"apply bad error", "apply good", "heal good"}; !reflect.DeepEqual(got, want) {
		t.Errorf("timeline %q, want %q", got, want)
	}
}

func TestRunnerRejectsBadSteps(t *testing.T) {
	for _, s := range []Step{{ID: "nil"}, {ID: "neg", At: -1, Fault: &recFault{log: &callLog{}}}} {
		if _, err := quietRunner().Run(context.Background(), []Step{s}); !errors.Is(err, ErrBadSpec) {
			t.Errorf("step %s: %v", s.ID, err)
		}
	}
}

func TestRunnerActive(t *testing.T) {
	var log callLog
	var seen []string
	var r *Runner
	r = quietRunner(OnEvent(func(e Event) {
		if e.Kind == EventApply {
			seen = append(seen, strings.Join(r.Active(), "|"))
		}
	}))
	steps := []Step{
		{ID: "w01", At: 0, For: 20 * time.Millisecond, Fault: &recFault{name: "x", log: &log}},
		{ID: "w02", At: 10 * time.Millisecond, For: 20 * time.Millisecond, Fault: &recFault{name: "y", log: &log}},
	}
	if _, err := r.Run(context.Background(), steps); err != nil {
		t.Fatal(err)
	}
	if want := []string{"w01 x", "w01 x|w02 y"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("active at each apply %q, want %q", seen, want)
	}
}
