package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/airlock-kafka/airlock/chaos"
	"github.com/airlock-kafka/airlock/chaos/dockerenv"
	"github.com/airlock-kafka/airlock/internal/testbed"
)

// Ryuk, testcontainers' reaper, is an image from Docker Hub, which this
// machine cannot pull; environments are removed by label instead. It must be
// set before the first testcontainers call, which reads it once.
func init() {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
}

// environment returns the factory of the docker environments scenarios run
// in (one testbed per scenario, under one run id). The first call checks that
// docker answers and the images are built (`make images`), and removes what
// killed earlier runs left behind; without docker or images every call fails
// with chaos.ErrNoEnvironment, and the run exits 3.
func environment(c *config, log *slog.Logger) chaos.EnvironmentFactory {
	return environmentWith(c, log, checkDocker)
}

// environmentWith is environment with the docker check as a parameter.
func environmentWith(c *config, log *slog.Logger, check func(context.Context, *slog.Logger) error) chaos.EnvironmentFactory {
	runID := testbed.NewRunID()
	inner := dockerenv.Factory(
		dockerenv.RunID(runID),
		dockerenv.Logger(log.With("component", "testbed")),
		dockerenv.Name("chaos"),
		dockerenv.BridgeArgs(c.bridgeArgs...),
		dockerenv.KafkaVersion(c.kafkaVersion),
		dockerenv.KafkaImage(os.Getenv("KAFKA_IMAGE")),
	)
	var once sync.Once
	var ready error
	return func(ctx context.Context, needs chaos.Needs) (chaos.Environment, error) {
		once.Do(func() { ready = check(ctx, log) })
		if ready != nil {
			return nil, ready
		}
		return inner(ctx, needs)
	}
}

// checkDocker fails with chaos.ErrNoEnvironment when docker or an image is
// missing.
func checkDocker(ctx context.Context, log *slog.Logger) error {
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("%w: docker client: %v", chaos.ErrNoEnvironment, err)
	}
	defer func() { _ = docker.Close() }()
	if _, err := docker.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("%w: docker does not answer: %v", chaos.ErrNoEnvironment, err)
	}
	im := testbed.DefaultImages()
	if err := testbed.CheckImages(ctx, docker, im.TestBroker, im.Proxy, im.Toxiproxy, im.Bridge, im.Producer, im.Consumer); err != nil {
		return fmt.Errorf("%w: %v (build them with `make images`)", chaos.ErrNoEnvironment, err)
	}
	stale, err := testbed.RemoveStale(ctx, docker)
	if err != nil {
		return fmt.Errorf("%w: remove what earlier runs left: %v", chaos.ErrNoEnvironment, err)
	}
	if len(stale) > 0 {
		log.Info("removed resources left by earlier runs", "resources", stale)
	}
	return nil
}
