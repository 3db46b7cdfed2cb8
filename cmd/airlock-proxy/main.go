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
	if len(os.Args) > 1 && os.Args[1] == "users" {
		os.Exit(runUsers(os.Args[2:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
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
