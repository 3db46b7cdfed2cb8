package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/airlock-kafka/airlock/internal/testbed/demo"
)

// run runs the demo, or with --down removes a kept one.
func run(ctx context.Context, c *config, log *slog.Logger, out io.Writer) int {
	if c.down != "" {
		if err := demo.Down(ctx, c.down, out); err != nil {
			log.Error("airlock-demo --down failed", "err", err)
			return exitError
		}
		return exitOK
	}
	err := demo.Run(ctx,
		demo.Events(c.events), demo.Rate(c.rate), demo.KafkaVersion(c.version), demo.Keep(c.keep),
		demo.Latency(c.latency), demo.FaultAfter(c.faultAfter), demo.FaultFor(c.faultFor),
		demo.Output(out), demo.Logger(log),
	)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, demo.ErrNotExactlyOnce):
		log.Error("airlock-demo", "err", err)
		return exitFailed
	default:
		log.Error("airlock-demo failed", "err", err)
		return exitError
	}
}
