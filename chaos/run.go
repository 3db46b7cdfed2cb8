package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Status is a snapshot of a running scenario, for progress output.
type Status struct {
	Elapsed  time.Duration
	Phase    string // "faults", "draining", "checking"
	Produced int64
	Acked    int64
	Copied   float64
	Lag      float64
	HaveLag  bool
	Active   []string
}

// String formats the status as one progress line.
func (s Status) String() string {
	lag := "?"
	if s.HaveLag {
		lag = formatNum(s.Lag)
	}
	active := "none"
	if len(s.Active) > 0 {
		active = strings.Join(s.Active, "; ")
	}
	return fmt.Sprintf("%6s %-8s produced %d, acked %d, copied %s, lag %s; active faults: %s",
		fmtDur(s.Elapsed.Round(time.Second)), s.Phase, s.Produced, s.Acked, formatNum(s.Copied), lag, active)
}

// RunOpt configures Run.
type RunOpt interface{ applyRun(*runCfg) }

type runOpt func(*runCfg)

func (o runOpt) applyRun(c *runCfg) { o(c) }

type runCfg struct {
	log         *slog.Logger
	sample      time.Duration
	progress    time.Duration
	onStatus    func(Status)
	healTimeout time.Duration
	drainGrace  time.Duration
	description string
}

// WithLogger sets the logger, overriding slog.Default().
func WithLogger(l *slog.Logger) RunOpt { return runOpt(func(c *runCfg) { c.log = l }) }

// WithSampleInterval sets how often metrics are sampled, overriding 1s.
func WithSampleInterval(d time.Duration) RunOpt { return runOpt(func(c *runCfg) { c.sample = d }) }

// WithProgress calls fn every interval with the run's status, overriding a
// log line every 5s.
func WithProgress(interval time.Duration, fn func(Status)) RunOpt {
	return runOpt(func(c *runCfg) { c.progress, c.onStatus = interval, fn })
}

// WithHealTimeout bounds each heal done on the way out, overriding 60s.
func WithHealTimeout(d time.Duration) RunOpt { return runOpt(func(c *runCfg) { c.healTimeout = d }) }

// WithDrainGrace is how long past the recovery bound Run still waits for the
// bridge to drain before checking, overriding the bound itself: a slow
// recovery fails the recovery invariant, and the grace keeps it from also
// showing up as lost events that were merely late.
func WithDrainGrace(d time.Duration) RunOpt { return runOpt(func(c *runCfg) { c.drainGrace = d }) }

// WithDescription sets the report's description (the scenario's).
func WithDescription(s string) RunOpt { return runOpt(func(c *runCfg) { c.description = s }) }

// Run runs plan p in env: it starts the workload and the metrics sampler,
// applies and heals the fault schedule, waits for the producer and for the
// bridge to drain, runs the checker, and judges the invariants. Every fault
// is healed before Run returns, whatever happens.
//
// It returns an error only when the run could not start (a fault spec that
// does not fit the topology, a workload that did not start); everything that
// goes wrong later is in the report, which fails (Report.Err). When ctx ends
// early the report so far is returned with ctx's error.
func Run(ctx context.Context, env Environment, p Plan, opts ...RunOpt) (*Report, error) {
	cfg := runCfg{log: slog.Default(), sample: time.Second, progress: 5 * time.Second, healTimeout: defaultHealTimeout}
	for _, o := range opts {
		o.applyRun(&cfg)
	}
	if cfg.drainGrace == 0 {
		cfg.drainGrace = p.Recovery
	}
	steps, err := p.Steps(env)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", p.Scenario, err)
	}
	topo := env.Topology()
	log := cfg.log.With("scenario", p.Scenario)
	log.Info("starting workload", "events", p.Workload.Events, "rate", formatNum(p.Workload.Rate), "faults", len(steps))
	w, err := env.StartWorkload(ctx, p.Workload)
	if err != nil {
		return nil, fmt.Errorf("start workload: %w", err)
	}
	// Stop the workload however Run ends, even when ctx is gone.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.healTimeout)
		defer cancel()
		if err := w.Stop(sctx); err != nil {
			log.Warn("stop workload", "err", err)
		}
	}()

	start := time.Now()
	sopts := []SamplerOpt{SamplerStart(start), SampleInterval(cfg.sample),
		SampleFunc(SeriesAcked, func() float64 { return float64(w.Progress().Acked) })}
	if lp, ok := w.(LagProber); ok {
		defs := slices.DeleteFunc(StandardSeries(), func(d SeriesDef) bool { return d.Name == SeriesLag })
		sopts = append(sopts, SampleSeries(defs...), SampleProbe(SeriesLag, lp.Lag))
	}
	sampler := NewSampler(topo.Metrics, sopts...)
	runner := NewRunner(StartAt(start), RunnerLogger(log), HealTimeout(cfg.healTimeout))
	phase := newPhase("faults")

	bg, bgCtx := errgroup.WithContext(ctx)
	bgCtx, stopBG := context.WithCancel(bgCtx)
	bg.Go(func() error { return sampler.Run(bgCtx) })
	bg.Go(func() error {
		report := cfg.onStatus
		if report == nil {
			report = func(s Status) { log.Info("progress", "status", s.String()) }
		}
		t := time.NewTicker(cfg.progress)
		defer t.Stop()
		for {
			select {
			case <-bgCtx.Done():
				return nil
			case <-t.C:
				report(status(start, phase.get(), w, sampler, runner))
			}
		}
	})
	stopBackground := func() {
		stopBG()
		_ = bg.Wait() // both goroutines return nil
	}
	defer stopBackground()

	tl, faultErr := runner.Run(ctx, steps)
	var lastHeal time.Duration
	for _, ev := range tl.Events {
		if ev.Kind == EventHeal && ev.At > lastHeal {
			lastHeal = ev.At
		}
	}
	var runErrs []error
	if faultErr != nil {
		runErrs = append(runErrs, faultErr)
	}

	var check *CheckResult
	var addrs []string
	if ctx.Err() == nil {
		phase.set("draining")
		// The producer had the fault phase to send everything; give it the
		// recovery bound on top.
		wctx, cancel := context.WithDeadline(ctx, start.Add(p.Duration+p.Recovery))
		if err := w.WaitProduced(wctx); err != nil {
			runErrs = append(runErrs, fmt.Errorf("producer did not finish: %w", err))
		}
		cancel()
		drainErr := waitDrained(ctx, sampler, start.Add(lastHeal+p.Recovery+cfg.drainGrace), cfg.sample)
		if drainErr != nil && ctx.Err() == nil {
			log.Warn("bridge did not drain; checking anyway", "err", drainErr)
		}
		phase.set("checking")
		if ctx.Err() == nil {
			var err error
			if check, err = w.Check(ctx); err != nil {
				runErrs = append(runErrs, fmt.Errorf("check: %w", err))
				check = nil
			}
			if addrs, err = w.BridgeAddresses(ctx); err != nil {
				runErrs = append(runErrs, fmt.Errorf("bridge addresses: %w", err))
			}
		}
	}
	sampler.Sample(context.WithoutCancel(ctx)) // the state the check saw
	stopBackground()

	rep := &Report{
		Scenario:      p.Scenario,
		Description:   cfg.description,
		Form:          p.Form,
		Seed:          p.Seed,
		Started:       start,
		Elapsed:       Seconds(time.Since(start).Round(time.Millisecond)),
		FaultPhase:    Seconds(p.Duration),
		RecoveryBound: Seconds(p.Recovery),
		LastHeal:      Seconds(lastHeal),
		Series:        sampler.All(),
		Check:         check,
		Notes:         sampler.ScrapeFailures(),
	}
	names := make(map[string]string, len(steps))
	for i, s := range steps {
		names[s.ID] = p.Windows[i].Fault.String()
	}
	rep.Faults = faultRecords(steps, tl, func(s Step) string { return names[s.ID] })
	rep.fill(p, w.Progress(), addrs, topo.ProxyAddresses, runErrs)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("scenario %s interrupted: %w", p.Scenario, err)
	}
	return rep, nil
}

// fill computes the counts, recovery and verdicts from what the run gathered.
func (r *Report) fill(p Plan, prog Progress, addrs, allowed []string, runErrs []error) {
	lag := r.Series[SeriesLag]
	r.MaxLag = lag.Max()
	if d, ok := lag.Recovery(r.LastHeal.D(), p.CaughtUpLag); ok {
		rec := Seconds(d)
		r.Recovery = &rec
	}
	r.Counts.Produced, r.Counts.Acknowledged = prog.Produced, prog.Acked
	if c := r.Check; c != nil {
		if c.Stats.LedgerEvents > 0 {
			r.Counts.Produced = int64(c.Stats.LedgerEvents)
		}
		r.Counts.Acknowledged = int64(c.Stats.Acked)
		r.Counts.Delivered = int64(c.Stats.DistinctEvents)
		r.Counts.Lost = int64(c.Class(ClassLost).Count)
		r.Counts.Duplicated = int64(c.Class(ClassDuplicate).Count)
	}
	var fenced float64
	if f := r.Series[SeriesFenced]; len(f) > 0 {
		fenced = f[len(f)-1].V - f[0].V
	}
	r.Invariants = Evaluate(p.Invariants, Evidence{
		Check:         r.Check,
		Addresses:     addrs,
		Allowed:       allowed,
		Lag:           lag,
		LastHeal:      r.LastHeal.D(),
		RecoveryBound: p.Recovery,
		CaughtUpLag:   p.CaughtUpLag,
		Fenced:        fenced,
	})
	r.Errors = errorStrings(runErrs...)
	r.OK = len(r.Errors) == 0
	for _, inv := range r.Invariants {
		r.OK = r.OK && inv.OK
	}
}

// waitDrained polls the sampler until the bridge's lag was 0 in two
// consecutive samples, or deadline passes, or ctx ends.
func waitDrained(ctx context.Context, s *Sampler, deadline time.Time, every time.Duration) error {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		lag := s.Series(SeriesLag)
		if n := len(lag); n >= 2 && lag[n-1].V == 0 && lag[n-2].V == 0 {
			return nil
		}
		select {
		case <-dctx.Done():
			if p, ok := lag.Last(); ok {
				return fmt.Errorf("lag still %s at %v: %w", formatNum(p.V), p.T.Round(time.Second), dctx.Err())
			}
			return fmt.Errorf("no lag samples: %w", dctx.Err())
		case <-t.C:
		}
	}
}

func status(start time.Time, phase string, w Workload, s *Sampler, r *Runner) Status {
	st := Status{Elapsed: time.Since(start), Phase: phase, Active: r.Active()}
	prog := w.Progress()
	st.Produced, st.Acked = prog.Produced, prog.Acked
	if p, ok := s.Last(SeriesCopied); ok {
		st.Copied = p.V
	}
	if p, ok := s.Last(SeriesLag); ok {
		st.Lag, st.HaveLag = p.V, true
	}
	return st
}

// phaseBox is the run's current phase, read by the progress goroutine.
type phaseBox struct{ v atomic.Value }

func newPhase(initial string) *phaseBox {
	p := &phaseBox{}
	p.v.Store(initial)
	return p
}

func (p *phaseBox) get() string { return p.v.Load().(string) }

func (p *phaseBox) set(v string) { p.v.Store(v) }
