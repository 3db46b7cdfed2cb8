// Package bench measures airlock-bridge between two in-process kfake
// clusters: throughput of a preloaded backlog and end-to-end latency of a
// steady stream, exactly-once against the same bridge in at-least-once mode.
package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/bridge"
)

// Config is one benchmark run.
type Config struct {
	Records     int           // backlog records for the throughput phase
	RecordSize  int           // value bytes per record
	Partitions  int32         // source partitions
	Tasks       int           // bridge tasks
	Rate        int           // records per second in the latency phase
	LatencyFor  time.Duration // length of the latency phase
	TxnInterval time.Duration // bridge transaction interval
	TxnRecords  int           // bridge transaction size
	Rounds      int           // measured rounds per mode, after one warm-up round
	Logger      *slog.Logger  // bridge logs (nil: discard)
}

// DefaultConfig is what `make bench-bridge` runs.
func DefaultConfig() Config {
	return Config{
		Records:     300_000,
		RecordSize:  1024,
		Partitions:  8,
		Tasks:       4,
		Rate:        2000,
		LatencyFor:  2 * time.Second,
		TxnInterval: bridge.DefaultTxnInterval,
		TxnRecords:  bridge.DefaultTxnMaxRecords,
		Rounds:      5,
	}
}

// Result is one mode's figures over all rounds.
type Result struct {
	Mode         bridge.Mode
	Records      int           // backlog records per round
	Bytes        int64         // backlog value bytes per round
	Elapsed      time.Duration // median backlog copy time, start-up included
	Fastest      time.Duration
	Slowest      time.Duration
	P50, P99     time.Duration // over the latency samples of every round
	Samples      int
	Transactions float64 // committed transactions (batches) per round, mean
}

// RecordsPerSec is the median backlog throughput.
func (r Result) RecordsPerSec() float64 { return float64(r.Records) / r.Elapsed.Seconds() }

// MBPerSec is the median backlog throughput in MiB/s of values.
func (r Result) MBPerSec() float64 { return float64(r.Bytes) / (1 << 20) / r.Elapsed.Seconds() }

// round is one measured run of one mode.
type round struct {
	elapsed time.Duration
	lats    []time.Duration
	txns    float64
}

// Run measures both modes and writes the table to w. The machine is shared
// and the first run in a process pays for warming up, so one discarded
// warm-up round comes first, the modes then alternate (order swapped each
// round to cancel drift), and throughput is the median of the rounds.
func Run(ctx context.Context, cfg Config, w io.Writer) ([]Result, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Rounds = max(cfg.Rounds, 1)
	// The first runs in a process are several times slower (the heap grows
	// to hold two clusters' logs): warm up at full size.
	warm := cfg
	warm.LatencyFor = time.Second
	for _, mode := range []bridge.Mode{bridge.AtLeastOnce, bridge.ExactlyOnce} {
		if _, err := runMode(ctx, warm, mode); err != nil {
			return nil, fmt.Errorf("warm-up %s: %w", mode, err)
		}
	}
	rounds := map[bridge.Mode][]round{}
	for i := range cfg.Rounds {
		order := []bridge.Mode{bridge.ExactlyOnce, bridge.AtLeastOnce}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, mode := range order {
			r, err := runMode(ctx, cfg, mode)
			if err != nil {
				return nil, fmt.Errorf("%s round %d: %w", mode, i+1, err)
			}
			rounds[mode] = append(rounds[mode], r)
		}
	}
	var results []Result
	for _, mode := range []bridge.Mode{bridge.ExactlyOnce, bridge.AtLeastOnce} {
		results = append(results, summarize(cfg, mode, rounds[mode]))
	}
	writeTable(w, cfg, results)
	return results, nil
}

func summarize(cfg Config, mode bridge.Mode, rs []round) Result {
	res := Result{Mode: mode, Records: cfg.Records, Bytes: int64(cfg.Records) * int64(cfg.RecordSize)}
	var times, lats []time.Duration
	for _, r := range rs {
		times = append(times, r.elapsed)
		lats = append(lats, r.lats...)
		res.Transactions += r.txns / float64(len(rs))
	}
	slices.Sort(times)
	slices.Sort(lats)
	res.Elapsed, res.Fastest, res.Slowest = times[len(times)/2], times[0], times[len(times)-1]
	res.Samples = len(lats)
	if len(lats) > 0 {
		res.P50 = lats[len(lats)/2]
		res.P99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return res
}

func writeTable(w io.Writer, cfg Config, rs []Result) {
	_, _ = fmt.Fprintf(w, "airlock-bridge: %d records of %d B over %d partitions, %d tasks, transactions of %s or %d records;\n",
		cfg.Records, cfg.RecordSize, cfg.Partitions, cfg.Tasks, cfg.TxnInterval, cfg.TxnRecords)
	_, _ = fmt.Fprintf(w, "latency at %d records/s for %s; median of %d rounds after a warm-up (two in-process kfake clusters)\n\n",
		cfg.Rate, cfg.LatencyFor, cfg.Rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, "mode\trecords/s\tMB/s\trange records/s\ttxns/round\tp50 ms\tp99 ms\tsamples\t")
	for _, r := range rs {
		_, _ = fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.0f-%.0f\t%.0f\t%.1f\t%.1f\t%d\t\n", r.Mode, r.RecordsPerSec(), r.MBPerSec(),
			float64(r.Records)/r.Slowest.Seconds(), float64(r.Records)/r.Fastest.Seconds(),
			r.Transactions, ms(r.P50), ms(r.P99), r.Samples)
	}
	_ = tw.Flush()
	if len(rs) == 2 {
		ratio := rs[0].RecordsPerSec() / rs[1].RecordsPerSec()
		limit := cfg.TxnInterval + 50*time.Millisecond
		_, _ = fmt.Fprintf(w, "\nexactly-once throughput = %.1f%% of at-least-once (target >= 90%%: %s)\n", 100*ratio, verdict(ratio >= 0.9))
		_, _ = fmt.Fprintf(w, "exactly-once p99 = %.1f ms (target <= interval + 50 ms = %.0f ms: %s)\n", ms(rs[0].P99), ms(limit), verdict(rs[0].P99 <= limit))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func runMode(ctx context.Context, cfg Config, mode bridge.Mode) (round, error) {
	var res round
	src, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("bench-source"), kfake.SeedTopics(cfg.Partitions, "bench"))
	if err != nil {
		return res, err
	}
	defer src.Close()
	dst, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("bench-target"))
	if err != nil {
		return res, err
	}
	defer dst.Close()

	prod, err := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return res, err
	}
	defer prod.Close()
	if err := preload(ctx, prod, cfg); err != nil {
		return res, err
	}

	reg := prometheus.NewRegistry()
	b, err := bridge.New(
		bridge.Name("bench"),
		bridge.SourceBrokers(src.ListenAddrs()...),
		bridge.TargetBrokers(dst.ListenAddrs()...),
		bridge.Topics("bench"),
		bridge.Tasks(cfg.Tasks),
		bridge.WithMode(mode),
		bridge.WithCoordination(bridge.StaticCoordination),
		bridge.TxnInterval(cfg.TxnInterval),
		bridge.TxnMaxRecords(cfg.TxnRecords),
		bridge.WithRegistry(reg),
		bridge.WithLogger(cfg.Logger),
	)
	if err != nil {
		return res, err
	}
	dcl, err := kgo.NewClient(kgo.SeedBrokers(dst.ListenAddrs()...))
	if err != nil {
		return res, err
	}
	defer dcl.Close()
	adm := kadm.NewClient(dcl)

	// Throughput: from Run to the whole backlog committed, start-up
	// (fencing, offset reads, first fetches) included.
	bctx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	began := time.Now()
	go func() { runErr <- b.Run(bctx) }()
	defer func() { stop(); <-runErr }()
	if err := waitCommitted(ctx, adm, runErr, int64(cfg.Records)); err != nil {
		return res, err
	}
	res.elapsed = time.Since(began)

	// Latency: a steady stream, timed from the producer's acknowledged
	// append to a read_committed consumer on the target.
	if res.lats, err = latency(ctx, cfg, prod, dst.ListenAddrs()); err != nil {
		return res, err
	}
	res.txns = counterValue(reg, "airlock_bridge_transactions_total")
	return res, nil
}

func preload(ctx context.Context, cl *kgo.Client, cfg Config) error {
	value := make([]byte, cfg.RecordSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i := range cfg.Records {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: "bench", Partition: int32(i) % cfg.Partitions, Value: value}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// waitCommitted polls the bridge's offsets group until its positions add up
// to want records.
func waitCommitted(ctx context.Context, adm *kadm.Client, runErr <-chan error, want int64) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Minute)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-runErr:
			return fmt.Errorf("bridge stopped: %w", err)
		case <-deadline:
			return errors.New("backlog not copied within 10 minutes")
		case <-tick.C:
		}
		offs, err := adm.FetchOffsets(ctx, "airlock-bridge.bench")
		if err != nil {
			continue
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At > 0 {
				sum += o.At
			}
		})
		if sum >= want {
			return nil
		}
	}
}

// latency produces at cfg.Rate for cfg.LatencyFor and returns, per record,
// the time from the producer's acknowledged append on the source to its
// arrival at a read_committed consumer on the target.
func latency(ctx context.Context, cfg Config, prod *kgo.Client, dstAddrs []string) ([]time.Duration, error) {
	// Start exactly at the target's current end, so only the stream counts.
	acl, err := kgo.NewClient(kgo.SeedBrokers(dstAddrs...))
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(acl).ListEndOffsets(ctx, "bench")
	acl.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("target end offsets: %w", err)
	}
	start := map[string]map[int32]kgo.Offset{"bench": {}}
	ends.Each(func(o kadm.ListedOffset) { start["bench"][o.Partition] = kgo.NewOffset().At(o.Offset) })
	cons, err := kgo.NewClient(
		kgo.SeedBrokers(dstAddrs...),
		kgo.ConsumePartitions(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(10*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	defer cons.Close()

	epoch := time.Now()
	var (
		mu    sync.Mutex
		acked = map[uint64]time.Duration{} // sequence -> append ack, since epoch
	)
	total := int(cfg.LatencyFor.Seconds() * float64(cfg.Rate))
	prodDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(cfg.Rate))
		defer tick.Stop()
		for seq := range uint64(total) {
			select {
			case <-ctx.Done():
				prodDone <- ctx.Err()
				return
			case <-tick.C:
			}
			v := make([]byte, cfg.RecordSize)
			binary.BigEndian.PutUint64(v, seq)
			prod.Produce(ctx, &kgo.Record{Topic: "bench", Partition: int32(seq) % cfg.Partitions, Value: v}, func(_ *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[seq] = time.Since(epoch)
					mu.Unlock()
				}
			})
		}
		prodDone <- prod.Flush(ctx)
	}()

	var (
		lats    []time.Duration
		seen    int
		prodErr error
		done    bool
		last    = time.Now()
	)
	deadline := time.Now().Add(cfg.LatencyFor + 30*time.Second)
	for seen < total && time.Now().Before(deadline) && (!done || time.Since(last) <= 2*time.Second) {
		select {
		case prodErr = <-prodDone:
			done = true
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := cons.PollFetches(pctx)
		cancel()
		now := time.Since(epoch)
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) < 8 {
				return
			}
			seen++
			last = time.Now()
			mu.Lock()
			at, ok := acked[binary.BigEndian.Uint64(r.Value)]
			mu.Unlock()
			if ok {
				lats = append(lats, max(now-at, 0))
			}
		})
	}
	if !done {
		prodErr = <-prodDone
	}
	if prodErr != nil {
		return nil, prodErr
	}
	if seen < total {
		return nil, fmt.Errorf("latency phase: %d of %d records arrived", seen, total)
	}
	return lats, nil
}

func counterValue(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == "committed" {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
