package dockerenv

import (
	"context"
	"fmt"
	"time"

	"github.com/airlock-kafka/airlock/chaos"
	"github.com/airlock-kafka/airlock/internal/testbed"
)

// containers implements chaos.Containers over the testbed's containers, by
// the names in the environment's Topology.
type containers struct{ e *Env }

var _ chaos.Containers = containers{}

func (c containers) get(name string) (*testbed.Container, error) {
	ctr := c.e.tb.Container(name)
	if ctr == nil {
		return nil, fmt.Errorf("%w: no container %q", chaos.ErrNoTarget, name)
	}
	return ctr, nil
}

// Stop implements chaos.Containers.
func (c containers) Stop(ctx context.Context, name string, timeout time.Duration) error {
	ctr, err := c.get(name)
	if err != nil {
		return err
	}
	return ctr.Stop(ctx, timeout)
}

// Start implements chaos.Containers. A broker's published ports change with a
// start; its admin API is looked up again so later broker faults reach it.
func (c containers) Start(ctx context.Context, name string) error {
	ctr, err := c.get(name)
	if err != nil {
		return err
	}
	if err := ctr.Start(ctx); err != nil {
		return err
	}
	if b := c.e.tb.Broker(name); b != nil {
		if err := b.RefreshPorts(ctx); err != nil {
			return fmt.Errorf("broker %s started, but its ports: %w", name, err)
		}
	}
	return nil
}

// Kill implements chaos.Containers.
func (c containers) Kill(ctx context.Context, name, signal string) error {
	ctr, err := c.get(name)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	return ctr.Signal(ctx, signal)
}

// Pause implements chaos.Containers.
func (c containers) Pause(ctx context.Context, name string) error {
	ctr, err := c.get(name)
	if err != nil {
		return err
	}
	return ctr.Pause(ctx)
}

// Unpause implements chaos.Containers.
func (c containers) Unpause(ctx context.Context, name string) error {
	ctr, err := c.get(name)
	if err != nil {
		return err
	}
	return ctr.Unpause(ctx)
}

func (c containers) zone(network string) (testbed.Zone, error) {
	z, ok := c.e.zones[network]
	if !ok {
		return "", fmt.Errorf("%w: network %q is not one of the testbed's zones", chaos.ErrNoTarget, network)
	}
	return z, nil
}

// attachment resolves a container and one of its networks.
func (c containers) attachment(name, network string) (*testbed.Container, testbed.Zone, error) {
	ctr, err := c.get(name)
	if err != nil {
		return nil, "", err
	}
	z, err := c.zone(network)
	if err != nil {
		return nil, "", err
	}
	return ctr, z, nil
}

// Disconnect implements chaos.Containers.
func (c containers) Disconnect(ctx context.Context, name, network string) error {
	ctr, z, err := c.attachment(name, network)
	if err != nil {
		return err
	}
	return c.e.tb.Disconnect(ctx, ctr, z)
}

// Connect implements chaos.Containers. The testbed gives the container back
// the aliases it was created with, which are the ones in Topology.Aliases.
func (c containers) Connect(ctx context.Context, name, network string, _ []string) error {
	ctr, z, err := c.attachment(name, network)
	if err != nil {
		return err
	}
	return c.e.tb.Connect(ctx, ctr, z)
}

// brokerAdmin implements chaos.BrokerAdmin over the test broker's admin API.
type brokerAdmin struct{ b *testbed.Broker }

var _ chaos.BrokerAdmin = brokerAdmin{}

// MoveLeader implements chaos.BrokerAdmin.
func (a brokerAdmin) MoveLeader(ctx context.Context, topic string, partition, node int32) error {
	return a.b.MoveLeader(ctx, topic, partition, node)
}

// ShuffleLeaders implements chaos.BrokerAdmin.
func (a brokerAdmin) ShuffleLeaders(ctx context.Context) error { return a.b.ShuffleLeaders(ctx) }

// RemoveNode implements chaos.BrokerAdmin.
func (a brokerAdmin) RemoveNode(ctx context.Context, node int32) error {
	return a.b.RemoveNode(ctx, node)
}

// AddNode implements chaos.BrokerAdmin.
func (a brokerAdmin) AddNode(ctx context.Context, node int32) error { return a.b.AddNode(ctx, node) }
