// Command airlock-proxy is a Kafka protocol proxy that rewrites every broker
// address responses carry, so clients only ever see proxy addresses.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-proxy:", err)
		os.Exit(2)
	}
	if cfg == nil { // --help or --version
		os.Exit(0)
	}
	log, err := cfg.log.New(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-proxy:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, cfg, log))
}
