package chaos

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Sizes of the forms. Short runs keep `make test` bearable (every scenario
// runs in it); long runs give the faults time to compound.
const (
	shortDuration = 20 * time.Second
	shortEvents   = 2000
	shortRecovery = 30 * time.Second
	longDuration  = 5 * time.Minute
	longEvents    = 60000
	longRecovery  = 60 * time.Second
)

// fw is a window as fractions of the fault phase, so one schedule serves both
// forms.
type fw struct {
	from, to float64
	spec     FaultSpec
}

// at is an instant fault at a fraction of the phase.
func at(t float64, spec FaultSpec) fw { return fw{t, t, spec} }

// forms returns the short and long forms of a schedule.
func forms(short, long time.Duration, ws ...fw) (Form, Form) {
	mk := func(d time.Duration, events int64, rec time.Duration) Form {
		f := Form{Duration: d, Events: events, Recovery: rec}
		for _, w := range ws {
			from := time.Duration(w.from * float64(d)).Round(100 * time.Millisecond)
			to := time.Duration(w.to * float64(d)).Round(100 * time.Millisecond)
			f.Windows = append(f.Windows, Window{At: from, For: to - from, Fault: w.spec})
		}
		return f
	}
	return mk(short, shortEvents*int64(short/shortDuration), shortRecovery),
		mk(long, longEvents*int64(long/longDuration), longRecovery)
}

// Catalogue returns the built-in scenarios, in a stable order. Each call
// returns fresh values: callers may change what they get.
func Catalogue() []Scenario {
	var out []Scenario
	add := func(s Scenario, short, long time.Duration, ws ...fw) {
		s.Short, s.Long = forms(short, long, ws...)
		out = append(out, s)
	}
	std := func(ws ...fw) []fw { return ws }

	add(Scenario{
		Name:        "latency-spike",
		Description: "400ms±100ms latency on the source's responses, then on requests to the target: the bridge slows down, loses nothing, duplicates nothing",
	}, shortDuration, longDuration, std(
		fw{0.15, 0.45, ToxicSpec{Side: Source, Node: All, Toxic: Latency(Downstream, 400*time.Millisecond, 100*time.Millisecond)}},
		fw{0.50, 0.80, ToxicSpec{Side: Target, Node: All, Toxic: Latency(Upstream, 400*time.Millisecond, 100*time.Millisecond)}},
	)...)

	add(Scenario{
		Name:        "bandwidth-squeeze",
		Description: "8 KB/s links to the source, then to the target, then the source's responses cut into 64-byte slices: fetches and produces crawl and split mid-frame",
	}, shortDuration, longDuration, std(
		fw{0.15, 0.45, ToxicSpec{Side: Source, Node: All, Toxic: Bandwidth(Downstream, 8)}},
		fw{0.50, 0.70, ToxicSpec{Side: Target, Node: All, Toxic: Bandwidth(Upstream, 8)}},
		fw{0.72, 0.85, ToxicSpec{Side: Source, Node: All, Toxic: Slicer(Downstream, 64, 32, 500*time.Microsecond)}},
	)...)

	add(Scenario{
		Name:        "source-blackhole",
		Description: "the source goes silent both ways with connections left half-open (timeout 0), later its toxiproxy listeners go down (connections refused): two different outages",
	}, shortDuration, longDuration, std(
		fw{0.25, 0.55, ToxicSpec{Side: Source, Node: All, Toxic: Timeout(Downstream, 0)}},
		fw{0.25, 0.55, ToxicSpec{Side: Source, Node: All, Toxic: Timeout(Upstream, 0)}},
		fw{0.65, 0.80, ProxyDownSpec{Side: Source, Node: All}},
	)...)

	add(Scenario{
		Name:        "reset-storm",
		Description: "connections reset at the first byte on each side in turn, then cut after 64 KiB, then closed slowly: every in-flight request dies mid-way",
	}, shortDuration, longDuration, std(
		fw{0.10, 0.20, ToxicSpec{Side: Source, Node: All, Toxic: ResetPeer(Downstream, 0)}},
		fw{0.30, 0.40, ToxicSpec{Side: Target, Node: All, Toxic: ResetPeer(Downstream, 0)}},
		fw{0.50, 0.60, ToxicSpec{Side: Target, Node: All, Toxic: ResetPeer(Upstream, 0)}},
		fw{0.65, 0.75, ToxicSpec{Side: Source, Node: All, Toxic: LimitData(Downstream, 64<<10)}},
		fw{0.78, 0.88, ToxicSpec{Side: Target, Node: All, Toxic: SlowClose(Downstream, 2*time.Second)}},
	)...)

	add(Scenario{
		Name:        "target-partition",
		Description: "the target proxy is cut off the bridge zone (the bridge cannot reach the target), later off the target zone (the proxy cannot reach the brokers)",
	}, shortDuration, longDuration, std(
		fw{0.30, 0.60, PartitionSpec{Role: RoleProxy, Side: Target, Index: All, Zone: ZoneBridge}},
		fw{0.70, 0.85, PartitionSpec{Role: RoleProxy, Side: Target, Index: All, Zone: ZoneTarget}},
	)...)

	for _, side := range []Side{Source, Target} {
		add(Scenario{
			Name:        string(side) + "-broker-restart",
			Description: fmt.Sprintf("the %s broker stops gracefully and starts again, later it is killed -9 (persistent, synced writes): acknowledged records survive both", side),
			Needs:       Needs{Persistent: true},
		}, shortDuration, longDuration, std(
			fw{0.30, 0.50, ContainerFault{Role: RoleBroker, Side: side, Index: 0, Action: ActionStop, StopTimeout: 5 * time.Second}},
			fw{0.65, 0.75, ContainerFault{Role: RoleBroker, Side: side, Index: 0, Action: ActionKill}},
		)...)
	}

	var crashes []fw
	for t := 0.10; t < 0.80; t += 0.12 {
		crashes = append(crashes, fw{t, t + 0.04, ContainerFault{Role: RoleBridge, Index: 0, Action: ActionKill}})
	}
	add(Scenario{
		Name:        "bridge-crash-loop",
		Description: "the bridge is killed -9 six times and restarted each time: every restart resumes from the offsets committed on the target, never twice, never skipping",
	}, shortDuration, longDuration, crashes...)

	add(Scenario{
		Name: "bridge-freeze",
		Description: "one of two bridge instances is frozen (docker pause) past its transaction and session timeouts; the other takes its tasks over; " +
			"when the frozen one wakes up it must be fenced, not write",
		Needs:      Needs{Bridges: 2, BridgeTxnTimeout: 10 * time.Second, BridgeSessionTimeout: 6 * time.Second},
		Invariants: append(DefaultInvariants(), ZombieFenced),
	}, 40*time.Second, longDuration, std(
		// Short: frozen 24s (> 10s + 6s); long: 60s.
		fw{0.20, 0.80, ContainerFault{Role: RoleBridge, Index: 0, Action: ActionPause}},
	)...)
	// The long form keeps the freeze at one minute rather than stretching it.
	fixFreeze(&out[len(out)-1].Long, 60*time.Second)

	add(Scenario{
		Name:        "proxy-rolling-restart",
		Description: "the proxies restart one by one under load (SIGTERM with a drain, then start): clients reconnect through the one that came back",
	}, shortDuration, longDuration, std(
		fw{0.15, 0.25, ContainerFault{Role: RoleProxy, Side: Source, Index: All, Action: ActionStop, StopTimeout: 5 * time.Second}},
		fw{0.35, 0.45, ContainerFault{Role: RoleProxy, Side: Target, Index: All, Action: ActionStop, StopTimeout: 5 * time.Second}},
		fw{0.55, 0.65, ContainerFault{Role: RoleProxy, Side: Source, Index: All, Action: ActionStop, StopTimeout: 5 * time.Second}},
		fw{0.75, 0.85, ContainerFault{Role: RoleProxy, Side: Target, Index: All, Action: ActionStop, StopTimeout: 5 * time.Second}},
	)...)

	add(Scenario{
		Name:        "leader-shuffle",
		Description: "partition leaders move around both 3-node clusters, then a source node is removed and added back: the bridge follows leaders through the proxies",
		Needs:       Needs{SourceNodes: 3, TargetNodes: 3},
	}, shortDuration, longDuration, std(
		at(0.10, BrokerFault{Side: Source, Action: ActionShuffleLeaders}),
		at(0.20, BrokerFault{Side: Target, Action: ActionShuffleLeaders}),
		at(0.30, BrokerFault{Side: Source, Action: ActionShuffleLeaders}),
		at(0.40, BrokerFault{Side: Target, Action: ActionShuffleLeaders}),
		at(0.50, BrokerFault{Side: Source, Action: ActionShuffleLeaders}),
		at(0.60, BrokerFault{Side: Source, Action: ActionMoveLeader, Partition: 0, Node: 1}),
		at(0.65, BrokerFault{Side: Target, Action: ActionMoveLeader, Partition: 1, Node: 2}),
		fw{0.70, 0.85, BrokerFault{Side: Source, Action: ActionRemoveNode, Node: 2}},
	)...)

	nem := Scenario{
		Name:        "nemesis",
		Description: "a random mix of every fault above, one at a time, drawn from --seed: the same seed gives the same schedule",
		// Short group session and transaction timeouts, as in bridge-freeze:
		// a killed instance's tasks move within the recovery bound.
		Needs: Needs{SourceNodes: 3, TargetNodes: 3, Bridges: 2, Persistent: true,
			BridgeTxnTimeout: 10 * time.Second, BridgeSessionTimeout: 6 * time.Second},
		Nemesis: &NemesisSpec{
			Menu:   nemesisMenu(),
			MinFor: 2 * time.Second, MaxFor: 8 * time.Second,
			MinGap: time.Second, MaxGap: 4 * time.Second,
		},
	}
	nem.Short = Form{Duration: 30 * time.Second, Events: 3000, Recovery: shortRecovery}
	nem.Long = Form{Duration: 10 * time.Minute, Events: 120000, Recovery: longRecovery}
	out = append(out, nem)
	return out
}

// fixFreeze sets the single window of f to last d from where it starts.
func fixFreeze(f *Form, d time.Duration) {
	if len(f.Windows) == 1 {
		f.Windows[0].For = d
	}
}

// nemesisMenu is every kind of fault, sized so each heals within a nemesis
// window.
func nemesisMenu() []FaultSpec {
	return []FaultSpec{
		ToxicSpec{Side: Source, Node: All, Toxic: Latency(Downstream, 300*time.Millisecond, 100*time.Millisecond)},
		ToxicSpec{Side: Target, Node: All, Toxic: Latency(Upstream, 300*time.Millisecond, 100*time.Millisecond)},
		ToxicSpec{Side: Source, Node: All, Toxic: Bandwidth(Downstream, 16)},
		ToxicSpec{Side: Target, Node: All, Toxic: Timeout(Downstream, 0)},
		ToxicSpec{Side: Source, Node: All, Toxic: ResetPeer(Downstream, 0)},
		ToxicSpec{Side: Target, Node: All, Toxic: Slicer(Downstream, 64, 32, 500*time.Microsecond)},
		ToxicSpec{Side: Source, Node: All, Toxic: LimitData(Downstream, 64<<10)},
		ToxicSpec{Side: Target, Node: All, Toxic: SlowClose(Downstream, time.Second)},
		ProxyDownSpec{Side: Target, Node: All},
		PartitionSpec{Role: RoleProxy, Side: Target, Index: All, Zone: ZoneBridge},
		PartitionSpec{Role: RoleProxy, Side: Source, Index: All, Zone: ZoneSource},
		ContainerFault{Role: RoleBroker, Side: Source, Index: 0, Action: ActionKill},
		ContainerFault{Role: RoleBroker, Side: Target, Index: 0, Action: ActionStop, StopTimeout: 5 * time.Second},
		ContainerFault{Role: RoleBridge, Index: 0, Action: ActionKill},
		ContainerFault{Role: RoleBridge, Index: 1, Action: ActionPause},
		ContainerFault{Role: RoleProxy, Side: Source, Index: All, Action: ActionStop, StopTimeout: 5 * time.Second},
		BrokerFault{Side: Source, Action: ActionShuffleLeaders},
		BrokerFault{Side: Target, Action: ActionShuffleLeaders},
		BrokerFault{Side: Source, Action: ActionRemoveNode, Node: 1},
	}
}

// Lookup returns the built-in scenario called name.
func Lookup(name string) (Scenario, error) {
	cat := Catalogue()
	for _, s := range cat {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(cat))
	for i, s := range cat {
		names[i] = s.Name
	}
	slices.Sort(names)
	return Scenario{}, fmt.Errorf("%w %q (have %s)", ErrUnknownScenario, name, strings.Join(names, ", "))
}
