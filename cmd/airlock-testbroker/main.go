// Command airlock-testbroker runs franz-go's kfake as a stand-alone Kafka test
// broker for the docker testbed: it binds one host, advertises another, emulates a
// Kafka release and serves an admin HTTP API for faults (see package testbroker).
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
	"github.com/airlock-kafka/airlock/internal/testbroker"
	"github.com/airlock-kafka/airlock/internal/version"
)

func main() {
	fs := flag.NewFlagSet("airlock-testbroker", flag.ContinueOnError)
	var f testbroker.Flags
	f.Register(fs)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.String(flagenv.ConfigFlag, "", "config file of name = value lines")
	if err := flagenv.Parse(fs, "AIRLOCK_TESTBROKER_", os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "airlock-testbroker:", err)
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println("airlock-testbroker", version.Version)
		os.Exit(0)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "airlock-testbroker: --log-level:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &f, log)
	stop()
	os.Exit(code)
}

// run starts the broker and serves until ctx ends; it returns the exit code.
func run(ctx context.Context, f *testbroker.Flags, log *slog.Logger) int {
	opts, err := f.Options()
	if err != nil {
		log.Error("bad configuration", "err", err)
		return 2
	}
	b, err := testbroker.New(append(opts, testbroker.WithLogger(log))...)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := b.Run(ctx); err != nil {
		log.Error("stopped with an error", "err", err)
		return 1
	}
	return 0
}
