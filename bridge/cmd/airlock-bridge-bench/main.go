// Command airlock-bridge-bench prints the bridge's benchmark table
// (`make bench-bridge`): exactly-once against at-least-once between two
// in-process kfake clusters.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/airlock-kafka/airlock/bridge/bench"
	"github.com/airlock-kafka/airlock/internal/flagenv"
)

func main() {
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("airlock-bridge-bench", flag.ContinueOnError)
	fs.IntVar(&cfg.Records, "records", cfg.Records, "backlog records copied for the throughput figures")
	fs.IntVar(&cfg.RecordSize, "record-size", cfg.RecordSize, "value bytes per record")
	partitions := fs.Int("partitions", int(cfg.Partitions), "source partitions")
	fs.IntVar(&cfg.Tasks, "tasks", cfg.Tasks, "bridge tasks")
	fs.IntVar(&cfg.Rate, "rate", cfg.Rate, "records per second during the latency phase")
	fs.DurationVar(&cfg.LatencyFor, "latency-duration", cfg.LatencyFor, "length of the latency phase")
	fs.DurationVar(&cfg.TxnInterval, "txn-interval", cfg.TxnInterval, "bridge transaction interval")
	fs.IntVar(&cfg.TxnRecords, "txn-max-records", cfg.TxnRecords, "bridge transaction size in records")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "measured rounds per mode (after one warm-up round)")
	if err := flagenv.Parse(fs, "AIRLOCK_BRIDGE_BENCH_", os.Args[1:], os.Getenv); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "airlock-bridge-bench:", err)
		os.Exit(2)
	}
	cfg.Partitions = int32(*partitions)
	if cfg.Records < 1 || cfg.RecordSize < 8 || cfg.Partitions < 1 || cfg.Tasks < 1 || cfg.Rate < 1 || cfg.LatencyFor <= 0 {
		fmt.Fprintln(os.Stderr, "airlock-bridge-bench: records, partitions, tasks, rate and duration must be positive; record size at least 8")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench.Run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "airlock-bridge-bench:", err)
		os.Exit(1)
	}
}
