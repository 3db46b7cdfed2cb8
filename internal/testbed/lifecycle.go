package testbed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Container lifecycle through the Docker API rather than testcontainers' Start
// and Stop: those re-run the start-up wait strategy, and a log strategy matches
// the previous run's line at once. Stop and Start keep the writable layer, the
// named volumes and the networks with their aliases; docker may hand out new
// addresses and new published ports (see Container.HostAddr).

// id returns the container's docker id, or an error for a container that was
// never created.
func (c *Container) id() (string, error) {
	if c.C == nil || c.tb == nil {
		return "", fmt.Errorf("%w: container %s was not created", ErrBadSpec, c.DockerName)
	}
	return c.C.GetContainerID(), nil
}

// Stop stops the container: SIGTERM, then SIGKILL after timeout (rounded to
// whole seconds; 0 kills at once).
func (c *Container) Stop(ctx context.Context, timeout time.Duration) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	secs := int(timeout.Round(time.Second) / time.Second)
	if _, err := c.tb.docker.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop %s: %w", c.DockerName, err)
	}
	c.tb.log.Info("stopped", "container", c.DockerName)
	return nil
}

// Kill sends SIGKILL: the process gets no chance to flush or say goodbye.
func (c *Container) Kill(ctx context.Context) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	if _, err := c.tb.docker.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return fmt.Errorf("kill %s: %w", c.DockerName, err)
	}
	c.tb.log.Info("killed", "container", c.DockerName)
	return nil
}

// Signal sends sig ("SIGTERM", "KILL", "HUP", ...) to the container's main
// process; what happens next is up to the process.
func (c *Container) Signal(ctx context.Context, sig string) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	if _, err := c.tb.docker.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: sig}); err != nil {
		return fmt.Errorf("signal %s to %s: %w", sig, c.DockerName, err)
	}
	c.tb.log.Info("signalled", "container", c.DockerName, "signal", sig)
	return nil
}

// Pause freezes every process of the container (cgroup freezer): its sockets
// stay open, but it answers nothing until Unpause.
func (c *Container) Pause(ctx context.Context) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	if _, err := c.tb.docker.ContainerPause(ctx, id, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", c.DockerName, err)
	}
	c.tb.log.Info("paused", "container", c.DockerName)
	return nil
}

// Unpause thaws a paused container.
func (c *Container) Unpause(ctx context.Context) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	if _, err := c.tb.docker.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause %s: %w", c.DockerName, err)
	}
	c.tb.log.Info("unpaused", "container", c.DockerName)
	return nil
}

// Start starts a stopped container again. It does not wait for readiness: see
// WaitForLogCount, or Broker.Restart which does both.
func (c *Container) Start(ctx context.Context) error {
	id, err := c.id()
	if err != nil {
		return err
	}
	if _, err := c.tb.docker.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s again: %w", c.DockerName, err)
	}
	c.tb.log.Info("started again", "container", c.DockerName)
	return nil
}

// LogCount returns how often line occurs in the container's output so far
// (every run of the container: docker keeps the logs across restarts).
func (c *Container) LogCount(ctx context.Context, line string) (int, error) {
	logs, err := c.Logs(ctx)
	if err != nil {
		return 0, err
	}
	return strings.Count(logs, line), nil
}

// WaitForLogCount polls the container's output until line occurred at least n
// times, or ctx ends.
func (c *Container) WaitForLogCount(ctx context.Context, line string, n int) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := c.LogCount(ctx, line)
		if err == nil && got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %q logged %d times, want %d (last error: %v): %w", c.DockerName, line, got, n, err, ctx.Err())
		case <-tick.C:
		}
	}
}
