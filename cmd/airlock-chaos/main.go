// Command airlock-chaos runs fault scenarios against Airlock's docker
// testbed (see package chaos): `airlock-chaos list` prints the catalogue,
// `airlock-chaos run <scenario>` runs one and writes its report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK         = 0
	exitViolations = 1
	exitUsage      = 2
	exitError      = 3
)

func main() {
	cfg, err := parseArgs(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(exitOK)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-chaos:", err)
		os.Exit(exitUsage)
	}
	logger, err := cfg.log.New(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-chaos:", err)
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, cfg, logger, os.Stdout, environment(cfg, logger))
	stop()
	os.Exit(code)
}
