package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/airlock-kafka/airlock/bridge"
	"github.com/airlock-kafka/airlock/internal/version"
)

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1 // the bridge could not run
	exitUsage  = 2 // bad flags or configuration
	exitFenced = 3 // another instance took over a task (static coordination)
)

// run starts the bridge and blocks until ctx ends or it fails.
func run(ctx context.Context, cfg *config, log *slog.Logger) int {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := append(cfg.opts, bridge.WithLogger(log), bridge.WithRegistry(reg))
	b, err := bridge.New(opts...)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return exitUsage
	}
	log.Info("airlock-bridge starting", "version", version.Version, "name", cfg.name)
	err = b.Run(ctx)
	switch {
	case err == nil:
		log.Info("airlock-bridge stopped")
		return exitOK
	case errors.Is(err, bridge.ErrFenced):
		log.Error("stopped: fenced by another instance with the same name", "err", err)
		return exitFenced
	case errors.Is(err, bridge.ErrConfig), errors.Is(err, bridge.ErrTopicCollision), errors.Is(err, bridge.ErrBadTopicName):
		log.Error("stopped: configuration rejected", "err", err)
		return exitUsage
	default:
		log.Error("stopped", "err", err)
		return exitError
	}
}
