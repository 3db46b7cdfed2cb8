package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
)

// Bridge copies the selected topics of a source cluster into a target
// cluster. Create it with New and start it with Run.
type Bridge struct {
	cfg cfg
	log *slog.Logger
	m   *metrics

	// Cluster names for provenance, fixed by Run before any task starts.
	srcName, dstName string

	// instance names this run of the bridge in every offset commit, so a
	// fenced static task can tell a newer rival from a restarting broker.
	instance string

	planMu sync.Mutex
	plan   *plan
	kick   chan struct{}

	started atomic.Bool
	ready   atomic.Bool
}

// New validates the options and returns a Bridge that is not yet running.
func New(opts ...Opt) (*Bridge, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	b := &Bridge{
		cfg:      c,
		log:      c.logger.With("bridge", c.name),
		m:        newMetrics(c.registry),
		kick:     make(chan struct{}, 1),
		instance: newInstanceID(time.Now()),
	}
	// Every client of a cluster is built with that cluster's options, so the
	// hooks see every connection the bridge makes. Copies: the caller's
	// slices are not ours to append to.
	b.cfg.srcOpts = append(slices.Clip(c.srcOpts), kgo.WithHooks(&brokerHook{cluster: "source", log: b.log, connects: b.m.connects}))
	b.cfg.dstOpts = append(slices.Clip(c.dstOpts), kgo.WithHooks(&brokerHook{cluster: "target", log: b.log, connects: b.m.connects}))
	return b, nil
}

// Handler serves /metrics (Prometheus), /healthz (the process is alive) and
// /readyz (topics are discovered and tasks are scheduled).
func (b *Bridge) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(b.cfg.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Ready() {
			http.Error(w, "not ready: discovering topics or joining the task group", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// Ready reports whether the bridge has discovered its topics and scheduled
// its tasks.
func (b *Bridge) Ready() bool { return b.ready.Load() }

// Run copies until ctx ends, then stops every task within the shutdown
// timeout. It returns nil after a requested stop, ErrFenced when another
// instance took over a task under static coordination, or the error that
// made the bridge unable to run (configuration the clusters reject,
// an unusable HTTP address). Run may be called once.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return errors.New("bridge: Run called twice")
	}
	cfg := &b.cfg
	g, ctx := errgroup.WithContext(ctx)

	if cfg.httpAddr != "" {
		ln, err := net.Listen("tcp", cfg.httpAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", cfg.httpAddr, err)
		}
		srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http server: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
		b.log.Info("serving metrics and health", "addr", ln.Addr().String())
	}

	srcCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.srcSeeds...), kgo.WithLogger(kgoLogger(b.log))}, cfg.srcOpts...)...)
	if err != nil {
		return fmt.Errorf("source client: %w", err)
	}
	defer srcCl.Close()
	dstCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.dstSeeds...), kgo.WithLogger(kgoLogger(b.log))}, cfg.dstOpts...)...)
	if err != nil {
		return fmt.Errorf("target client: %w", err)
	}
	defer dstCl.Close()

	g.Go(func() error {
		if err := b.setup(ctx, srcCl, dstCl); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		g.Go(func() error { b.discoverLoop(ctx, srcCl, dstCl); return nil })
		if cfg.coord == StaticCoordination {
			for i := range cfg.tasks {
				t := newTask(b, i)
				g.Go(func() error { return t.run(ctx) })
			}
			b.ready.Store(true)
			return nil
		}
		return b.runGroup(ctx)
	})
	err = g.Wait()
	b.ready.Store(false)
	return err
}

// setup learns the cluster names, creates the bridge's own topics and
// publishes the first plan. Transient failures are retried; configuration
// the clusters reject is returned.
func (b *Bridge) setup(ctx context.Context, srcCl, dstCl *kgo.Client) error {
	cfg := &b.cfg
	backoff := cfg.backoff
	for {
		err := b.setupOnce(ctx, srcCl, dstCl)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrConfig) || errors.Is(err, ErrTopicCollision) || errors.Is(err, ErrBadTopicName) {
			return err
		}
		b.m.discoveryErr.Inc()
		b.log.Warn("setup failed; retrying", "err", err, "wait", backoff)
		if err := sleepCtx(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, cfg.maxBackoff)
	}
}

func (b *Bridge) setupOnce(ctx context.Context, srcCl, dstCl *kgo.Client) error {
	cfg := &b.cfg
	if b.srcName == "" {
		name := cfg.srcName
		if name == "" {
			m, err := kadm.NewClient(srcCl).BrokerMetadata(ctx)
			if err != nil {
				return fmt.Errorf("source metadata: %w", err)
			}
			if name = m.Cluster; name == "" {
				return fmt.Errorf("%w: the source reports no cluster id; set a source cluster name", ErrConfig)
			}
		}
		b.srcName = name
	}
	if b.dstName == "" {
		name := cfg.dstName
		if name == "" {
			m, err := kadm.NewClient(dstCl).BrokerMetadata(ctx)
			if err != nil {
				return fmt.Errorf("target metadata: %w", err)
			}
			if name = m.Cluster; name == "" {
				return fmt.Errorf("%w: the target reports no cluster id; set a target cluster name", ErrConfig)
			}
		}
		b.dstName = name
	}
	own := []struct {
		topic      string
		partitions int32
	}{{cfg.checkpointTopic, 1}, {cfg.dlqTopic, cfg.dlqPartitions}}
	if cfg.coord == GroupCoordination {
		own = append(own, struct {
			topic      string
			partitions int32
		}{cfg.controlTopic, int32(cfg.tasks)})
	}
	for _, o := range own {
		if _, err := ensureTopic(ctx, dstCl, o.topic, o.partitions, cfg.replication, nil); err != nil {
			return err
		}
	}
	pl, err := b.discover(ctx, srcCl, dstCl)
	if err != nil {
		return err
	}
	b.publish(pl)
	b.log.Info("bridge started", "instance", b.instance, "source_cluster", b.srcName, "target_cluster", b.dstName,
		"topics", len(pl.topics), "tasks", cfg.tasks, "mode", cfg.mode.String(), "coordination", cfg.coord.String())
	return nil
}

// discover lists the source, maps the selected topics and makes sure every
// target topic exists with enough partitions.
func (b *Bridge) discover(ctx context.Context, srcCl, dstCl *kgo.Client) (*plan, error) {
	cfg := &b.cfg
	tds, err := describeTopics(ctx, srcCl)
	if err != nil {
		return nil, fmt.Errorf("list source topics: %w", err)
	}
	topics, err := cfg.mapTopics(tds, b.srcName)
	if err != nil {
		return nil, err
	}
	if len(topics) == 0 {
		return &plan{topics: topics}, nil
	}
	targets := make([]string, 0, len(topics))
	for _, t := range topics {
		targets = append(targets, t.target)
	}
	have, err := describeTopics(ctx, dstCl, targets...)
	if err != nil {
		return nil, fmt.Errorf("list target topics: %w", err)
	}
	var configs map[string]*string
	for k, v := range cfg.topicConfigs {
		if configs == nil {
			configs = map[string]*string{}
		}
		configs[k] = &v
	}
	for name, t := range topics {
		d, ok := have[t.target]
		if ok && d.err == nil && d.partitions >= t.partitions {
			t.targetID = d.id
		} else {
			if t.targetID, err = ensureTopic(ctx, dstCl, t.target, t.partitions, cfg.replication, configs); err != nil {
				return nil, err
			}
			b.log.Info("target topic ready", "source", t.source, "target", t.target, "partitions", t.partitions)
		}
		topics[name] = t
	}
	return &plan{topics: topics}, nil
}

// discoverLoop repeats discovery every interval, or sooner when a task asks.
func (b *Bridge) discoverLoop(ctx context.Context, srcCl, dstCl *kgo.Client) {
	tick := time.NewTicker(b.cfg.discovery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-b.kick:
		}
		pl, err := b.discover(ctx, srcCl, dstCl)
		if err != nil {
			if ctx.Err() == nil {
				b.m.discoveryErr.Inc()
				b.log.Error("topic discovery failed; keeping the current plan", "err", err)
			}
			continue
		}
		b.publish(pl)
	}
}

// kickDiscovery asks for a discovery soon (after a task failure that may be
// a changed topic).
func (b *Bridge) kickDiscovery() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// publish replaces the plan when it differs, waking sessions that wait on
// the old one.
func (b *Bridge) publish(pl *plan) {
	b.planMu.Lock()
	defer b.planMu.Unlock()
	if b.plan != nil && maps.Equal(b.plan.topics, pl.topics) {
		return
	}
	pl.replaced = make(chan struct{})
	if b.plan != nil {
		close(b.plan.replaced)
	}
	b.plan = pl
}

func (b *Bridge) currentPlan() *plan {
	b.planMu.Lock()
	defer b.planMu.Unlock()
	return b.plan
}

// planChanged returns a channel closed once pl is replaced.
func (b *Bridge) planChanged(pl *plan) <-chan struct{} { return pl.replaced }
