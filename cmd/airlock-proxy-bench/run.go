package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/airlock-kafka/airlock/internal/benchutil"
)

// run runs the benchmark (or the forwarder) and returns the exit code.
func run(ctx context.Context, c *config, log *slog.Logger, stdout, stderr io.Writer) int {
	if f := c.forwarder; f != nil {
		if err := benchutil.ServeForwarder(ctx, f.listen, f.target, f.httpAddr, log); err != nil {
			log.Error("forwarder stopped", "err", err)
			return exitError
		}
		return exitOK
	}
	self, err := os.Executable()
	if err != nil {
		log.Error("cannot find my own binary to run the forwarder", "err", err)
		return exitError
	}
	if _, err := os.Stat(c.proxyBin); err != nil {
		log.Error("airlock-proxy binary not found; run make build or pass --proxy-bin", "err", err)
		return exitUsage
	}
	opts := []benchutil.Opt{
		benchutil.WithLogger(log),
		benchutil.ProcessOutput(stderr),
		benchutil.Rounds(c.rounds),
		benchutil.MB(c.mb),
		benchutil.LatencyRequests(c.latencyReqs),
		benchutil.IdleConns(c.idleConns),
		benchutil.Partitions(c.partitions),
		benchutil.PathTimeout(c.pathTimeout),
		benchutil.ProxyCommand(c.proxyBin, c.proxyArgs...),
		benchutil.ForwarderCommand(self, forwarderCmd, "--log-level", "warn"),
	}
	for _, cd := range c.candidates {
		opts = append(opts, benchutil.Candidate(cd.name, cd.bin))
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rep, err := benchutil.Run(ctx, opts...)
	if err != nil {
		if parent.Err() != nil {
			log.Error("interrupted; every process under test was stopped", "err", err)
			return exitError
		}
		if errors.Is(err, benchutil.ErrBadOption) {
			log.Error("bad flags", "err", err)
			return exitUsage
		}
		log.Error("benchmark failed", "err", err)
		return exitError
	}
	if err := write(stdout, rep, c.json); err != nil {
		log.Error("write report", "err", err)
		return exitError
	}
	if c.check {
		for _, t := range rep.Targets {
			if t.Path == benchutil.PathProxy && !t.Pass {
				return exitMissed
			}
		}
	}
	return exitOK
}

func write(w io.Writer, rep *benchutil.Report, asJSON bool) error {
	if !asJSON {
		return rep.Render(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("encode JSON report: %w", err)
	}
	return nil
}
