package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeEnv is an Environment whose bridge is a metrics endpoint: it replicates
// instantly, except while paused, when its lag shows 5 records.
type fakeEnv struct {
	fakeTargets
	docker   *pausingContainers
	metrics  *fakeMetrics
	workload *fakeWorkload
	startErr error
	started  atomic.Bool
}

// pausingContainers is fakeContainers that tells the fake bridge when it is
// paused.
type pausingContainers struct {
	fakeContainers
	onPause func(bool)
}

func (p *pausingContainers) Pause(ctx context.Context, name string) error {
	p.onPause(true)
	return p.fakeContainers.Pause(ctx, name)
}

func (p *pausingContainers) Unpause(ctx context.Context, name string) error {
	p.onPause(false)
	return p.fakeContainers.Unpause(ctx, name)
}

func newFakeEnv(t *testing.T) *fakeEnv {
	t.Helper()
	fm, url := serveMetrics(t)
	e := &fakeEnv{metrics: fm, workload: &fakeWorkload{check: cleanCheck()}}
	e.setLag(0)
	e.docker = &pausingContainers{onPause: func(p bool) {
		if p {
			e.setLag(5)
		} else {
			e.setLag(0)
		}
	}}
	topo := testTopology()
	topo.Metrics = []Endpoint{StaticEndpoint("bridge-0", RoleBridge, url)}
	e.fakeTargets = fakeTargets{topo: topo, containers: e.docker}
	e.workload.addrs = slices.Clone(topo.ProxyAddresses[:2])
	return e
}

func (e *fakeEnv) setLag(v float64) {
	e.metrics.set(copiedLine("orders", 100), lagLine("orders", 0, v))
}

func (e *fakeEnv) StartWorkload(context.Context, WorkloadSpec) (Workload, error) {
	if e.startErr != nil {
		return nil, e.startErr
	}
	e.started.Store(true)
	return e.workload, nil
}

func (e *fakeEnv) Close(context.Context) error { return nil }

type fakeWorkload struct {
	check   *CheckResult
	addrs   []string
	stopped atomic.Int32
	checked atomic.Int32
}

func (w *fakeWorkload) Progress() Progress                     { return Progress{Produced: 100, Acked: 100} }
func (w *fakeWorkload) WaitProduced(ctx context.Context) error { return ctx.Err() }
func (w *fakeWorkload) Check(context.Context) (*CheckResult, error) {
	w.checked.Add(1)
	if w.check == nil {
		return nil, errors.New("consumer crashed")
	}
	return w.check, nil
}
func (w *fakeWorkload) BridgeAddresses(context.Context) ([]string, error) { return w.addrs, nil }
func (w *fakeWorkload) Stop(context.Context) error {
	w.stopped.Add(1)
	return nil
}

func testPlan(windows ...Window) Plan {
	return Plan{
		Scenario: "test", Form: Short, Invariants: DefaultInvariants(),
		Duration: 150 * time.Millisecond, Recovery: 5 * time.Second,
		Workload: WorkloadSpec{Events: 100, Rate: 1000, Keys: 4},
		Windows:  windows,
	}
}

func pauseWindow() Window {
	return Window{At: 20 * time.Millisecond, For: 60 * time.Millisecond, Fault: ContainerFault{Role: RoleBridge, Index: 0, Action: ActionPause}}
}

func quietOpts(statuses *[]Status, mu *sync.Mutex) []RunOpt {
	return []RunOpt{
		WithLogger(slog.New(slog.DiscardHandler)),
		WithSampleInterval(5 * time.Millisecond),
		WithProgress(10*time.Millisecond, func(s Status) {
			mu.Lock()
			*statuses = append(*statuses, s)
			mu.Unlock()
		}),
	}
}

func TestRunPasses(t *testing.T) {
	env := newFakeEnv(t)
	var statuses []Status
	var mu sync.Mutex
	rep, err := Run(context.Background(), env, testPlan(pauseWindow()), quietOpts(&statuses, &mu)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		var b strings.Builder
		_ = rep.WriteText(&b)
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got, want := env.docker.get(), []string{"pause bridge-0", "unpause bridge-0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("docker calls %q, want %q", got, want)
	}
	if len(rep.Faults) != 1 || rep.Faults[0].Applied == nil || rep.Faults[0].Healed == nil || rep.Faults[0].Fault != "pause bridge 0" {
		t.Errorf("faults %+v", rep.Faults)
	}
	if rep.MaxLag != 5 {
		t.Errorf("max lag %v, want 5 (the pause)", rep.MaxLag)
	}
	if rep.Recovery == nil || rep.LastHeal < sec(0.08) {
		t.Errorf("recovery %v after last heal %v", rep.Recovery, rep.LastHeal)
	}
	if rep.Counts != (Counts{Produced: 100, Acknowledged: 100, Delivered: 100}) {
		t.Errorf("counts %+v", rep.Counts)
	}
	if env.workload.stopped.Load() != 1 || env.workload.checked.Load() != 1 {
		t.Errorf("workload stopped %d times, checked %d times", env.workload.stopped.Load(), env.workload.checked.Load())
	}
	if len(rep.Series[SeriesAcked]) == 0 || len(rep.Series[SeriesLag]) == 0 {
		t.Errorf("series %v", rep.Series)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(statuses) == 0 {
		t.Fatal("no progress reported")
	}
	if !strings.Contains(statuses[len(statuses)-1].String(), "produced 100, acked 100") {
		t.Errorf("status line %q", statuses[len(statuses)-1])
	}
}

// probingWorkload measures lag itself (LagProber): 7 while the fault is on,
// whatever the bridges' metrics say.
type probingWorkload struct {
	*fakeWorkload
	lag atomic.Int64
}

func (w *probingWorkload) Lag(context.Context) (float64, error) { return float64(w.lag.Load()), nil }

type probingEnv struct {
	*fakeEnv
	w *probingWorkload
}

func (e probingEnv) StartWorkload(context.Context, WorkloadSpec) (Workload, error) { return e.w, nil }

// TestRunLagFromProber: a workload that measures lag from outside supplies
// the lag series; the bridges' own gauge (which reads 5 during the pause
// here) is not used.
func TestRunLagFromProber(t *testing.T) {
	fe := newFakeEnv(t)
	pw := &probingWorkload{fakeWorkload: fe.workload}
	fe.docker.onPause = func(p bool) {
		if p {
			pw.lag.Store(7)
		} else {
			pw.lag.Store(0)
		}
	}
	var statuses []Status
	var mu sync.Mutex
	rep, err := Run(context.Background(), probingEnv{fe, pw}, testPlan(pauseWindow()), quietOpts(&statuses, &mu)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if rep.MaxLag != 7 {
		t.Errorf("max lag %v, want 7 (the prober's, not the bridge metric's 0)", rep.MaxLag)
	}
}

func TestRunReportsViolations(t *testing.T) {
	env := newFakeEnv(t)
	withClass(env.workload.check, ClassLost, 3, CheckExample{Event: "p-1/4", Detail: "acked, never seen"})
	env.workload.addrs = append(env.workload.addrs, "target-kafka:9092")
	var statuses []Status
	var mu sync.Mutex
	rep, err := Run(context.Background(), env, testPlan(pauseWindow()), quietOpts(&statuses, &mu)...)
	if err != nil {
		t.Fatal(err)
	}
	err = rep.Err()
	if !errors.Is(err, ErrViolation) || !strings.Contains(err.Error(), "p-1/4") || !strings.Contains(err.Error(), "target-kafka:9092") {
		t.Errorf("Err = %v", err)
	}
	if rep.Counts.Lost != 3 {
		t.Errorf("lost %d", rep.Counts.Lost)
	}
}

func TestRunCheckFails(t *testing.T) {
	env := newFakeEnv(t)
	env.workload.check = nil
	var statuses []Status
	var mu sync.Mutex
	rep, err := Run(context.Background(), env, testPlan(), quietOpts(&statuses, &mu)...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || !strings.Contains(fmt.Sprint(rep.Errors), "consumer crashed") {
		t.Errorf("ok=%v errors %q", rep.OK, rep.Errors)
	}
}

func TestRunInterrupted(t *testing.T) {
	env := newFakeEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	long := Window{At: 0, For: time.Hour, Fault: ContainerFault{Role: RoleBridge, Index: 0, Action: ActionPause}}
	p := testPlan(long)
	p.Duration = 2 * time.Hour
	var statuses []Status
	var mu sync.Mutex
	opts := append(quietOpts(&statuses, &mu), WithProgress(5*time.Millisecond, func(s Status) {
		if len(s.Active) > 0 {
			cancel() // ^C while the bridge is frozen
		}
	}))
	done := make(chan struct{})
	var rep *Report
	var err error
	go func() {
		defer close(done)
		rep, err = Run(ctx, env, p, opts...)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !errors.Is(err, context.Canceled) || rep == nil || rep.OK {
		t.Fatalf("Run = %v, report %v", err, rep)
	}
	if got, want := env.docker.get(), []string{"pause bridge-0", "unpause bridge-0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("docker calls %q, want %q: the freeze must not outlive the run", got, want)
	}
	if env.workload.stopped.Load() != 1 || env.workload.checked.Load() != 0 {
		t.Errorf("workload stopped %d, checked %d", env.workload.stopped.Load(), env.workload.checked.Load())
	}
	if !rep.Faults[0].Cleanup {
		t.Errorf("fault record %+v: want a cleanup heal", rep.Faults[0])
	}
}

func TestRunFailsUpFront(t *testing.T) {
	env := newFakeEnv(t)
	bad := Window{At: 0, For: time.Millisecond, Fault: ContainerFault{Role: RoleBridge, Index: 5, Action: ActionKill}}
	quiet := WithLogger(slog.New(slog.DiscardHandler))
	if _, err := Run(context.Background(), env, testPlan(bad), quiet); !errors.Is(err, ErrNoTarget) {
		t.Errorf("Run with a third bridge = %v", err)
	}
	if env.started.Load() {
		t.Error("the workload started for a plan that does not fit")
	}
	env.startErr = errors.New("producer image missing")
	if _, err := Run(context.Background(), env, testPlan(), quiet); err == nil || !strings.Contains(err.Error(), "producer image missing") {
		t.Errorf("Run = %v", err)
	}
}

func TestNoEnvironment(t *testing.T) {
	_, err := NoEnvironment("not wired in")(context.Background(), Needs{})
	if !errors.Is(err, ErrNoEnvironment) || err.Error() != "docker testbed not available: not wired in" {
		t.Errorf("err = %v", err)
	}
}
