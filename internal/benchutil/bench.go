package benchutil

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The paths to the broker a run compares.
const (
	PathDirect    = "direct"
	PathForwarder = "splice forwarder"
	PathProxy     = "airlock-proxy"
)

// Paths lists the paths in their table order.
var Paths = []string{PathDirect, PathForwarder, PathProxy}

const (
	topic      = "bench"
	recordSize = 1 << 10
	// readyTimeout bounds the start of a process under test.
	readyTimeout = 15 * time.Second
	// warmUpMB is what the unmeasured warm-up run moves per phase.
	warmUpMB = 64
	// settleTimeout bounds waiting for a process to tear idle connections down.
	settleTimeout = 15 * time.Second
)

type bench struct {
	cfg   cfg
	hc    *http.Client
	value []byte
}

// Run measures every path Rounds times and returns the report. Processes under
// test are started fresh for every path and round (so memory measured on one path
// is not memory another left behind) and are killed before Run returns, whatever
// happens.
func Run(ctx context.Context, opts ...Opt) (*Report, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	b := &bench{cfg: c, hc: &http.Client{Timeout: 5 * time.Second}, value: make([]byte, recordSize)}
	for i := range b.value {
		b.value[i] = byte('a' + i%26)
	}
	load := [2]float64{LoadAvg()}
	// The first path measured would otherwise pay for growing this process's heap
	// and warming kfake and the clients.
	if _, err := b.runPath(ctx, PathDirect, 0, min(c.mb, warmUpMB), 100); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	var results []PathResult
	paths := c.paths()
	for r := range c.rounds {
		for i := range paths {
			path := paths[(i+r)%len(paths)]
			res, err := b.runPath(ctx, path, r+1, c.mb, c.latencyReqs)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", r+1, path, err)
			}
			res.Order = i + 1
			c.log.Info("measured", "round", r+1, "path", path,
				"produce_MBps", round1(res.Produce.MBps()), "consume_MBps", round1(res.Consume.MBps()),
				"cpu_s_per_GB", round3(res.CPUPerGB()), "p50_us", res.P50.Microseconds(), "p99_us", res.P99.Microseconds())
			results = append(results, res)
		}
	}
	load[1] = LoadAvg()
	return newReport(c, results, load), nil
}

// runPath measures one path with mb MB per throughput phase and latencyReqs
// round trips.
func (b *bench) runPath(ctx context.Context, path string, round, mb, latencyReqs int) (PathResult, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.pathTimeout)
	defer cancel()
	// A fresh broker per path: the blackholed produce and synthetic fetch keep it
	// small, and nothing one path did can slow the next.
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(int32(b.cfg.partitions), topic),
		kfake.BlackholeProduce(),
		kfake.SyntheticFetch(kfake.SyntheticBatch{RecordBytes: recordSize}),
	)
	if err != nil {
		return PathResult{}, fmt.Errorf("start kfake: %w", err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]

	res := PathResult{Path: path, Round: round}
	ep := endpoint{seed: broker}
	var proc *Process
	var metricsURL string
	if path != PathDirect {
		var listen string
		proc, listen, metricsURL, err = b.start(ctx, path, broker)
		if err != nil {
			return PathResult{}, err
		}
		defer proc.Stop()
		ep = endpoint{seed: listen}
		if path == PathForwarder {
			ep.redirect = listen
		}
		idle, err := b.idle(ctx, proc, listen, metricsURL)
		if err != nil {
			return PathResult{}, err
		}
		res.Idle = idle
	}

	m := meter{wire: &wireCounter{}}
	if proc != nil {
		pid := proc.Pid()
		m.cpu = func() (time.Duration, error) { return ProcCPU(pid) }
	}
	total := int64(mb) * 1e6
	if res.Produce, err = produceThroughput(ctx, ep, topic, b.value, total, m); err != nil {
		return PathResult{}, b.blame(proc, err)
	}
	if res.Consume, err = consumeThroughput(ctx, ep, topic, total, m); err != nil {
		return PathResult{}, b.blame(proc, err)
	}
	ds, err := produceLatency(ctx, ep, topic, b.value, latencyReqs)
	if err != nil {
		return PathResult{}, b.blame(proc, err)
	}
	res.P50, res.P99 = Percentile(ds, 0.50), Percentile(ds, 0.99)
	if proc != nil {
		if err := proc.Alive(); err != nil {
			return PathResult{}, err
		}
	}
	return res, nil
}

// blame prefers "the process under test died" over the client error it caused.
func (b *bench) blame(proc *Process, err error) error {
	if proc != nil {
		if perr := proc.Alive(); perr != nil {
			return fmt.Errorf("%w (client saw: %w)", perr, err)
		}
	}
	return err
}

// start runs the process under test for path in front of broker and waits until
// it is ready. It returns the address clients connect to and its /metrics URL.
func (b *bench) start(ctx context.Context, path, broker string) (*Process, string, string, error) {
	listen, err := FreeAddr()
	if err != nil {
		return nil, "", "", err
	}
	httpAddr, err := FreeAddr()
	if err != nil {
		return nil, "", "", err
	}
	var (
		bin   string
		args  []string
		ready string
	)
	switch path {
	case PathForwarder:
		bin = b.cfg.fwdBin
		args = append(append(args, b.cfg.fwdArgs...), "--listen", listen, "--target", broker, "--http-listen-address", httpAddr)
		ready = "http://" + httpAddr + "/metrics"
	default:
		var extra []string
		var ok bool
		if bin, extra, ok = b.cfg.proxyCommand(path); !ok {
			return nil, "", "", fmt.Errorf("%w: unknown path %q", ErrBadOption, path)
		}
		args = append(append(args, extra...),
			"--bootstrap-server-mapping", broker+","+listen,
			"--http-listen-address", httpAddr,
			"--log-level", "warn")
		ready = "http://" + httpAddr + "/readyz"
	}
	proc, err := StartProcess(path, bin, args, b.cfg.procOut)
	if err != nil {
		return nil, "", "", err
	}
	if err := proc.WaitHTTP(ctx, b.hc, ready, readyTimeout); err != nil {
		proc.Stop()
		return nil, "", "", err
	}
	return proc, listen, "http://" + httpAddr + "/metrics", nil
}

// sample is what a process under test holds at one moment.
type sample struct {
	rss        int64
	goroutines float64
	heap       float64
	stack      float64
}

func (b *bench) sample(ctx context.Context, proc *Process, metricsURL string) (sample, error) {
	m, err := ScrapeMetrics(ctx, b.hc, metricsURL, metricGoroutines, metricHeapInuse, metricStackInuse)
	if err != nil {
		return sample{}, b.blame(proc, err)
	}
	rss, err := ProcRSS(proc.Pid())
	if err != nil {
		return sample{}, b.blame(proc, err)
	}
	return sample{rss: rss, goroutines: m[metricGoroutines], heap: m[metricHeapInuse], stack: m[metricStackInuse]}, nil
}

// idle measures what IdleConns idle connections cost proc, then closes them and
// waits until proc has torn them down, so that work does not land in the
// throughput phases.
func (b *bench) idle(ctx context.Context, proc *Process, addr, metricsURL string) (*IdleResult, error) {
	before, err := b.sample(ctx, proc, metricsURL)
	if err != nil {
		return nil, err
	}
	conns, err := openIdle(ctx, addr, b.cfg.idleConns)
	if err != nil {
		return nil, b.blame(proc, err)
	}
	after, err := b.sample(ctx, proc, metricsURL)
	if cerr := closeConns(conns); err == nil && cerr != nil {
		err = fmt.Errorf("close idle connections: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	if err := b.settle(ctx, proc, metricsURL, before.goroutines); err != nil {
		return nil, err
	}
	return &IdleResult{
		Conns:            b.cfg.idleConns,
		RSSBefore:        before.rss,
		RSSAfter:         after.rss,
		GoroutinesBefore: before.goroutines,
		GoroutinesAfter:  after.goroutines,
		HeapBefore:       before.heap,
		HeapAfter:        after.heap,
		StackBefore:      before.stack,
		StackAfter:       after.stack,
	}, nil
}

// settle polls until proc runs about as many goroutines as before the idle
// connections were opened.
func (b *bench) settle(ctx context.Context, proc *Process, metricsURL string, baseline float64) error {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	// A few goroutines of slack: HTTP keep-alive connections of the scraper
	// come and go.
	const slack = 8
	var last float64
	for {
		m, err := ScrapeMetrics(ctx, b.hc, metricsURL, metricGoroutines)
		if err == nil {
			last = m[metricGoroutines]
			if last <= baseline+slack {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return b.blame(proc, fmt.Errorf("idle connections not torn down: %.0f goroutines, %.0f before: %w", last, baseline, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
