// Command airlock-proxy-bench measures what airlock-proxy costs against a direct
// connection and a plain splice forwarder, and prints one table (make bench-proxy).
//
// It re-executes itself as the forwarder ("airlock-proxy-bench forwarder ...") so
// the forwarder, like the proxy, is a process of its own whose CPU and memory can
// be read from /proc.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseArgs(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-proxy-bench:", err)
		os.Exit(exitUsage)
	}
	if cfg == nil { // --help or --version
		os.Exit(exitOK)
	}
	log, err := cfg.log.New(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-proxy-bench:", err)
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, cfg, log, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
