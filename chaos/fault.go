package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// Fault is one fault that can be applied and healed. Apply either takes
// effect completely or returns an error having undone what it did, so a
// Runner heals exactly the faults whose Apply succeeded. Heal returns the
// system to its state before Apply; healing what is already healed (a toxic
// someone removed, a container already running) is not an error, because a
// cleanup after a cancel must not fail over a race.
type Fault interface {
	// Name says what the fault does and to what, for timelines and logs.
	Name() string
	Apply(ctx context.Context) error
	Heal(ctx context.Context) error
}

// funcFault is a Fault from two functions.
type funcFault struct {
	name        string
	apply, heal func(ctx context.Context) error
}

func (f *funcFault) Name() string { return f.name }

func (f *funcFault) Apply(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.apply(ctx)
}

func (f *funcFault) Heal(ctx context.Context) error {
	if f.heal == nil {
		return nil
	}
	return f.heal(ctx)
}

// ToxicFault adds toxic to toxiproxy's proxy under toxicName, with toxicity 1
// (the Go client sends toxicity as written, and 0 never fires); Heal removes
// it. The toxiproxy client takes no context: ctx is checked before each call,
// and the client's own 30s timeout bounds it.
func ToxicFault(tx Toxics, proxy, toxicName string, toxic Toxic) Fault {
	return &funcFault{
		name: fmt.Sprintf("%s @ %s", toxic, proxy),
		apply: func(context.Context) error {
			p, err := tx.Proxy(proxy)
			if err != nil {
				return fmt.Errorf("toxiproxy proxy %s: %w", proxy, err)
			}
			if _, err := p.AddToxic(toxicName, toxic.Type, string(toxic.Stream), 1, toxic.Attributes); err != nil {
				return fmt.Errorf("add toxic %s to %s: %w", toxicName, proxy, err)
			}
			return nil
		},
		heal: func(ctx context.Context) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			p, err := tx.Proxy(proxy)
			if notFound(err) {
				return nil // no proxy, no toxic
			}
			if err != nil {
				return fmt.Errorf("toxiproxy proxy %s: %w", proxy, err)
			}
			if err := p.RemoveToxic(toxicName); err != nil && !notFound(err) {
				return fmt.Errorf("remove toxic %s from %s: %w", toxicName, proxy, err)
			}
			return nil
		},
	}
}

// ProxyDown disables toxiproxy's proxy: it stops listening and closes every
// connection through it (a refused connection, unlike a blackhole's hang).
// Heal enables it again.
func ProxyDown(tx Toxics, proxy string) Fault {
	set := func(ctx context.Context, enabled bool) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := tx.Proxy(proxy)
		if err != nil {
			return fmt.Errorf("toxiproxy proxy %s: %w", proxy, err)
		}
		if enabled {
			err = p.Enable()
		} else {
			err = p.Disable()
		}
		if err != nil {
			return fmt.Errorf("toxiproxy proxy %s: set enabled=%v: %w", proxy, enabled, err)
		}
		return nil
	}
	return &funcFault{
		name:  "proxy down @ " + proxy,
		apply: func(ctx context.Context) error { return set(ctx, false) },
		heal:  func(ctx context.Context) error { return set(ctx, true) },
	}
}

// notFound reports whether err is toxiproxy's 404.
func notFound(err error) bool {
	var ae *toxiproxy.ApiError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// StopContainer stops the container gracefully (SIGTERM, then SIGKILL after
// timeout); Heal starts it again. A stop with a drain is how a rolling restart
// looks to clients.
func StopContainer(c Containers, name string, timeout time.Duration) Fault {
	return &funcFault{
		name:  fmt.Sprintf("stop %s (grace %v)", name, timeout),
		apply: func(ctx context.Context) error { return c.Stop(ctx, name, timeout) },
		heal:  func(ctx context.Context) error { return c.Start(ctx, name) },
	}
}

// KillContainer sends signal (default SIGKILL: a crash with no goodbye) to the
// container; Heal starts it again.
func KillContainer(c Containers, name, signal string) Fault {
	if signal == "" {
		signal = "SIGKILL"
	}
	return &funcFault{
		name:  fmt.Sprintf("kill -%s %s", signal, name),
		apply: func(ctx context.Context) error { return c.Kill(ctx, name, signal) },
		heal:  func(ctx context.Context) error { return c.Start(ctx, name) },
	}
}

// PauseContainer freezes the container (a GC pause or a stalled VM, at any
// length); Heal thaws it, and whatever it held (a transaction, a group
// membership) must by then have been taken over and fenced.
func PauseContainer(c Containers, name string) Fault {
	return &funcFault{
		name:  "pause " + name,
		apply: func(ctx context.Context) error { return c.Pause(ctx, name) },
		heal:  func(ctx context.Context) error { return c.Unpause(ctx, name) },
	}
}

// Partition disconnects the container from network; Heal reconnects it with
// aliases.
func Partition(c Containers, name, network string, aliases []string) Fault {
	return &funcFault{
		name:  fmt.Sprintf("partition %s from %s", name, network),
		apply: func(ctx context.Context) error { return c.Disconnect(ctx, name, network) },
		heal:  func(ctx context.Context) error { return c.Connect(ctx, name, network, aliases) },
	}
}

// MoveLeader makes node the leader of topic/partition. It is instant: Heal
// does nothing, since the cluster is healthy under any leader.
func MoveLeader(b BrokerAdmin, side Side, topic string, partition, node int32) Fault {
	return &funcFault{
		name:  fmt.Sprintf("move leader of %s/%d to node %d on %s", topic, partition, node, side),
		apply: func(ctx context.Context) error { return b.MoveLeader(ctx, topic, partition, node) },
	}
}

// ShuffleLeaders gives every partition of side a random leader; instant.
func ShuffleLeaders(b BrokerAdmin, side Side) Fault {
	return &funcFault{
		name:  "shuffle leaders on " + string(side),
		apply: func(ctx context.Context) error { return b.ShuffleLeaders(ctx) },
	}
}

// RemoveNode closes broker node of side; Heal adds it back.
func RemoveNode(b BrokerAdmin, side Side, node int32) Fault {
	return &funcFault{
		name:  fmt.Sprintf("remove node %d on %s", node, side),
		apply: func(ctx context.Context) error { return b.RemoveNode(ctx, node) },
		heal:  func(ctx context.Context) error { return b.AddNode(ctx, node) },
	}
}

// Group applies several faults as one (a toxic on every node of a side). If
// one fails to apply, those already applied are healed again and the error
// says what failed; Heal heals every member in reverse order and reports all
// failures.
func Group(name string, faults ...Fault) Fault {
	if len(faults) == 1 && name == "" {
		return faults[0]
	}
	return &group{name: name, faults: faults}
}

type group struct {
	name   string
	faults []Fault
}

func (g *group) Name() string { return g.name }

func (g *group) Apply(ctx context.Context) error {
	for i, f := range g.faults {
		if err := f.Apply(ctx); err != nil {
			errs := []error{fmt.Errorf("%s: %w", f.Name(), err)}
			// Roll back even when ctx is what failed: the members applied so
			// far must not outlive a failed Apply.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultHealTimeout)
			for j := i - 1; j >= 0; j-- {
				if herr := g.faults[j].Heal(rctx); herr != nil {
					errs = append(errs, fmt.Errorf("roll back %s: %w", g.faults[j].Name(), herr))
				}
			}
			cancel()
			return errors.Join(errs...)
		}
	}
	return nil
}

func (g *group) Heal(ctx context.Context) error {
	var errs []error
	for i := len(g.faults) - 1; i >= 0; i-- {
		if err := g.faults[i].Heal(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", g.faults[i].Name(), err))
		}
	}
	return errors.Join(errs...)
}
