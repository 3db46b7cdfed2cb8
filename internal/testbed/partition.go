package testbed

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Disconnect cuts c off zone z's network, a network partition as seen from that
// zone: its connections over that network break and its alias stops resolving
// there. Its other networks (the access network, so the test process can still
// reach it) stay.
func (tb *Testbed) Disconnect(ctx context.Context, c *Container, z Zone) error {
	n := tb.Network(z)
	if n == "" || c.C == nil {
		return fmt.Errorf("%w: disconnect %s from zone %s: no such network or container", ErrBadSpec, c.Name, z)
	}
	if _, err := tb.docker.NetworkDisconnect(ctx, n, client.NetworkDisconnectOptions{Container: c.C.GetContainerID(), Force: true}); err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", c.DockerName, n, err)
	}
	tb.log.Info("disconnected", "container", c.DockerName, "network", n)
	return nil
}

// Connect (re)joins c to zone z's network with its aliases, ending a partition.
// Docker may give it a new address there; its alias finds it either way.
func (tb *Testbed) Connect(ctx context.Context, c *Container, z Zone) error {
	n := tb.Network(z)
	if n == "" || c.C == nil {
		return fmt.Errorf("%w: connect %s to zone %s: no such network or container", ErrBadSpec, c.Name, z)
	}
	aliases := append([]string{c.Name}, c.Spec.Aliases...)
	_, err := tb.docker.NetworkConnect(ctx, n, client.NetworkConnectOptions{
		Container:      c.C.GetContainerID(),
		EndpointConfig: &network.EndpointSettings{Aliases: aliases},
	})
	if err != nil {
		return fmt.Errorf("connect %s to %s: %w", c.DockerName, n, err)
	}
	tb.log.Info("connected", "container", c.DockerName, "network", n)
	return nil
}
