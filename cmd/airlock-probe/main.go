// Command airlock-probe reports whether addresses are reachable from where it runs,
// one JSON line per target, for the testbed's network-isolation specs; in
// metadata mode it also lists every broker address a target hands out (Metadata,
// FindCoordinator, DescribeCluster), for the address-rewriting specs. It exits 0
// when every target (and every address handed out) is reachable, 1 when one is
// not, 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/airlock-kafka/airlock/internal/clientsec"
	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/testbed/probe"
)

func main() {
	fs := flag.NewFlagSet("airlock-probe", flag.ContinueOnError)
	fs.Usage = func() {
		_, _ = fmt.Fprintln(fs.Output(), "usage: airlock-probe [flags] host:port...")
		fs.PrintDefaults()
	}
	var targets flagenv.StringList
	fs.Var(&targets, "target", "host:port to probe (repeatable; positional arguments are targets too)")
	mode := fs.String("mode", string(probe.TCP), "tcp (connect), kafka (ApiVersions answered) or metadata (every broker address handed out, each answering ApiVersions)")
	timeout := fs.Duration("timeout", 3*time.Second, "bound of each target's attempt")
	var sec clientsec.Options
	sec.Register(fs, "", "the targets (kafka and metadata modes)")
	if err := flagenv.Parse(fs, "AIRLOCK_PROBE_", os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "airlock-probe:", err)
		os.Exit(2)
	}
	targets = append(targets, fs.Args()...)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, targets, probe.Mode(*mode), *timeout, &sec)
	stop()
	os.Exit(code)
}

// run probes and prints the results; it returns the exit code.
func run(ctx context.Context, targets []string, mode probe.Mode, timeout time.Duration, sec *clientsec.Options) int {
	if len(targets) == 0 {
		fmt.Fprintln(os.Stderr, "airlock-probe: no target given")
		return 2
	}
	kopts, err := sec.KgoOpts()
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-probe:", err)
		return 2
	}
	rs, err := probe.Run(ctx, targets, probe.WithMode(mode), probe.WithTimeout(timeout), probe.WithKgoOpts(kopts...))
	if err != nil {
		fmt.Fprintln(os.Stderr, "airlock-probe:", err)
		return 2
	}
	enc := json.NewEncoder(os.Stdout)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "airlock-probe:", err)
			return 2
		}
	}
	if !probe.AllOK(rs) {
		return 1
	}
	return 0
}
