package chaos

import (
	"fmt"
	"strings"
	"time"
)

// FaultSpec describes a fault by role ("every source node", "bridge 0"), not
// by container name, so scenarios are data that fit any topology. Build
// resolves it against a running environment; id makes names it creates (a
// toxic's) unique within a run.
type FaultSpec interface {
	Build(t Targets, id string) (Fault, error)
	// String describes the fault for people, e.g. "blackhole downstream on
	// source (all nodes)".
	String() string
}

// instant is implemented by specs whose fault happens at once and has nothing
// to heal (a leader move): their windows have no length.
type instant interface{ Instant() bool }

// isInstant reports whether s is an instant fault.
func isInstant(s FaultSpec) bool {
	i, ok := s.(instant)
	return ok && i.Instant()
}

// All in a Node or Index field means every node or container of the kind.
const All = -1

// ToxicSpec puts Toxic on toxiproxy's proxies of Side: node Node, or every
// node with All.
type ToxicSpec struct {
	Side  Side
	Node  int
	Toxic Toxic
}

// Build implements FaultSpec.
func (s ToxicSpec) Build(t Targets, id string) (Fault, error) {
	proxies, err := t.Topology().toxiproxies(s.Side, s.Node)
	if err != nil {
		return nil, err
	}
	tx, err := t.Toxics()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	name := toxicName(id, s.Toxic)
	fs := make([]Fault, 0, len(proxies))
	for _, p := range proxies {
		fs = append(fs, ToxicFault(tx, p, name, s.Toxic))
	}
	return Group(s.String(), fs...), nil
}

// String implements FaultSpec.
func (s ToxicSpec) String() string { return fmt.Sprintf("%s on %s", s.Toxic, nodes(s.Side, s.Node)) }

// toxicName is unique per window and says what the toxic is, for anyone
// listing toxiproxy's state by hand.
func toxicName(id string, t Toxic) string {
	return "chaos-" + sanitize(id) + "-" + t.Type + "-" + string(t.Stream)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func nodes(side Side, node int) string {
	if node < 0 {
		return string(side) + " (all nodes)"
	}
	return fmt.Sprintf("%s node %d", side, node)
}

// ProxyDownSpec disables toxiproxy's proxies of Side (node Node, or All).
type ProxyDownSpec struct {
	Side Side
	Node int
}

// Build implements FaultSpec.
func (s ProxyDownSpec) Build(t Targets, _ string) (Fault, error) {
	proxies, err := t.Topology().toxiproxies(s.Side, s.Node)
	if err != nil {
		return nil, err
	}
	tx, err := t.Toxics()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	fs := make([]Fault, 0, len(proxies))
	for _, p := range proxies {
		fs = append(fs, ProxyDown(tx, p))
	}
	return Group(s.String(), fs...), nil
}

// String implements FaultSpec.
func (s ProxyDownSpec) String() string { return "proxy down on " + nodes(s.Side, s.Node) }

// ContainerAction is what a ContainerFault does to a container.
type ContainerAction string

// Container actions; each heals by starting or thawing the container.
const (
	ActionStop  ContainerAction = "stop"
	ActionKill  ContainerAction = "kill"
	ActionPause ContainerAction = "pause"
)

// ContainerFault stops, kills or pauses containers of Role (on Side, for
// proxies and brokers): number Index, or All.
type ContainerFault struct {
	Role   Role
	Side   Side
	Index  int
	Action ContainerAction
	// StopTimeout is the grace period of ActionStop before SIGKILL
	// (default 10s).
	StopTimeout time.Duration
	// Signal is ActionKill's signal (default SIGKILL).
	Signal string
}

// Build implements FaultSpec.
func (s ContainerFault) Build(t Targets, _ string) (Fault, error) {
	names, err := t.Topology().containers(s.Role, s.Side, s.Index)
	if err != nil {
		return nil, err
	}
	c, err := t.Containers()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	fs := make([]Fault, 0, len(names))
	for _, n := range names {
		switch s.Action {
		case ActionStop:
			timeout := s.StopTimeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			fs = append(fs, StopContainer(c, n, timeout))
		case ActionKill:
			fs = append(fs, KillContainer(c, n, s.Signal))
		case ActionPause:
			fs = append(fs, PauseContainer(c, n))
		default:
			return nil, fmt.Errorf("%w: container action %q", ErrBadSpec, s.Action)
		}
	}
	return Group(s.String(), fs...), nil
}

// String implements FaultSpec.
func (s ContainerFault) String() string {
	verb := string(s.Action)
	if s.Action == ActionKill {
		verb = "kill -9"
		if sig := strings.TrimPrefix(s.Signal, "SIG"); sig != "" && sig != "KILL" {
			verb = "kill -" + sig
		}
	}
	return verb + " " + containerRef(s.Role, s.Side, s.Index)
}

func containerRef(role Role, side Side, index int) string {
	var b strings.Builder
	if role == RoleProxy || role == RoleBroker {
		b.WriteString(string(side) + " ")
	}
	b.WriteString(string(role))
	if index < 0 {
		b.WriteString(" (all)")
	} else if role == RoleBridge || role == RoleProxy {
		fmt.Fprintf(&b, " %d", index)
	}
	return b.String()
}

// PartitionSpec cuts containers of Role (on Side) off Zone's network: number
// Index, or All.
type PartitionSpec struct {
	Role  Role
	Side  Side
	Index int
	Zone  Zone
}

// Build implements FaultSpec.
func (s PartitionSpec) Build(t Targets, _ string) (Fault, error) {
	topo := t.Topology()
	names, err := topo.containers(s.Role, s.Side, s.Index)
	if err != nil {
		return nil, err
	}
	network := topo.Networks[s.Zone]
	if network == "" {
		return nil, fmt.Errorf("%w: no network for zone %q", ErrNoTarget, s.Zone)
	}
	c, err := t.Containers()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	fs := make([]Fault, 0, len(names))
	for _, n := range names {
		fs = append(fs, Partition(c, n, network, topo.Aliases[n]))
	}
	return Group(s.String(), fs...), nil
}

// String implements FaultSpec.
func (s PartitionSpec) String() string {
	return fmt.Sprintf("partition %s from the %s zone", containerRef(s.Role, s.Side, s.Index), s.Zone)
}

// BrokerAction is what a BrokerFault does through the broker's admin API.
type BrokerAction string

// Broker actions.
const (
	// ActionMoveLeader makes Node the leader of the workload topic's
	// Partition; instant.
	ActionMoveLeader BrokerAction = "move-leader"
	// ActionShuffleLeaders gives every partition a random leader; instant.
	ActionShuffleLeaders BrokerAction = "shuffle-leaders"
	// ActionRemoveNode closes Node for the window, then adds it back.
	ActionRemoveNode BrokerAction = "remove-node"
)

// BrokerFault acts on Side's broker through its admin API.
type BrokerFault struct {
	Side      Side
	Action    BrokerAction
	Partition int32
	Node      int32
}

// Instant reports whether the fault has no duration (leader moves).
func (s BrokerFault) Instant() bool { return s.Action != ActionRemoveNode }

// Build implements FaultSpec.
func (s BrokerFault) Build(t Targets, _ string) (Fault, error) {
	topo := t.Topology()
	if s.Action == ActionMoveLeader || s.Action == ActionRemoveNode {
		if n := topo.Nodes[s.Side]; int(s.Node) >= n || s.Node < 0 {
			return nil, fmt.Errorf("%w: node %d on %s (have %d)", ErrNoTarget, s.Node, s.Side, n)
		}
	}
	if s.Action == ActionMoveLeader && (topo.Topic == "" || int(s.Partition) >= topo.Partitions || s.Partition < 0) {
		return nil, fmt.Errorf("%w: partition %d of topic %q (have %d)", ErrNoTarget, s.Partition, topo.Topic, topo.Partitions)
	}
	b, err := t.BrokerAdmin(s.Side)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	topic := topo.Topic
	if s.Side == Target && topo.TargetTopic != "" {
		topic = topo.TargetTopic
	}
	switch s.Action {
	case ActionMoveLeader:
		return MoveLeader(b, s.Side, topic, s.Partition, s.Node), nil
	case ActionShuffleLeaders:
		return ShuffleLeaders(b, s.Side), nil
	case ActionRemoveNode:
		return RemoveNode(b, s.Side, s.Node), nil
	default:
		return nil, fmt.Errorf("%w: broker action %q", ErrBadSpec, s.Action)
	}
}

// String implements FaultSpec.
func (s BrokerFault) String() string {
	switch s.Action {
	case ActionMoveLeader:
		return fmt.Sprintf("move leader of partition %d to node %d on %s", s.Partition, s.Node, s.Side)
	case ActionShuffleLeaders:
		return "shuffle leaders on " + string(s.Side)
	case ActionRemoveNode:
		return fmt.Sprintf("remove node %d on %s", s.Node, s.Side)
	default:
		return fmt.Sprintf("broker %s on %s", s.Action, s.Side)
	}
}
