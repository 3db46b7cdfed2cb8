package benchutil

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// result builds a PathResult: produce and consume each move 1 GB of payload over
// 2 GB of wire in secs seconds, costing cpu seconds each.
func result(path string, round int, secs, cpu float64, p50 time.Duration, idle *IdleResult) PathResult {
	ph := Phase{Payload: 1e9, Wire: 2e9, Elapsed: time.Duration(secs * float64(time.Second)), CPU: time.Duration(cpu * float64(time.Second))}
	return PathResult{Path: path, Round: round, Produce: ph, Consume: ph, P50: p50, P99: 2 * p50, Idle: idle}
}

func idleCost(rssKiB, goroutines int) *IdleResult {
	return &IdleResult{Conns: 1000, RSSBefore: 10 << 20, RSSAfter: 10<<20 + int64(rssKiB)*1000*1024,
		GoroutinesBefore: 10, GoroutinesAfter: float64(10 + goroutines*1000)}
}

func TestReport(t *testing.T) {
	c := defaultCfg()
	c.rounds = 2
	us := time.Microsecond
	results := []PathResult{
		result(PathDirect, 1, 1, 0, 50*us, nil),
		result(PathForwarder, 1, 2, 1.6, 100*us, idleCost(17, 2)),
		result(PathProxy, 1, 2, 2.0, 120*us, idleCost(12, 2)),
		result(PathProxy, 2, 4, 2.4, 180*us, idleCost(14, 2)),
		result(PathForwarder, 2, 2, 1.6, 80*us, idleCost(17, 2)),
		result(PathDirect, 2, 1, 0, 40*us, nil),
	}
	r := newReport(c, results, [2]float64{0.5, 1.5})

	if len(r.Rows) != 3 || r.Rows[0].Path != PathDirect || r.Rows[2].Path != PathProxy {
		t.Fatalf("rows = %+v, want direct, forwarder, proxy", r.Rows)
	}
	p := r.row(PathProxy)
	checks := []struct {
		name string
		got  Summary
		want Summary
	}{
		{"produce MB/s", p.ProduceMBps, Summary{Median: 375, Min: 250, Max: 500, N: 2}},
		{"produce vs forwarder", p.ProduceVsFwd, Summary{Median: 0.75, Min: 0.5, Max: 1, N: 2}},
		// 2 phases x 2 GB of wire: 4 GB; 2 x 2.0 s and 2 x 2.4 s of CPU.
		{"CPU-s/GB", p.CPUPerGB, Summary{Median: 1.1, Min: 1.0, Max: 1.2, N: 2}},
		{"p50 added", p.P50AddedUs, Summary{Median: 105, Min: 70, Max: 140, N: 2}},
		{"RSS/conn", p.RSSPerConnKiB, Summary{Median: 13, Min: 12, Max: 14, N: 2}},
		{"goroutines/conn", p.GoroutinesPerConn, Summary{Median: 2, Min: 2, Max: 2, N: 2}},
		{"direct has no CPU", r.row(PathDirect).CPUPerGB, Summary{}},
		{"direct has no idle cost", r.row(PathDirect).RSSPerConnKiB, Summary{}},
		{"forwarder has no ratio to itself", r.row(PathForwarder).ProduceVsFwd, Summary{}},
	}
	for _, ck := range checks {
		if !near(ck.got, ck.want) {
			t.Errorf("%s = %+v, want %+v", ck.name, ck.got, ck.want)
		}
	}

	pass := map[string]bool{}
	for _, tg := range r.Targets {
		pass[tg.Name] = tg.Pass
	}
	wantPass := map[string]bool{
		"CPU-s per GB":             false, // 1.1 > 0.6
		"produce vs forwarder":     false, // 0.75 < 0.9
		"consume vs forwarder":     false,
		"p50 added (us)":           true, // 105 <= 45 + 100
		"RSS per idle conn (KiB)":  true,
		"goroutines per idle conn": true,
	}
	for name, want := range wantPass {
		if got, ok := pass[name]; !ok || got != want {
			t.Errorf("target %q pass = %v (present %v), want %v", name, got, ok, want)
		}
	}

	var b strings.Builder
	if err := r.Render(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"airlock-proxy     375 [250..500]  375 [250..500]  0.75 [0.50..1.00]",
		"direct produce round trip: p50 45 [40..50] us",
		"CPU-s per GB                   1.10  <= 0.60     MISSED",
		"RSS per idle conn (KiB)       13.00  <= 16.00    ok",
		"load average 0.5 at start, 1.5 at end",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered report lacks %q:\n%s", want, out)
		}
	}
}

func near(a, b Summary) bool {
	eq := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	return a.N == b.N && eq(a.Median, b.Median) && eq(a.Min, b.Min) && eq(a.Max, b.Max)
}

func TestRunRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []Opt
	}{
		{"no forwarder command", nil},
		{"zero rounds", []Opt{ForwarderCommand("x"), Rounds(0)}},
		{"huge MB", []Opt{ForwarderCommand("x"), MB(1 << 20)}},
		{"no idle conns", []Opt{ForwarderCommand("x"), IdleConns(0)}},
		{"candidate named like a path", []Opt{ForwarderCommand("x"), Candidate(PathDirect, "bin")}},
		{"duplicate candidates", []Opt{ForwarderCommand("x"), Candidate("a", "bin"), Candidate("a", "bin2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.opts...)
			if !errors.Is(err, ErrBadOption) {
				t.Fatalf("Run = %v, want ErrBadOption", err)
			}
		})
	}
}
