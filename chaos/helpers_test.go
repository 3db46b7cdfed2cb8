package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// fakeTargets is a Targets over fakes.
type fakeTargets struct {
	topo       Topology
	toxics     Toxics
	containers Containers
	brokers    map[Side]BrokerAdmin
}

func (f *fakeTargets) Topology() Topology { return f.topo }

func (f *fakeTargets) Toxics() (Toxics, error) {
	if f.toxics == nil {
		return nil, fmt.Errorf("%w: no toxiproxy", ErrUnsupported)
	}
	return f.toxics, nil
}

func (f *fakeTargets) Containers() (Containers, error) {
	if f.containers == nil {
		return nil, fmt.Errorf("%w: no docker", ErrUnsupported)
	}
	return f.containers, nil
}

func (f *fakeTargets) BrokerAdmin(side Side) (BrokerAdmin, error) {
	b, ok := f.brokers[side]
	if !ok {
		return nil, fmt.Errorf("%w: no admin API on %s", ErrUnsupported, side)
	}
	return b, nil
}

// testTopology is a topology with every role filled, 3 nodes per side and
// two bridges.
func testTopology() Topology {
	return Topology{
		ToxiproxyProxies: map[Side][]string{
			Source: {"source-kafka-0", "source-kafka-1", "source-kafka-2"},
			Target: {"target-kafka-0", "target-kafka-1", "target-kafka-2"},
		},
		Bridges:   []string{"bridge-0", "bridge-1"},
		Proxies:   map[Side][]string{Source: {"source-proxy"}, Target: {"target-proxy"}},
		Brokers:   map[Side]string{Source: "source-kafka", Target: "target-kafka"},
		Toxiproxy: "toxiproxy",
		Networks:  map[Zone]string{ZoneSource: "net-source", ZoneBridge: "net-bridge", ZoneTarget: "net-target"},
		Aliases: map[string][]string{
			"target-proxy": {"target-proxy"},
			"source-proxy": {"source-proxy"},
		},
		Topic:          "orders",
		TargetTopic:    "source.orders",
		Partitions:     6,
		Nodes:          map[Side]int{Source: 3, Target: 3},
		ProxyAddresses: []string{"source-toxi:19092", "source-toxi:19093", "source-toxi:19094", "target-toxi:29092"},
	}
}

// callLog records calls from several goroutines.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
}

func (l *callLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// fakeContainers records docker calls; fail makes the calls whose text
// starts with a key fail.
type fakeContainers struct {
	callLog
	fail map[string]error
}

func (f *fakeContainers) do(format string, args ...any) error {
	call := fmt.Sprintf(format, args...)
	f.add("%s", call)
	for prefix, err := range f.fail {
		if strings.HasPrefix(call, prefix) {
			return err
		}
	}
	return nil
}

func (f *fakeContainers) Stop(_ context.Context, name string, timeout time.Duration) error {
	return f.do("stop %s %v", name, timeout)
}
func (f *fakeContainers) Start(_ context.Context, name string) error { return f.do("start %s", name) }
func (f *fakeContainers) Kill(_ context.Context, name, signal string) error {
	return f.do("kill %s %s", name, signal)
}
func (f *fakeContainers) Pause(_ context.Context, name string) error { return f.do("pause %s", name) }
func (f *fakeContainers) Unpause(_ context.Context, name string) error {
	return f.do("unpause %s", name)
}
func (f *fakeContainers) Disconnect(_ context.Context, name, network string) error {
	return f.do("disconnect %s %s", name, network)
}
func (f *fakeContainers) Connect(_ context.Context, name, network string, aliases []string) error {
	return f.do("connect %s %s %s", name, network, strings.Join(aliases, ","))
}

// fakeBroker records admin calls.
type fakeBroker struct {
	callLog
	side Side
}

func (f *fakeBroker) MoveLeader(_ context.Context, topic string, partition, node int32) error {
	f.add("%s move-leader %s/%d -> %d", f.side, topic, partition, node)
	return nil
}
func (f *fakeBroker) ShuffleLeaders(context.Context) error {
	f.add("%s shuffle", f.side)
	return nil
}
func (f *fakeBroker) RemoveNode(_ context.Context, node int32) error {
	f.add("%s remove-node %d", f.side, node)
	return nil
}
func (f *fakeBroker) AddNode(_ context.Context, node int32) error {
	f.add("%s add-node %d", f.side, node)
	return nil
}

// startlessToxics satisfies Toxics for tests that only build faults.
type startlessToxics struct{}

func (startlessToxics) Proxy(name string) (*toxiproxy.Proxy, error) {
	return nil, fmt.Errorf("no toxiproxy in this test (proxy %s)", name)
}
