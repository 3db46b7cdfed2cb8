package chaos

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func nemesisScenario(t *testing.T) Scenario {
	t.Helper()
	s, err := Lookup("nemesis")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// describe renders windows as text, so comparisons print readably.
func describe(ws []Window) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintln(&b, w)
	}
	return b.String()
}

func TestNemesisSameSeedSameSchedule(t *testing.T) {
	s := nemesisScenario(t)
	for _, seed := range []int64{0, 1, 42, -7, 1 << 40} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			a, err := s.Plan(Long, Overrides{Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			// A fresh catalogue, so nothing is shared between the two.
			b, err := nemesisScenario(t).Plan(Long, Overrides{Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a.Windows, b.Windows) {
				t.Fatalf("seed %d gave two schedules:\n%s\nvs\n%s", seed, describe(a.Windows), describe(b.Windows))
			}
			if len(a.Windows) < 20 {
				t.Errorf("a 10-minute nemesis drew only %d faults", len(a.Windows))
			}
		})
	}
}

func TestNemesisSeedsDiffer(t *testing.T) {
	s := nemesisScenario(t)
	seen := map[string]int64{}
	for seed := range int64(20) {
		p, err := s.Plan(Short, Overrides{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		d := describe(p.Windows)
		if prev, ok := seen[d]; ok {
			t.Errorf("seeds %d and %d gave the same schedule:\n%s", prev, seed, d)
		}
		seen[d] = seed
	}
}

func TestNemesisWindowsFit(t *testing.T) {
	s := nemesisScenario(t)
	for seed := range int64(50) {
		d := 45 * time.Second
		ws := s.Nemesis.Windows(seed, d)
		if len(ws) == 0 {
			t.Fatalf("seed %d: no faults in %v", seed, d)
		}
		var prevEnd time.Duration
		for i, w := range ws {
			switch {
			case w.At < prevEnd+s.Nemesis.MinGap:
				t.Errorf("seed %d window %d (%s) starts %v after the previous ended, want >= %v", seed, i, w, w.At-prevEnd, s.Nemesis.MinGap)
			case w.End() > d-d/10:
				t.Errorf("seed %d window %d (%s) ends in the quiet tail", seed, i, w)
			case isInstant(w.Fault) && w.For != 0:
				t.Errorf("seed %d window %d: instant fault lasts %v", seed, i, w.For)
			case !isInstant(w.Fault) && (w.For < s.Nemesis.MinFor || w.For > s.Nemesis.MaxFor):
				t.Errorf("seed %d window %d lasts %v, outside %v..%v", seed, i, w.For, s.Nemesis.MinFor, s.Nemesis.MaxFor)
			}
			prevEnd = w.End()
		}
	}
}

func TestPlanOverrides(t *testing.T) {
	s, err := Lookup("latency-spike")
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Plan(Short, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan(Short, Overrides{Duration: 2 * base.Duration, Events: 10})
	if err != nil {
		t.Fatal(err)
	}
	if p.Workload.Events != 10 || p.Duration != 2*base.Duration {
		t.Errorf("overrides not applied: %d events over %v", p.Workload.Events, p.Duration)
	}
	for i := range p.Windows {
		if p.Windows[i].At != 2*base.Windows[i].At || p.Windows[i].For != 2*base.Windows[i].For {
			t.Errorf("window %d: %s, want twice %s", i, p.Windows[i], base.Windows[i])
		}
	}
	if want := 10 / p.Duration.Seconds(); p.Workload.Rate != want || p.CaughtUpLag != want {
		t.Errorf("rate %v, caught-up lag %v; want %v", p.Workload.Rate, p.CaughtUpLag, want)
	}
	if _, err := s.Plan("medium", Overrides{}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("unknown form: %v", err)
	}
}

func TestValidateWindows(t *testing.T) {
	fault := ContainerFault{Role: RoleBridge, Index: 0, Action: ActionKill}
	shuffle := BrokerFault{Side: Source, Action: ActionShuffleLeaders}
	tests := []struct {
		name string
		ws   []Window
		ok   bool
	}{
		{"fits", []Window{{At: time.Second, For: 2 * time.Second, Fault: fault}, {At: 5 * time.Second, Fault: shuffle}}, true},
		{"no fault", []Window{{At: time.Second}}, false},
		{"negative", []Window{{At: -time.Second, For: time.Second, Fault: fault}}, false},
		{"too long", []Window{{At: 9 * time.Second, For: 2 * time.Second, Fault: fault}}, false},
		{"instant with length", []Window{{At: time.Second, For: time.Second, Fault: shuffle}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := validateWindows(tc.ws, 10*time.Second)
			if (err == nil) != tc.ok {
				t.Errorf("validateWindows = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestCatalogue(t *testing.T) {
	want := []string{"latency-spike", "bandwidth-squeeze", "source-blackhole", "reset-storm", "target-partition",
		"source-broker-restart", "target-broker-restart", "bridge-crash-loop", "bridge-freeze",
		"proxy-rolling-restart", "leader-shuffle", "nemesis"}
	cat := Catalogue()
	var names []string
	for _, s := range cat {
		names = append(names, s.Name)
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("catalogue %q, want %q", names, want)
	}
	for _, s := range cat {
		t.Run(s.Name, func(t *testing.T) {
			if s.Description == "" {
				t.Error("no description")
			}
			short, err := s.Plan(Short, Overrides{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			long, err := s.Plan(Long, Overrides{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(short.Windows) == 0 || len(long.Windows) == 0 {
				t.Fatal("a form without faults")
			}
			if long.Duration <= short.Duration || long.Workload.Events <= short.Workload.Events {
				t.Errorf("long form (%v, %d events) not longer than short (%v, %d)", long.Duration, long.Workload.Events, short.Duration, short.Workload.Events)
			}
			// Every fault fits a topology built to the scenario's needs.
			tg := targetsFor(short.Needs)
			for _, p := range []Plan{short, long} {
				if _, err := p.Steps(tg); err != nil {
					t.Errorf("%s form: %v", p.Form, err)
				}
			}
		})
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrUnknownScenario) || !strings.Contains(err.Error(), "latency-spike") {
		t.Errorf("Lookup(nope) = %v", err)
	}
}

func TestBridgeFreezeOutlastsTimeouts(t *testing.T) {
	s, err := Lookup("bridge-freeze")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []FormName{Short, Long} {
		p, err := s.Plan(f, Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if min := p.Needs.BridgeTxnTimeout + p.Needs.BridgeSessionTimeout; p.Windows[0].For <= min {
			t.Errorf("%s: freeze of %v does not outlast txn + session timeouts (%v)", f, p.Windows[0].For, min)
		}
		if p.Needs.Bridges < 2 {
			t.Errorf("%s: nobody to take over", f)
		}
	}
}

// targetsFor is a fake topology shaped like needs.
func targetsFor(n Needs) *fakeTargets {
	n = n.withDefaults()
	topo := Topology{
		ToxiproxyProxies: map[Side][]string{},
		Proxies:          map[Side][]string{},
		Brokers:          map[Side]string{Source: "source-kafka", Target: "target-kafka"},
		Networks:         map[Zone]string{ZoneSource: "s", ZoneBridge: "b", ZoneTarget: "t"},
		Topic:            "orders",
		Partitions:       n.Partitions,
		Nodes:            map[Side]int{Source: n.SourceNodes, Target: n.TargetNodes},
	}
	for side, nodes := range topo.Nodes {
		for i := range nodes {
			topo.ToxiproxyProxies[side] = append(topo.ToxiproxyProxies[side], fmt.Sprintf("%s-kafka-%d", side, i))
		}
		for i := range n.ProxiesPerSide {
			topo.Proxies[side] = append(topo.Proxies[side], fmt.Sprintf("%s-proxy-%d", side, i))
		}
	}
	for i := range n.Bridges {
		topo.Bridges = append(topo.Bridges, fmt.Sprintf("bridge-%d", i))
	}
	tc := startlessToxics{}
	return &fakeTargets{topo: topo, toxics: tc, containers: &fakeContainers{},
		brokers: map[Side]BrokerAdmin{Source: &fakeBroker{side: Source}, Target: &fakeBroker{side: Target}}}
}
