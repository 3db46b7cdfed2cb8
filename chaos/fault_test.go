package chaos

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDockerAndBrokerFaults(t *testing.T) {
	tests := []struct {
		name       string
		spec       FaultSpec
		wantName   string
		wantApply  []string
		wantHeal   []string
		wantBroker []string
	}{
		{
			name: "stop broker", spec: ContainerFault{Role: RoleBroker, Side: Source, Index: 0, Action: ActionStop, StopTimeout: 5 * time.Second},
			wantName:  "stop source broker",
			wantApply: []string{"stop source-kafka 5s"}, wantHeal: []string{"start source-kafka"},
		},
		{
			name: "stop default grace", spec: ContainerFault{Role: RoleProxy, Side: Target, Index: 0, Action: ActionStop},
			wantName:  "stop target proxy 0",
			wantApply: []string{"stop target-proxy 10s"}, wantHeal: []string{"start target-proxy"},
		},
		{
			name: "kill -9 bridge", spec: ContainerFault{Role: RoleBridge, Index: 1, Action: ActionKill},
			wantName:  "kill -9 bridge 1",
			wantApply: []string{"kill bridge-1 SIGKILL"}, wantHeal: []string{"start bridge-1"},
		},
		{
			name: "kill all bridges with SIGTERM", spec: ContainerFault{Role: RoleBridge, Index: All, Action: ActionKill, Signal: "SIGTERM"},
			wantName:  "kill -TERM bridge (all)",
			wantApply: []string{"kill bridge-0 SIGTERM", "kill bridge-1 SIGTERM"},
			wantHeal:  []string{"start bridge-1", "start bridge-0"},
		},
		{
			name: "pause bridge", spec: ContainerFault{Role: RoleBridge, Index: 0, Action: ActionPause},
			wantName:  "pause bridge 0",
			wantApply: []string{"pause bridge-0"}, wantHeal: []string{"unpause bridge-0"},
		},
		{
			name: "partition keeps aliases", spec: PartitionSpec{Role: RoleProxy, Side: Target, Index: All, Zone: ZoneBridge},
			wantName:  "partition target proxy (all) from the bridge zone",
			wantApply: []string{"disconnect target-proxy net-bridge"}, wantHeal: []string{"connect target-proxy net-bridge target-proxy"},
		},
		{
			name: "shuffle", spec: BrokerFault{Side: Target, Action: ActionShuffleLeaders},
			wantName: "shuffle leaders on target", wantBroker: []string{"target shuffle"},
		},
		{
			name: "move leader", spec: BrokerFault{Side: Source, Action: ActionMoveLeader, Partition: 2, Node: 1},
			wantName: "move leader of partition 2 to node 1 on source", wantBroker: []string{"source move-leader orders/2 -> 1"},
		},
		{
			name: "move leader on the target: the renamed topic", spec: BrokerFault{Side: Target, Action: ActionMoveLeader, Partition: 1, Node: 2},
			wantName: "move leader of partition 1 to node 2 on target", wantBroker: []string{"target move-leader source.orders/1 -> 2"},
		},
		{
			name: "remove node", spec: BrokerFault{Side: Source, Action: ActionRemoveNode, Node: 2},
			wantName: "remove node 2 on source", wantBroker: []string{"source remove-node 2", "source add-node 2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dc := &fakeContainers{}
			src, tgt := &fakeBroker{side: Source}, &fakeBroker{side: Target}
			tg := &fakeTargets{topo: testTopology(), containers: dc, brokers: map[Side]BrokerAdmin{Source: src, Target: tgt}}
			if got := tc.spec.String(); got != tc.wantName {
				t.Errorf("String() = %q, want %q", got, tc.wantName)
			}
			f, err := tc.spec.Build(tg, "w01")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Apply(ctx); err != nil {
				t.Fatalf("apply: %v", err)
			}
			applied := dc.get()
			if err := f.Heal(ctx); err != nil {
				t.Fatalf("heal: %v", err)
			}
			healed := dc.get()[len(applied):]
			if !equalStrings(applied, tc.wantApply) || !equalStrings(healed, tc.wantHeal) {
				t.Errorf("docker calls: apply %q heal %q; want %q then %q", applied, healed, tc.wantApply, tc.wantHeal)
			}
			broker := append(src.get(), tgt.get()...)
			if !equalStrings(broker, tc.wantBroker) {
				t.Errorf("admin calls %q, want %q", broker, tc.wantBroker)
			}
		})
	}
}

func equalStrings(a, b []string) bool { return len(a) == 0 && len(b) == 0 || reflect.DeepEqual(a, b) }

func TestBuildErrors(t *testing.T) {
	full := func() *fakeTargets {
		return &fakeTargets{topo: testTopology(), containers: &fakeContainers{}, brokers: map[Side]BrokerAdmin{Source: &fakeBroker{}}}
	}
	tests := []struct {
		name string
		spec FaultSpec
		tg   func() *fakeTargets
		want error
	}{
		{"third bridge", ContainerFault{Role: RoleBridge, Index: 2, Action: ActionKill}, full, ErrNoTarget},
		{"unknown action", ContainerFault{Role: RoleBridge, Index: 0, Action: "explode"}, full, ErrBadSpec},
		{"unknown role", ContainerFault{Role: "db", Index: 0, Action: ActionStop}, full, ErrBadSpec},
		{"no docker", ContainerFault{Role: RoleBridge, Index: 0, Action: ActionKill}, func() *fakeTargets {
			tg := full()
			tg.containers = nil
			return tg
		}, ErrUnsupported},
		{"no toxiproxy", ToxicSpec{Side: Source, Node: All, Toxic: Latency(Downstream, time.Second, 0)}, full, ErrUnsupported},
		{"node out of range", ToxicSpec{Side: Source, Node: 3, Toxic: Latency(Downstream, time.Second, 0)}, full, ErrNoTarget},
		{"no zone network", PartitionSpec{Role: RoleProxy, Side: Source, Index: 0, Zone: "dmz"}, full, ErrNoTarget},
		{"no target admin", BrokerFault{Side: Target, Action: ActionShuffleLeaders}, full, ErrUnsupported},
		{"node out of range", BrokerFault{Side: Source, Action: ActionRemoveNode, Node: 3}, full, ErrNoTarget},
		{"partition out of range", BrokerFault{Side: Source, Action: ActionMoveLeader, Partition: 6, Node: 0}, full, ErrNoTarget},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.spec.Build(tc.tg(), "w01")
			if !errors.Is(err, tc.want) {
				t.Errorf("Build = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGroupRollsBackAndHealsAll(t *testing.T) {
	ctx := context.Background()
	dc := &fakeContainers{fail: map[string]error{"pause bridge-1": errors.New("boom")}}
	tg := &fakeTargets{topo: testTopology(), containers: dc}
	f, err := ContainerFault{Role: RoleBridge, Index: All, Action: ActionPause}.Build(tg, "w01")
	if err != nil {
		t.Fatal(err)
	}
	err = f.Apply(ctx)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("apply = %v, want boom", err)
	}
	want := []string{"pause bridge-0", "pause bridge-1", "unpause bridge-0"}
	if got := dc.get(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q (bridge-0 thawed again)", got, want)
	}

	// Heal keeps going past a failure and reports it.
	dc2 := &fakeContainers{fail: map[string]error{"start bridge-1": errors.New("no such container")}}
	tg.containers = dc2
	f, err = ContainerFault{Role: RoleBridge, Index: All, Action: ActionKill}.Build(tg, "w02")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	err = f.Heal(ctx)
	if err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Errorf("heal = %v, want the failure", err)
	}
	if got := dc2.get(); got[len(got)-1] != "start bridge-0" {
		t.Errorf("bridge-0 not started after bridge-1 failed: %q", got)
	}
}
