// Command airlock-bridge copies Kafka topics from a source cluster to a
// target cluster with exactly-once delivery (see package bridge).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-bridge:", err)
		os.Exit(exitUsage)
	}
	if cfg == nil { // --help or --version
		os.Exit(exitOK)
	}
	log, err := cfg.log.New(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-bridge:", err)
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, cfg, log))
}
