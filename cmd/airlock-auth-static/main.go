package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/version"
)

func main() {
	fs := flag.NewFlagSet("airlock-auth-static", flag.ContinueOnError)
	cfg := newConfig(fs)
	if err := flagenv.Parse(fs, envPrefix, os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if cfg.version {
		fmt.Println(version.Version)
		os.Exit(0)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	// SIGINT is left alone: a Ctrl-C reaches the whole process group, and the proxy,
	// not the terminal, decides when its plugin stops.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	code := run(ctx, cfg, logger)
	stop()
	os.Exit(code)
}
