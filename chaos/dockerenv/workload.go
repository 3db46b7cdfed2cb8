package dockerenv

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/airlock-kafka/airlock/bridge"
	"github.com/airlock-kafka/airlock/chaos"
	"github.com/airlock-kafka/airlock/chaos/consumercheck"
	"github.com/airlock-kafka/airlock/internal/testbed"
)

// progressEvery is how often the producer logs its counts, and how often they
// are read back.
const progressEvery = time.Second

// StartWorkload implements chaos.Environment: the bridge instances first
// (ready, with their tasks assigned), then the producer, so the fault phase
// starts with everything running.
func (e *Env) StartWorkload(ctx context.Context, w chaos.WorkloadSpec) (chaos.Workload, error) {
	wl := &workload{e: e, spec: w, done: make(chan struct{})}
	for i, name := range e.topo.Bridges {
		args := []string{}
		if len(e.topo.Bridges) > 1 {
			args = append(args, "--coordination", "group")
		}
		if d := e.needs.BridgeTxnTimeout; d > 0 {
			args = append(args, "--txn-timeout", d.String())
		}
		if d := e.needs.BridgeSessionTimeout; d > 0 {
			args = append(args, "--group-session-timeout", d.String())
		}
		args = append(args, e.cfg.bridgeArgs...)
		b, err := e.tb.StartBridge(ctx, testbed.BridgeSpec{Name: BridgeName, Container: name, Topics: []string{Topic}, Args: args})
		if err != nil {
			return nil, fmt.Errorf("bridge %d: %w", i, err)
		}
		wl.bridges = append(wl.bridges, b)
	}
	lag, err := e.tb.NewLagMeter(wl.bridges[0], Topic)
	if err != nil {
		return nil, err
	}
	wl.lag = lag
	ps := testbed.ProducerSpec{
		Name: "producer", Topic: Topic, Events: w.Events, Rate: w.Rate, Keys: w.Keys,
		Args: []string{"--progress-interval", progressEvery.String()},
	}
	if w.TxnSize > 0 {
		ps.TransactionalID, ps.TxnSize, ps.AbortFraction = "chaos-producer", w.TxnSize, w.AbortFraction
	}
	prod, err := e.tb.StartProducer(ctx, ps)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	wl.producer = prod
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	wl.stopPoll = cancel
	wl.poll.Go(func() error { wl.pollProgress(pctx); return nil })
	return wl, nil
}

// workload implements chaos.Workload.
type workload struct {
	e        *Env
	spec     chaos.WorkloadSpec
	bridges  []*testbed.BridgeInstance
	producer *testbed.Container
	lag      *testbed.LagMeter

	produced, acked atomic.Int64
	poll            errgroup.Group
	stopPoll        context.CancelFunc
	done            chan struct{} // closed when the producer exited
	doneOnce        sync.Once
	stopOnce        sync.Once
}

var _ chaos.LagProber = (*workload)(nil)

// Lag implements chaos.LagProber: the source's end offsets minus the offsets
// the bridges committed on the target, read by the test process straight
// from the brokers, so it keeps counting while a bridge is frozen, killed or
// cut off from the source.
func (w *workload) Lag(ctx context.Context) (float64, error) {
	n, err := w.lag.Lag(ctx)
	return float64(n), err
}

// Progress implements chaos.Workload from the producer's last progress line.
func (w *workload) Progress() chaos.Progress {
	return chaos.Progress{Produced: w.produced.Load(), Acked: w.acked.Load()}
}

// pollProgress reads the producer's counts from its log until ctx ends or it
// exited and its summary was read.
func (w *workload) pollProgress(ctx context.Context) {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		w.readProgress(ctx)
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			w.readProgress(ctx)
			return
		case <-t.C:
		}
	}
}

func (w *workload) readProgress(ctx context.Context) {
	logs, err := w.producer.Logs(ctx)
	if err != nil {
		return // the next poll tells
	}
	if p, ok := parseProgress(logs); ok {
		w.produced.Store(p.Produced)
		w.acked.Store(p.Acked)
	}
}

var (
	progressLine = regexp.MustCompile(`msg=(?:progress|summary) .*?\bevents=(\d+) acked=(\d+)`)
	addrAttr     = regexp.MustCompile(`\baddr=("(?:[^"\\]|\\.)*"|\S+)`)
)

// parseProgress returns the counts of the producer's last progress or
// summary line.
func parseProgress(logs string) (chaos.Progress, bool) {
	m := progressLine.FindAllStringSubmatch(logs, -1)
	if len(m) == 0 {
		return chaos.Progress{}, false
	}
	last := m[len(m)-1]
	produced, err1 := strconv.ParseInt(last[1], 10, 64)
	acked, err2 := strconv.ParseInt(last[2], 10, 64)
	if err1 != nil || err2 != nil {
		return chaos.Progress{}, false
	}
	return chaos.Progress{Produced: produced, Acked: acked}, true
}

// parseAddresses returns the addr of every bridge.MsgBrokerAddress line.
func parseAddresses(logs string) []string {
	var out []string
	for line := range strings.SplitSeq(logs, "\n") {
		if !strings.Contains(line, bridge.MsgBrokerAddress) {
			continue
		}
		if m := addrAttr.FindStringSubmatch(line); m != nil {
			a := m[1]
			if u, err := strconv.Unquote(a); err == nil {
				a = u
			}
			out = append(out, a)
		}
	}
	return out
}

// WaitProduced implements chaos.Workload: it waits for the producer to exit,
// which it does once every event's fate is known.
func (w *workload) WaitProduced(ctx context.Context) error {
	code, err := w.producer.Wait(ctx)
	if err != nil {
		return err
	}
	w.doneOnce.Do(func() { close(w.done) })
	if code != 0 {
		logs, _ := w.producer.Logs(context.WithoutCancel(ctx))
		return fmt.Errorf("%w: producer exited %d:\n%s", ErrWorkload, code, tail(logs, 4<<10))
	}
	w.readProgress(ctx)
	return nil
}

// Check implements chaos.Workload: airlock-consumer reads the target topic in
// the target zone and checks it against the producer's ledger.
func (w *workload) Check(ctx context.Context) (*chaos.CheckResult, error) {
	// Past the expected count the consumer still reads a few seconds for
	// duplicates; the idle timeout ends a read that falls short.
	v, err := w.e.tb.VerifyProducer(ctx, w.producer, w.bridges[0].TargetTopic(Topic), 20*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWorkload, err)
	}
	if v.ExitCode > 1 {
		return nil, fmt.Errorf("%w: consumer could not check (exit %d):\n%s", ErrWorkload, v.ExitCode, tail(v.Logs, 4<<10))
	}
	return consumercheck.FromReport(v.Report), nil
}

// BridgeAddresses implements chaos.Workload from the bridges' logs, which
// docker keeps across their restarts.
func (w *workload) BridgeAddresses(ctx context.Context) ([]string, error) {
	var out []string
	for _, b := range w.bridges {
		logs, err := b.Logs(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, parseAddresses(logs)...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no %q line in the bridges' logs", ErrWorkload, bridge.MsgBrokerAddress)
	}
	return out, nil
}

// Stop implements chaos.Workload: the producer and the bridges get SIGTERM
// (a bridge commits or aborts its open transactions) and are left stopped,
// with their logs, for Close.
func (w *workload) Stop(ctx context.Context) error {
	var err error
	w.stopOnce.Do(func() {
		var errs []error
		if e := w.producer.Stop(ctx, 5*time.Second); e != nil {
			errs = append(errs, e)
		}
		for _, b := range w.bridges {
			if e := b.Stop(ctx, 10*time.Second); e != nil {
				errs = append(errs, e)
			}
		}
		w.stopPoll()
		_ = w.poll.Wait()
		w.lag.Close()
		err = errors.Join(errs...)
	})
	return err
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
