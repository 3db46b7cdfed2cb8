// Command airlock-consumer reads topics read_committed, validating every record's
// Avro, then checks what it read against producer ledgers for lost, duplicated,
// aborted, unexpected, reordered, undecodable and mis-attributed events.
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
		fmt.Fprintln(os.Stderr, "airlock-consumer:", err)
		os.Exit(exitUsage)
	}
	logger, err := newLogger(os.Stderr, cfg.logLevel, cfg.logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-consumer:", err)
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, cfg, logger, os.Stdout)
	stop()
	os.Exit(code)
}
