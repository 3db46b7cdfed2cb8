// Command airlock-demo is `make demo`: Airlock's topology in docker (source
// cluster, proxies, toxiproxy, bridge, target cluster), a minute of events
// through it under faults, and the verification (see package demo).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseArgs(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-demo:", err)
		os.Exit(exitUsage)
	}
	if cfg == nil { // --help
		os.Exit(exitOK)
	}
	log, err := newLogger(os.Stderr, cfg.logLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-demo:", err)
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, cfg, log, os.Stdout))
}
