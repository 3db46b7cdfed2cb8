package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/chaos"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(*config) bool
		wantErr string
	}{
		{name: "list", args: []string{"list"}, check: func(c *config) bool { return c.command == cmdList }},
		{name: "name first", args: []string{"run", "nemesis", "--seed", "7", "--form", "short", "--report", "out"},
			check: func(c *config) bool {
				return c.scenario == "nemesis" && c.seed == 7 && c.form == chaos.Short && c.report == "out"
			}},
		{name: "name last", args: []string{"run", "--duration", "2m", "--events", "500", "bridge-freeze"},
			check: func(c *config) bool {
				return c.scenario == "bridge-freeze" && c.duration == 2*time.Minute && c.events == 500 && c.form == chaos.Long
			}},
		{name: "env", args: []string{"run", "all"}, env: map[string]string{"AIRLOCK_CHAOS_SEED": "9", "AIRLOCK_CHAOS_FORM": "short", "AIRLOCK_CHAOS_DRY_RUN": "true"},
			check: func(c *config) bool {
				return c.scenario == allScenarios && c.seed == 9 && c.form == chaos.Short && c.dryRun
			}},
		{name: "no command", args: nil, wantErr: "need a command"},
		{name: "unknown command", args: []string{"explode"}, wantErr: "unknown command"},
		{name: "no scenario", args: []string{"run", "--seed", "1"}, wantErr: "need a scenario"},
		{name: "unknown scenario", args: []string{"run", "meteor"}, wantErr: "unknown scenario"},
		{name: "bad form", args: []string{"run", "nemesis", "--form", "medium"}, wantErr: "--form"},
		{name: "two scenarios", args: []string{"run", "nemesis", "leader-shuffle"}, wantErr: "unexpected arguments"},
		{name: "negative events", args: []string{"run", "nemesis", "--events", "-1"}, wantErr: "--events"},
		{name: "list with args", args: []string{"list", "x"}, wantErr: "no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseArgs(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}} {
		var out bytes.Buffer
		_, err := parseArgs(args, env(nil), &out)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: err = %v", args, err)
		}
		if !strings.Contains(out.String(), "airlock-chaos") {
			t.Errorf("%v: help %q", args, out.String())
		}
	}
	var out bytes.Buffer
	_, _ = parseArgs([]string{"run", "--help"}, env(nil), &out)
	for _, want := range []string{"AIRLOCK_CHAOS_SEED", "AIRLOCK_CHAOS_REPORT", "nemesis", "--dry-run"[2:]} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustParse(t *testing.T, args ...string) *config {
	t.Helper()
	c, err := parseArgs(args, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestList(t *testing.T) {
	var out bytes.Buffer
	if rc := run(context.Background(), mustParse(t, "list"), quiet(), &out, nil); rc != exitOK {
		t.Fatalf("rc %d", rc)
	}
	for _, s := range chaos.Catalogue() {
		if !strings.Contains(out.String(), s.Name) || !strings.Contains(out.String(), s.Description) {
			t.Errorf("list lacks %s or its description", s.Name)
		}
	}
}

func TestDryRunIsDeterministic(t *testing.T) {
	plan := func() string {
		var out bytes.Buffer
		if rc := run(context.Background(), mustParse(t, "run", "nemesis", "--seed", "11", "--dry-run"), quiet(), &out, nil); rc != exitOK {
			t.Fatalf("rc %d", rc)
		}
		return out.String()
	}
	a, b := plan(), plan()
	if a != b || !strings.Contains(a, "seed 11") || !strings.Contains(a, "w01") {
		t.Errorf("dry runs differ or are empty:\n%s\n%s", a, b)
	}
}

// TestRunWithoutDocker: when the docker check fails (no docker, images not
// built), run fails clearly with the could-not-run status, and the check runs
// once for all scenarios.
func TestRunWithoutDocker(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	checks := 0
	noDocker := func(context.Context, *slog.Logger) error {
		checks++
		return fmt.Errorf("%w: docker does not answer", chaos.ErrNoEnvironment)
	}
	c := mustParse(t, "run", "all", "--form", "short")
	rc := run(context.Background(), c, log, io.Discard, environmentWith(c, log, noDocker))
	if checks != 1 {
		t.Errorf("docker checked %d times, want once", checks)
	}
	if rc != exitError {
		t.Errorf("rc %d, want %d", rc, exitError)
	}
	if !strings.Contains(logs.String(), "docker testbed not available") {
		t.Errorf("logs %q", logs.String())
	}
}

// fakeEnv runs bridge-crash-loop against recording fakes: the bridge
// replicates instantly and its metrics say so.
type fakeEnv struct {
	mu     sync.Mutex
	calls  []string
	url    string
	closed bool
}

func (e *fakeEnv) record(s string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, s)
	return nil
}

func (e *fakeEnv) Topology() chaos.Topology {
	return chaos.Topology{
		Bridges:        []string{"bridge-0"},
		Metrics:        []chaos.Endpoint{chaos.StaticEndpoint("bridge-0", chaos.RoleBridge, e.url)},
		ProxyAddresses: []string{"source-toxi:19092", "target-toxi:29092"},
	}
}
func (e *fakeEnv) Toxics() (chaos.Toxics, error)         { return nil, chaos.ErrUnsupported }
func (e *fakeEnv) Containers() (chaos.Containers, error) { return e, nil }
func (e *fakeEnv) BrokerAdmin(chaos.Side) (chaos.BrokerAdmin, error) {
	return nil, chaos.ErrUnsupported
}
func (e *fakeEnv) StartWorkload(context.Context, chaos.WorkloadSpec) (chaos.Workload, error) {
	return fakeWorkload{}, nil
}
func (e *fakeEnv) Close(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

func (e *fakeEnv) Stop(_ context.Context, name string, _ time.Duration) error {
	return e.record("stop " + name)
}
func (e *fakeEnv) Start(_ context.Context, name string) error { return e.record("start " + name) }
func (e *fakeEnv) Kill(_ context.Context, name, sig string) error {
	return e.record("kill " + name + " " + sig)
}
func (e *fakeEnv) Pause(_ context.Context, name string) error   { return e.record("pause " + name) }
func (e *fakeEnv) Unpause(_ context.Context, name string) error { return e.record("unpause " + name) }
func (e *fakeEnv) Disconnect(_ context.Context, name, network string) error {
	return e.record("disconnect " + name + " " + network)
}
func (e *fakeEnv) Connect(_ context.Context, name, network string, _ []string) error {
	return e.record("connect " + name + " " + network)
}

// fakeWorkload produced 10 events, all delivered, through proxy addresses.
type fakeWorkload struct{}

func (fakeWorkload) Progress() chaos.Progress               { return chaos.Progress{Produced: 10, Acked: 10} }
func (fakeWorkload) WaitProduced(ctx context.Context) error { return ctx.Err() }
func (fakeWorkload) Check(context.Context) (*chaos.CheckResult, error) {
	return &chaos.CheckResult{OK: true, Stats: chaos.CheckStats{LedgerEvents: 10, Acked: 10, Records: 10, DistinctEvents: 10, AckedSeen: 10}}, nil
}
func (fakeWorkload) BridgeAddresses(context.Context) ([]string, error) {
	return []string{"source-toxi:19092"}, nil
}
func (fakeWorkload) Stop(context.Context) error { return nil }

func TestRunWritesReport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, `airlock_bridge_records_copied_total{topic="orders"} 10`)
		_, _ = fmt.Fprintln(w, `airlock_bridge_replication_lag_records{topic="orders",partition="0"} 0`)
	}))
	defer srv.Close()
	fe := &fakeEnv{url: srv.URL}
	factory := func(context.Context, chaos.Needs) (chaos.Environment, error) { return fe, nil }
	dir := filepath.Join(t.TempDir(), "reports")
	c := mustParse(t, "run", "bridge-crash-loop", "--form", "short", "--duration", "300ms", "--events", "10",
		"--sample-interval", "10ms", "--progress-interval", "50ms", "--report", dir)
	var out bytes.Buffer
	if rc := run(context.Background(), c, quiet(), &out, factory); rc != exitOK {
		t.Fatalf("rc %d:\n%s", rc, out.String())
	}
	if !strings.Contains(out.String(), "result    PASS") {
		t.Errorf("report:\n%s", out.String())
	}
	fe.mu.Lock()
	kills := strings.Count(strings.Join(fe.calls, "\n"), "kill bridge-0 SIGKILL")
	starts := strings.Count(strings.Join(fe.calls, "\n"), "start bridge-0")
	closed := fe.closed
	fe.mu.Unlock()
	if kills != 6 || starts != 6 || !closed {
		t.Errorf("%d kills, %d starts, closed %v", kills, starts, closed)
	}
	for _, f := range []string{chaos.ReportText, chaos.ReportJSON, chaos.ReportTimeline} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
