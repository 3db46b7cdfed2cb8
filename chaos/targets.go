package chaos

import (
	"context"
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// Side is one of the two clusters the bridge connects.
type Side string

// The two sides.
const (
	Source Side = "source"
	Target Side = "target"
)

// Zone is one network of the topology (see internal/testbed): the bridge
// zone is the only one that talks to both others.
type Zone string

// The zones.
const (
	ZoneSource Zone = "source"
	ZoneBridge Zone = "bridge"
	ZoneTarget Zone = "target"
)

// Role is what a container does in the topology; fault specs name containers
// by role, side and index.
type Role string

// The roles a docker fault can hit.
const (
	RoleBridge    Role = "bridge"
	RoleProxy     Role = "proxy"
	RoleBroker    Role = "broker"
	RoleToxiproxy Role = "toxiproxy"
)

// Topology names everything a scenario can hit in a running environment. The
// testbed fills it in; fault specs resolve against it.
type Topology struct {
	// ToxiproxyProxies are toxiproxy's proxy names per side, node 0 first
	// (testbed.Side.ToxiproxyNames).
	ToxiproxyProxies map[Side][]string
	// Bridges are the bridge containers, instance 0 first.
	Bridges []string
	// Proxies are the airlock-proxy containers per side, replica 0 first.
	Proxies map[Side][]string
	// Brokers are the broker containers per side (one each: a test broker
	// runs all its nodes in one process).
	Brokers map[Side]string
	// Toxiproxy is the toxiproxy container.
	Toxiproxy string
	// Networks are the docker networks per zone, for partitions.
	Networks map[Zone]string
	// Aliases are each container's network aliases, given again on
	// reconnect: docker forgets them on disconnect.
	Aliases map[string][]string
	// Topic is the workload's source topic; broker faults that move a
	// partition's leader act on it.
	Topic string
	// TargetTopic is the name the bridge gives Topic on the target (broker
	// faults on the target side act on it); empty means Topic.
	TargetTopic string
	// Partitions is the number of partitions of Topic.
	Partitions int
	// Nodes is the number of broker nodes per side.
	Nodes map[Side]int
	// Metrics are the /metrics endpoints the sampler polls.
	Metrics []Endpoint
	// ProxyAddresses are the host:port addresses the proxies advertise to the
	// bridge zone: the only addresses the bridge may ever dial.
	ProxyAddresses []string
}

// containers returns the containers of role on side: index -1 means all of
// them. Side is ignored for bridges and toxiproxy, which belong to no side.
func (t Topology) containers(role Role, side Side, index int) ([]string, error) {
	var all []string
	switch role {
	case RoleBridge:
		all = t.Bridges
	case RoleProxy:
		all = t.Proxies[side]
	case RoleBroker:
		if b := t.Brokers[side]; b != "" {
			all = []string{b}
		}
	case RoleToxiproxy:
		if t.Toxiproxy != "" {
			all = []string{t.Toxiproxy}
		}
	default:
		return nil, fmt.Errorf("%w: role %q", ErrBadSpec, role)
	}
	if index < 0 {
		if len(all) == 0 {
			return nil, fmt.Errorf("%w: no %s container%s", ErrNoTarget, role, sideSuffix(role, side))
		}
		return all, nil
	}
	if index >= len(all) {
		return nil, fmt.Errorf("%w: %s %d%s (have %d)", ErrNoTarget, role, index, sideSuffix(role, side), len(all))
	}
	return all[index : index+1], nil
}

// toxiproxies returns toxiproxy's proxies of side: node -1 means all.
func (t Topology) toxiproxies(side Side, node int) ([]string, error) {
	all := t.ToxiproxyProxies[side]
	if node < 0 {
		if len(all) == 0 {
			return nil, fmt.Errorf("%w: no toxiproxy proxies for the %s side", ErrNoTarget, side)
		}
		return all, nil
	}
	if node >= len(all) {
		return nil, fmt.Errorf("%w: toxiproxy proxy of %s node %d (have %d)", ErrNoTarget, side, node, len(all))
	}
	return all[node : node+1], nil
}

func sideSuffix(role Role, side Side) string {
	if role == RoleProxy || role == RoleBroker {
		return " on the " + string(side) + " side"
	}
	return ""
}

// Toxics is the part of toxiproxy's API the toxic and proxy-down faults use.
// *toxiproxy.Client (github.com/Shopify/toxiproxy/v2/client) satisfies it.
// Everything goes through the returned *toxiproxy.Proxy, whose errors keep
// their *toxiproxy.ApiError (the client's own AddToxic and RemoveToxic flatten
// it into text), so a heal can tell "already gone" from a real failure.
type Toxics interface {
	Proxy(name string) (*toxiproxy.Proxy, error)
}

var _ Toxics = (*toxiproxy.Client)(nil)

// Containers is the docker control the container faults need, by container
// name (the names in Topology). The testbed implements it over the Docker API.
// None of the methods needs to wait for readiness: the workload rides through
// whatever state the container is in, which is the point.
type Containers interface {
	// Stop stops the container: SIGTERM, then SIGKILL after timeout.
	Stop(ctx context.Context, name string, timeout time.Duration) error
	// Start starts a stopped (or killed) container again.
	Start(ctx context.Context, name string) error
	// Kill sends signal ("SIGKILL", "SIGTERM", ...) to the container's process.
	Kill(ctx context.Context, name, signal string) error
	// Pause freezes every process of the container (cgroup freezer): it keeps
	// its connections and its memory but answers nothing.
	Pause(ctx context.Context, name string) error
	// Unpause thaws a paused container.
	Unpause(ctx context.Context, name string) error
	// Disconnect removes the container from network; its connections over it
	// break and its aliases stop resolving there.
	Disconnect(ctx context.Context, name, network string) error
	// Connect attaches the container to network again with aliases (docker
	// does not remember them across a disconnect).
	Connect(ctx context.Context, name, network string, aliases []string) error
}

// BrokerAdmin is the test broker's admin API (internal/testbroker's Handler,
// wrapped by testbed.Broker) as the broker faults use it.
type BrokerAdmin interface {
	// MoveLeader makes node the leader of topic/partition.
	MoveLeader(ctx context.Context, topic string, partition, node int32) error
	// ShuffleLeaders gives every partition a random leader.
	ShuffleLeaders(ctx context.Context) error
	// RemoveNode closes a node: its listener and connections.
	RemoveNode(ctx context.Context, node int32) error
	// AddNode brings a removed node back under the same id, listening where it
	// listened before (the proxy's node-to-port mapping is fixed).
	AddNode(ctx context.Context, node int32) error
}

// Targets is what fault specs are built against: names, and the means to act
// on them. An environment that lacks a means returns ErrUnsupported from its
// accessor, and only specs that need it fail.
type Targets interface {
	Topology() Topology
	Toxics() (Toxics, error)
	Containers() (Containers, error)
	BrokerAdmin(side Side) (BrokerAdmin, error)
}
