package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/airlock-kafka/airlock/bridge"
	"github.com/airlock-kafka/airlock/bridge/bridgetest"
)

var hookNames = map[bridge.HookPoint]string{
	bridge.HookBeforeProduce: "before produce",
	bridge.HookBeforeFlush:   "before flush",
	bridge.HookBeforeOffsets: "before offsets",
	bridge.HookBeforeEndTxn:  "before EndTxn",
	bridge.HookAfterEndTxn:   "after EndTxn",
}

// TestCrashLoop kills the bridge at random points of its transactions, over
// and over, with more events arriving in between; the target must end with
// every event exactly once.
func TestCrashLoop(t *testing.T) {
	const iterations = 20
	seed := uint64(20261122)
	if s, err := strconv.ParseUint(os.Getenv("BRIDGE_CRASH_SEED"), 10, 64); err == nil {
		seed = s // explore other schedules; the default keeps runs reproducible
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	e := newEnv(t, map[string]int32{"a": 3, "b": 2}, "copy.")
	e.produce(200)

	hit := map[string]int{}
	began := time.Now()
	for i := range iterations {
		if time.Since(began) > 30*time.Second {
			t.Logf("stopping after %d iterations: time budget spent", i)
			break
		}
		point := bridge.HookPoint(rng.IntN(len(hookNames)))
		nth := int64(1 + rng.IntN(4))
		midFlush := rng.IntN(3) == 0 // cancel mid-flush: the flush runs on a canceled context
		ctx, cancel := context.WithCancel(context.Background())
		var seen atomic.Int64
		var fired atomic.Bool
		hook := func(_ context.Context, _ int, p bridge.HookPoint) {
			if p != point || seen.Add(1) != nth {
				return
			}
			fired.Store(true)
			if midFlush && p == bridge.HookBeforeFlush {
				// Let the flush start, then kill the bridge under it.
				go cancel()
				return
			}
			cancel()
		}
		b, err := bridge.New(e.opts("crash",
			bridge.TxnMaxRecords(40),
			bridge.ShutdownTimeout(0), // no graceful commit: like kill -9
			bridge.WithHook(hook),
		)...)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		// Bound every iteration: a point may never be reached when the
		// data ran out.
		timer := time.AfterFunc(3*time.Second, cancel)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("iteration %d: run: %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("iteration %d: bridge did not stop", i)
		}
		timer.Stop()
		cancel()
		if fired.Load() {
			hit[hookNames[point]]++
		}
		if i%3 == 0 {
			e.produce(30) // new events between crashes
		}
	}
	t.Logf("crash points hit: %v", hit)
	for _, name := range hookNames {
		if hit[name] == 0 {
			t.Errorf("crash point %q never hit; the loop did not test it", name)
		}
	}

	// A final clean run catches up; then the verdict.
	src := e.source()
	r := start(t, e.opts("crash")...)
	e.waitCommitted("crash", src, nil, 60*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.verify(src, nil)
	// The exactly-once checker's verdict over the target against the
	// producer's ledger: no loss, duplicate, aborted read or reordering
	// across all the crashes.
	if rep := e.check(src, e.target()); rep.Stats.Acked != src["a"].Count()+src["b"].Count() {
		t.Errorf("checker saw %d acked events, the source holds %d", rep.Stats.Acked, src["a"].Count()+src["b"].Count())
	}
}

// TestZombie runs two instances with the same task ids: the older, fenced,
// finds the newer one's commits and stops with ErrFenced; nothing is
// duplicated.
func TestZombie(t *testing.T) {
	e := newEnv(t, map[string]int32{"z": 3}, "")
	e.produce(100)
	old := start(t, e.opts("zombie", bridge.TxnMaxRecords(20))...)
	src := e.source()
	e.waitCommitted("zombie", src, nil, 30*time.Second)

	// Two instances under one name fence each other until the older one
	// finds the newer one's commits on its partitions and stops.
	newer := start(t, e.opts("zombie", bridge.TxnMaxRecords(20))...)
	eventually(t, 30*time.Second, "the old instance to stop", func() (bool, string) {
		e.produce(5)
		return old.exited(), "old instance still running"
	})
	if !errors.Is(old.err, bridge.ErrFenced) {
		t.Fatalf("old instance ended with %v, want ErrFenced", old.err)
	}
	if newer.exited() {
		t.Fatalf("newer instance stopped: %v", newer.err)
	}
	e.produce(50)
	src = e.source()
	e.waitCommitted("zombie", src, nil, 30*time.Second)
	if err := newer.stop(t); err != nil {
		t.Fatal(err)
	}
	e.verify(src, nil)
}

// TestTargetRefuses makes the target refuse or lose transactional requests
// for a while; the bridge aborts, re-reads its offsets and goes on, with no
// loss and no duplicate.
func TestTargetRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		aborts bool // the fault must surface as aborted transactions
		fault  func(c *kfake.Cluster) *kfake.FaultHandle
	}{
		{"EndTxn unknown server error", true, func(c *kfake.Cluster) *kfake.FaultHandle {
			return c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.UnknownServerError, Count: 6})
		}},
		{"EndTxn coordinator unavailable", false, func(c *kfake.Cluster) *kfake.FaultHandle {
			return c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.CoordinatorNotAvailable, Count: 6})
		}},
		{"TxnOffsetCommit refused", true, func(c *kfake.Cluster) *kfake.FaultHandle {
			return c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.InvalidTxnState, Count: 6})
		}},
		{"TxnOffsetCommit applied but timed out", false, func(c *kfake.Cluster) *kfake.FaultHandle {
			return c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.RequestTimedOut, Count: 6})
		}},
		{"AddOffsetsToTxn refused", true, func(c *kfake.Cluster) *kfake.FaultHandle {
			return c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.AddOffsetsToTxn}, Err: kerr.InvalidTxnState, Count: 4})
		}},
		{"produce refused", true, func(c *kfake.Cluster) *kfake.FaultHandle {
			return c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "r", Err: kerr.InvalidRecord, Count: 6})
		}},
		{"produce applied but timed out", false, func(c *kfake.Cluster) *kfake.FaultHandle {
			return c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "r", Err: kerr.RequestTimedOut, Count: 6})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, map[string]int32{"r": 2}, "")
			e.produce(100)
			reg := prometheus.NewRegistry()
			r := start(t, e.opts("refuse", bridge.TxnMaxRecords(15), bridge.WithRegistry(reg))...)
			h := tc.fault(e.dst)
			e.produce(100)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := h.Wait(ctx, 1); err != nil {
				t.Fatalf("fault never hit: %v", err)
			}
			src := e.source()
			e.waitCommitted("refuse", src, nil, 60*time.Second)
			h.Remove()
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			e.verify(src, nil)
			aborted := metricValue(t, reg, "airlock_bridge_transactions_total", "aborted")
			restarts := metricValue(t, reg, "airlock_bridge_task_restarts_total", "")
			t.Logf("aborted=%v restarts=%v", aborted, restarts)
			if tc.aborts && (aborted == 0 || restarts == 0) {
				t.Errorf("aborted=%v restarts=%v: the fault should have aborted transactions and restarted tasks", aborted, restarts)
			}
		})
	}
}

// TestEndTxnResponseLost commits a transaction whose EndTxn response never
// arrives (the connection dies after the request is written): the outcome
// is unknown to the bridge, which must re-read the target and neither lose
// nor repeat the transaction's records.
func TestEndTxnResponseLost(t *testing.T) {
	e := newEnv(t, map[string]int32{"lost": 2}, "")
	e.produce(100)
	breaker := &bridgetest.ConnBreaker{}
	r := start(t, e.opts("lost",
		bridge.TxnMaxRecords(15),
		bridge.TargetClientOpts(kgo.Dialer(breaker.DialContext), kgo.RequestRetries(1)),
	)...)
	src := e.source()
	e.waitCommitted("lost", src, nil, 30*time.Second)
	breaker.BreakAfter(int16(kmsg.EndTxn), 3)
	e.produce(100)
	src = e.source()
	e.waitCommitted("lost", src, nil, 60*time.Second)
	if n := breaker.Broken(); n == 0 {
		t.Fatal("no EndTxn connection was broken")
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.verify(src, nil)
}

// TestScaleOut runs three instances sharing six tasks through the task
// group, kills one mid-stream (no graceful commit), and checks that its
// tasks continue elsewhere with every event copied exactly once.
func TestScaleOut(t *testing.T) {
	e := newEnv(t, map[string]int32{"s1": 4, "s2": 3}, "out.", kfake.GroupMinSessionTimeout(500*time.Millisecond))
	e.produce(100)
	var instances []*running
	var regs []*prometheus.Registry
	for range 3 {
		reg := prometheus.NewRegistry()
		regs = append(regs, reg)
		instances = append(instances, start(t, e.opts("scale",
			bridge.WithRegistry(reg),
			bridge.WithCoordination(bridge.GroupCoordination),
			bridge.Tasks(6),
			bridge.TxnMaxRecords(25),
			bridge.ShutdownTimeout(0),
			bridge.GroupSessionTimeout(2*time.Second),
		)...))
	}
	src := e.source()
	e.waitCommitted("scale", src, nil, 60*time.Second)
	running := func(i int) float64 { return gaugeValue(t, regs[i], "airlock_bridge_tasks_running") }
	eventually(t, 30*time.Second, "six tasks spread over three instances", func() (bool, string) {
		a, b, c := running(0), running(1), running(2)
		return a+b+c == 6 && a > 0 && b > 0 && c > 0, fmt.Sprintf("%v %v %v", a, b, c)
	})

	// Produce while one instance dies.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 10 {
			e.produce(10)
		}
	}()
	_ = instances[1].stop(t)
	wg.Wait()
	e.produce(20)
	eventually(t, 30*time.Second, "the survivors to run all six tasks", func() (bool, string) {
		a, c := running(0), running(2)
		return a+c == 6, fmt.Sprintf("%v %v", a, c)
	})
	src = e.source()
	e.waitCommitted("scale", src, nil, 60*time.Second)
	for i, r := range instances {
		if i == 1 {
			continue
		}
		if r.exited() {
			t.Fatalf("instance %d stopped: %v", i, r.err)
		}
	}
	for i, r := range instances {
		if i != 1 {
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.verify(src, nil)
}

// gaugeValue returns the value of an unlabelled gauge in reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// TestEndTxnDelayed holds EndTxn answers back (the commit is applied late,
// as in Jepsen's delayed-marker scenarios) while records keep flowing.
func TestEndTxnDelayed(t *testing.T) {
	e := newEnv(t, map[string]int32{"d": 2}, "")
	e.produce(50)
	var delayed atomic.Int64
	e.dst.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		e.dst.KeepControl()
		if delayed.Add(1) > 8 {
			e.dst.DropControl()
			return nil, nil, false
		}
		e.dst.SleepControl(func() { time.Sleep(300 * time.Millisecond) }) // the delay under test
		return nil, nil, false
	})
	r := start(t, e.opts("delay", bridge.TxnMaxRecords(10))...)
	e.produce(50)
	src := e.source()
	e.waitCommitted("delay", src, nil, 60*time.Second)
	if delayed.Load() < 8 {
		t.Fatalf("only %d EndTxn requests delayed", delayed.Load())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.verify(src, nil)
}

// TestGracefulShutdownCommits stops the bridge with a transaction open
// (records taken, nothing flushed) and with a commit under way: with a
// shutdown timeout both are committed, not aborted, and a restart neither
// loses nor repeats anything.
func TestGracefulShutdownCommits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		point  bridge.HookPoint
		copied float64 // records committed before Run returned
	}{
		{"open transaction", bridge.HookBeforeProduce, 1}, // records after the first are not taken once stopping
		{"commit under way", bridge.HookBeforeFlush, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, map[string]int32{"g": 1}, "")
			e.produce(60)
			reg := prometheus.NewRegistry()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			b, err := bridge.New(e.opts("graceful",
				bridge.Tasks(1),
				bridge.TxnMaxRecords(25),
				bridge.WithRegistry(reg),
				bridge.ShutdownTimeout(5*time.Second),
				bridge.WithHook(func(_ context.Context, _ int, p bridge.HookPoint) {
					if p == tc.point {
						once.Do(cancel)
					}
				}),
			)...)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Run(ctx); err != nil {
				t.Fatalf("run: %v", err)
			}
			if c, a := metricValue(t, reg, "airlock_bridge_transactions_total", "committed"), metricValue(t, reg, "airlock_bridge_transactions_total", "aborted"); c != 1 || a != 0 {
				t.Fatalf("committed=%v aborted=%v, want the transaction committed on shutdown", c, a)
			}
			if got := metricValue(t, reg, "airlock_bridge_records_copied_total", "g"); got != tc.copied {
				t.Fatalf("copied %v records before stopping, want %v", got, tc.copied)
			}
			src := e.source()
			r := start(t, e.opts("graceful", bridge.Tasks(1))...)
			e.waitCommitted("graceful", src, nil, 30*time.Second)
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			e.verify(src, nil)
		})
	}
}

// TestStaticRidesOutOneFence: under static coordination a single fence (here a
// stray InitProducerID on a task's transactional id; in the chaos suite a
// target broker killed -9 and reloaded) is not taken for a rival instance:
// the bridge takes the id back and goes on, exactly once.
func TestStaticRidesOutOneFence(t *testing.T) {
	fenceTimes(t, "fence", 1, 30*time.Second)
}

// TestStaticRidesOutBrokerFences: fences that nobody's commits follow (a
// target broker that aborts our transaction on every restart) never stop a
// static instance, however many there are.
func TestStaticRidesOutBrokerFences(t *testing.T) {
	fenceTimes(t, "flap", 4, 30*time.Second)
}

// fenceTimes runs a one-task bridge named name (more options appended),
// fences its transactional id n times from outside without committing, and
// checks that the task copies what is produced afterwards within within,
// exactly once, without the bridge stopping by itself.
func fenceTimes(t *testing.T, name string, n int, within time.Duration, more ...bridge.Opt) {
	t.Helper()
	e := newEnv(t, map[string]int32{"f": 1}, "", kfake.GroupMinSessionTimeout(500*time.Millisecond))
	e.produce(100)
	reg := prometheus.NewRegistry()
	r := start(t, e.opts(name, append([]bridge.Opt{bridge.Tasks(1), bridge.TxnMaxRecords(20), bridge.WithRegistry(reg)}, more...)...)...)
	e.waitCommitted(name, e.source(), nil, 30*time.Second)

	for i := 1; i <= n; i++ {
		stray := bridgetest.Client(t, e.dst, kgo.TransactionalID(name+"-0"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _, err := stray.ProducerID(ctx)
		cancel()
		stray.Close()
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, fmt.Sprintf("the task to notice fence %d", i), func() (bool, string) {
			e.produce(5)
			return metricValue(t, reg, "airlock_bridge_tasks_fenced_total", "") >= float64(i), "not fenced yet"
		})
		if r.exited() {
			t.Fatalf("bridge stopped after %d fences: %v", i, r.err)
		}
		// The task took its id back and copies again; the next fence
		// must come after that, or the retake would fence the stray.
		e.waitCommitted(name, e.source(), nil, within)
	}
	e.produce(50)
	src := e.source()
	e.waitCommitted(name, src, nil, within)
	if r.exited() {
		t.Fatalf("bridge stopped after %d fences: %v", n, r.err)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.verify(src, nil)
}

// TestGroupFenceWaitsOneSession: a task still assigned to us was fenced by
// an instance that has not yet learned it lost the task (bridge-freeze's
// thawed zombie). The task takes its id back after one group session, not
// after the long fenced backoff.
func TestGroupFenceWaitsOneSession(t *testing.T) {
	// Far below the 10-minute fenced backoff: the wait is one session.
	fenceTimes(t, "gfence", 1, 20*time.Second,
		bridge.WithCoordination(bridge.GroupCoordination),
		bridge.GroupSessionTimeout(2*time.Second),
		bridge.RetryBackoff(50*time.Millisecond, time.Second, 10*time.Minute),
	)
}
