package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/airlock-kafka/airlock/chaos"
)

// closeTimeout bounds tearing an environment down after a run.
const closeTimeout = 2 * time.Minute

// run executes the parsed command and returns the exit status.
func run(ctx context.Context, c *config, log *slog.Logger, out io.Writer, factory chaos.EnvironmentFactory) int {
	switch c.command {
	case cmdList:
		if err := list(out); err != nil {
			log.Error("list", "err", err)
			return exitError
		}
		return exitOK
	case cmdRun:
		return runScenarios(ctx, c, log, out, factory)
	}
	log.Error("unknown command", "command", c.command)
	return exitUsage
}

// list prints the catalogue: name, sizes, fault count, description.
func list(out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "SCENARIO\tSHORT\tLONG\tFAULTS\tTOPOLOGY")
	var descs []string
	for _, s := range chaos.Catalogue() {
		faults := fmt.Sprint(len(s.Long.Windows))
		if s.Nemesis != nil {
			faults = "random"
		}
		n := s.Needs
		topo := fmt.Sprintf("%d+%d nodes, %d bridge(s)", max(n.SourceNodes, 1), max(n.TargetNodes, 1), max(n.Bridges, 1))
		if n.Persistent {
			topo += ", persistent"
		}
		_, _ = fmt.Fprintf(tw, "%s\t%v\t%v\t%s\t%s\n", s.Name, s.Short.Duration, s.Long.Duration, faults, topo)
		descs = append(descs, fmt.Sprintf("%s\n    %s", s.Name, s.Description))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "\n%s\n", strings.Join(descs, "\n"))
	return err
}

// runScenarios runs one scenario or all of them and returns the worst status.
func runScenarios(ctx context.Context, c *config, log *slog.Logger, out io.Writer, factory chaos.EnvironmentFactory) int {
	var scenarios []chaos.Scenario
	if c.scenario == allScenarios {
		scenarios = chaos.Catalogue()
	} else {
		s, err := chaos.Lookup(c.scenario)
		if err != nil {
			log.Error("run", "err", err)
			return exitUsage
		}
		scenarios = []chaos.Scenario{s}
	}
	seed := c.seed
	if seed == 0 {
		seed = rand.Int64N(1<<31-1) + 1 // short enough to retype
	}
	code := exitOK
	for _, s := range scenarios {
		if ctx.Err() != nil {
			return exitError
		}
		// The worst status wins: could not run > usage > violations > ok.
		code = max(code, runOne(ctx, c, s, seed, log, out, factory))
	}
	return code
}

func runOne(ctx context.Context, c *config, s chaos.Scenario, seed int64, log *slog.Logger, out io.Writer, factory chaos.EnvironmentFactory) int {
	runLog := log // chaos.Run adds the scenario itself
	log = log.With("scenario", s.Name)
	plan, err := s.Plan(c.form, chaos.Overrides{Seed: seed, Duration: c.duration, Events: c.events})
	if err != nil {
		log.Error("plan", "err", err)
		return exitUsage
	}
	if c.dryRun {
		if _, err := fmt.Fprint(out, plan.Describe()); err != nil {
			return exitError
		}
		return exitOK
	}
	log.Info("scenario", "form", plan.Form, "seed", plan.Seed, "duration", plan.Duration, "events", plan.Workload.Events, "faults", len(plan.Windows))
	env, err := factory(ctx, plan.Needs)
	if err != nil {
		log.Error("cannot run", "err", err)
		return exitError
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if err := env.Close(cctx); err != nil {
			log.Warn("close environment", "err", err)
		}
	}()
	rep, err := chaos.Run(ctx, env, plan,
		chaos.WithLogger(runLog),
		chaos.WithDescription(s.Description),
		chaos.WithSampleInterval(c.sample),
		chaos.WithProgress(c.progress, func(st chaos.Status) { log.Info("progress", "status", st.String()) }),
	)
	if rep == nil {
		log.Error("run", "err", err)
		return exitError
	}
	if lc, ok := env.(logCollector); ok && c.report != "" {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		if lerr := lc.CollectLogs(cctx, filepath.Join(reportDir(c, s), "logs")); lerr != nil {
			log.Warn("container logs", "err", lerr)
		}
		cancel()
	}
	if werr := rep.WriteText(out); werr != nil {
		log.Error("write report", "err", werr)
	}
	if c.report != "" {
		paths, werr := rep.WriteDir(reportDir(c, s))
		if werr != nil {
			log.Error("write report", "err", werr)
			return exitError
		}
		log.Info("report written", "files", strings.Join(paths, " "))
	}
	switch {
	case err != nil:
		log.Error("run", "err", err)
		return exitError
	case !rep.OK:
		log.Error("scenario failed", "err", rep.Err())
		return exitViolations
	}
	log.Info("scenario passed", "recovery", rep.Recovery)
	return exitOK
}

// logCollector is an environment that can save its containers' logs.
type logCollector interface {
	CollectLogs(ctx context.Context, dir string) error
}

// reportDir is where a scenario's report goes: with `all`, one subdirectory
// per scenario.
func reportDir(c *config, s chaos.Scenario) string {
	if c.scenario == allScenarios {
		return filepath.Join(c.report, s.Name)
	}
	return c.report
}
