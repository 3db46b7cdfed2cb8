// Package demo is `make demo`: it brings up Airlock's topology with the
// testbed the e2e specs use (source cluster, proxies, toxiproxy, bridge, target
// cluster), streams events through it for about a minute while faults hit it
// (a latency toxic on the source side, then a SIGKILL of the bridge), and
// prints the consumer's verification and the addresses the bridge was handed.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"text/tabwriter"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/testcontainers/testcontainers-go"
	"golang.org/x/sync/errgroup"

	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/testbed"
	"github.com/airlock-kafka/airlock/internal/testbed/probe"
)

// Topic is the source topic the demo produces to.
const Topic = "events"

// toxicName names the demo's latency toxic on every source-side proxy.
const toxicName = "demo-latency"

// demo is one run's state.
type demo struct {
	cfg    config
	tb     *testbed.Testbed
	bridge *testbed.BridgeInstance
	start  time.Time
	maxLag atomic.Int64
	faults []string // the timeline, for the report
}

// Run runs the demo and tears everything down unless Keep is set. It returns
// ErrNotExactlyOnce when the verification found anomalies.
func Run(ctx context.Context, opts ...Opt) (err error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	im := testbed.DefaultImages()
	cerr := testbed.CheckImages(ctx, docker, im.TestBroker, im.Proxy, im.Toxiproxy, im.Bridge, im.Producer, im.Consumer, im.Probe)
	_ = docker.Close()
	if cerr != nil {
		return cerr
	}

	d := &demo{cfg: cfg}
	fmt.Fprintf(cfg.out, "Airlock demo: starting source cluster, proxies, toxiproxy, target cluster (mTLS to brokers, TLS+SASL at the proxies)\n")
	d.tb, err = testbed.New(ctx, testbed.Options{
		Name:   "demo",
		Logger: cfg.log,
		Topology: &testbed.Topology{
			Source: &testbed.ClusterSpec{Version: cfg.version, SeedTopics: []string{Topic + ":3"}},
			Target: &testbed.ClusterSpec{Version: cfg.version},
		},
	})
	if err != nil {
		return fmt.Errorf("start topology: %w", err)
	}
	defer func() {
		if cfg.keep {
			kerr := d.printKeep(context.WithoutCancel(ctx))
			err = errors.Join(err, kerr)
			return
		}
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		fmt.Fprintf(cfg.out, "\ntearing down run %s\n", d.tb.RunID())
		err = errors.Join(err, d.tb.Terminate(tctx))
	}()
	return d.run(ctx)
}

func (d *demo) run(ctx context.Context) error {
	out := d.cfg.out
	var err error
	d.bridge, err = d.tb.StartBridge(ctx, testbed.BridgeSpec{Name: "demo", Topics: []string{Topic}})
	if err != nil {
		return fmt.Errorf("start bridge: %w", err)
	}
	fmt.Fprintf(out, "bridge ready; producing %d events at %.0f/s in transactions (20%% aborted on purpose)\n", d.cfg.events, d.cfg.rate)
	prod, err := d.tb.StartProducer(ctx, testbed.ProducerSpec{
		Name: "producer", Topic: Topic, Events: d.cfg.events, Rate: d.cfg.rate, Keys: 50,
		TransactionalID: "demo-producer", TxnSize: 50, AbortFraction: 0.2,
	})
	if err != nil {
		return fmt.Errorf("start producer: %w", err)
	}
	d.start = time.Now()

	lag, err := d.tb.NewLagMeter(d.bridge, Topic)
	if err != nil {
		return err
	}
	defer lag.Close()
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	var sampler errgroup.Group
	sampler.Go(func() error { d.sample(sctx, lag); return nil })

	if err := d.inject(ctx); err != nil {
		return err
	}
	code, err := prod.Wait(ctx)
	if err != nil {
		return err
	}
	if code != 0 {
		logs, _ := prod.Logs(ctx)
		return fmt.Errorf("%w: producer exited %d:\n%s", ErrWorkload, code, logs)
	}
	fmt.Fprintf(out, "[%s] producer done\n", d.since())
	rep, acked, err := d.verify(ctx, prod)
	stopSampling()
	_ = sampler.Wait()
	if err != nil {
		return err
	}
	d.printReport(rep, acked)
	if err := d.printAddresses(ctx); err != nil {
		return err
	}
	if !rep.OK {
		return ErrNotExactlyOnce
	}
	return nil
}

// since is the time since the producer started, for the timeline.
func (d *demo) since() string { return time.Since(d.start).Round(time.Second).String() }

// sample records the bridge's lag each second and prints it every five.
func (d *demo) sample(ctx context.Context, m *testbed.LagMeter) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l, err := m.Lag(ctx)
		if err != nil {
			continue // a broker restart or toxic: the next sample tells
		}
		for cur := d.maxLag.Load(); l > cur && !d.maxLag.CompareAndSwap(cur, l); cur = d.maxLag.Load() {
		}
		if n%5 == 4 {
			fmt.Fprintf(d.cfg.out, "[%s] bridge lag %d records\n", d.since(), l)
		}
	}
}

// inject runs the fault timeline: latency on every source-side toxiproxy
// proxy, then, once it is gone, a SIGKILL of the bridge and a restart.
func (d *demo) inject(ctx context.Context) error {
	if err := sleep(ctx, d.cfg.faultAfter); err != nil {
		return err
	}
	toxi := d.tb.Toxiproxy()
	src := d.tb.Side(testbed.Source)
	var proxies []*toxiproxy.Proxy
	for _, name := range src.ToxiproxyNames() {
		p, err := toxi.Client.Proxy(name)
		if err != nil {
			return fmt.Errorf("toxiproxy proxy %s: %w", name, err)
		}
		ms := int(d.cfg.latency / time.Millisecond)
		// Toxicity 1: the client sends 0 as written, which never fires.
		if _, err := p.AddToxic(toxicName, "latency", "downstream", 1, toxiproxy.Attributes{"latency": ms, "jitter": ms / 4}); err != nil {
			return fmt.Errorf("add latency toxic to %s: %w", name, err)
		}
		proxies = append(proxies, p)
	}
	d.note("latency %s (±25%%) on the source side (toxiproxy -> source proxy) for %s", d.cfg.latency, d.cfg.faultFor)
	if err := sleep(ctx, d.cfg.faultFor); err != nil {
		return err
	}
	for _, p := range proxies {
		if err := p.RemoveToxic(toxicName); err != nil {
			return fmt.Errorf("remove latency toxic from %s: %w", p.Name, err)
		}
	}
	d.note("latency removed")
	if err := sleep(ctx, 5*time.Second); err != nil {
		return err
	}
	t := time.Now()
	d.note("kill -9 the bridge (its open transaction is left to the target to abort)")
	if err := d.bridge.KillAndRestart(ctx); err != nil {
		return fmt.Errorf("bridge restart: %w", err)
	}
	d.note("bridge restarted, ready after %s", time.Since(t).Round(100*time.Millisecond))
	return nil
}

// note prints a fault event and keeps it for the report.
func (d *demo) note(format string, args ...any) {
	line := fmt.Sprintf("[%s] ", d.since()) + fmt.Sprintf(format, args...)
	d.faults = append(d.faults, line)
	fmt.Fprintln(d.cfg.out, line)
}

// verify runs the consumer on the target against the producer's ledger.
func (d *demo) verify(ctx context.Context, prod *testbed.Container) (consumer.Report, int, error) {
	fmt.Fprintf(d.cfg.out, "[%s] consumer reads %s on the target and checks it against the producer's ledger\n", d.since(), d.bridge.TargetTopic(Topic))
	v, err := d.tb.VerifyProducer(ctx, prod, d.bridge.TargetTopic(Topic), 30*time.Second)
	if err != nil {
		return consumer.Report{}, 0, fmt.Errorf("%w: consumer: %w", ErrWorkload, err)
	}
	return v.Report, int(v.Acked), nil
}

// printReport prints the verification table.
func (d *demo) printReport(rep consumer.Report, acked int) {
	s := rep.Stats
	w := tabwriter.NewWriter(d.cfg.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(d.cfg.out, "\nVERIFICATION (source %s -> target %s)\n", Topic, d.bridge.TargetTopic(Topic))
	for _, row := range []struct {
		name string
		v    int64
		note string
	}{
		{"produced", int64(s.LedgerEvents), "events the producer tried"},
		{"acked", int64(s.Acked), "in committed transactions"},
		{"aborted", int64(s.Aborted), "in aborted transactions: must not be delivered"},
		{"delivered", int64(s.Records), "records read_committed on the target"},
		{"lost", int64(rep.Class(consumer.ClassLost).Count), "acked, never delivered"},
		{"duplicated", int64(rep.Class(consumer.ClassDuplicate).Count), "delivered more than once"},
		{"max lag", d.maxLag.Load(), "records the bridge was behind the source, sampled each second"},
	} {
		fmt.Fprintf(w, "  %s\t%d\t  %s\n", row.name, row.v, row.note)
	}
	_ = w.Flush()
	others := rep.Violations() - rep.Class(consumer.ClassLost).Count - rep.Class(consumer.ClassDuplicate).Count
	verdict := "PASS: exactly once"
	switch {
	case !rep.OK:
		verdict = fmt.Sprintf("FAIL: %d violations (%d of other classes), %d errors", rep.Violations(), others, len(rep.Errors))
	case s.AckedSeen != acked || s.Records != acked:
		verdict = "FAIL: delivered differs from acked"
	}
	fmt.Fprintf(d.cfg.out, "  result: %s\n", verdict)
	for _, c := range rep.Classes {
		if c.Count > 0 {
			fmt.Fprintf(d.cfg.out, "  %s: %d, e.g. %+v\n", c.Class, c.Count, c.Examples)
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(d.cfg.out, "  error: %s\n", e)
	}
}

// printAddresses asks both sides for metadata from the bridge zone, as the
// bridge does, and prints every broker address handed out.
func (d *demo) printAddresses(ctx context.Context) error {
	src, dst, secrets := d.tb.Side(testbed.Source), d.tb.Side(testbed.Target), d.tb.Secrets()
	run, err := d.tb.Probe(ctx, testbed.ProbeOptions{
		Zones: []testbed.Zone{testbed.Bridge}, Mode: probe.Metadata,
		Args: secrets.ClientArgs(""), Files: secrets.ClientFiles(),
	}, src.Bootstrap(), dst.Bootstrap())
	if err != nil {
		return fmt.Errorf("metadata probe: %w", err)
	}
	fmt.Fprintf(d.cfg.out, "\nADDRESSES THE BRIDGE ZONE IS HANDED (metadata probe from the bridge network, TLS+SASL)\n")
	w := tabwriter.NewWriter(d.cfg.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "  bootstrap\tresponse\tnode\taddress\treachable\n")
	for _, r := range run.Results {
		if !r.OK {
			fmt.Fprintf(w, "  %s\t-\t-\t-\t%s\n", r.Target, r.Error)
		}
		for _, e := range r.Endpoints {
			reach := "yes"
			if !e.Reachable {
				reach = "no: " + e.Error
			}
			fmt.Fprintf(w, "  %s\t%s\t%d\t%s\t%s\n", r.Target, e.API, e.NodeID, e.Addr, reach)
		}
	}
	return w.Flush()
}

// printKeep prints how to reach the running topology and how to remove it.
func (d *demo) printKeep(ctx context.Context) error {
	out := d.cfg.out
	fmt.Fprintf(out, "\nKEEP=1: the topology stays up (run %s)\n", d.tb.RunID())
	for _, z := range []testbed.Zone{testbed.Source, testbed.Target} {
		side := d.tb.Side(z)
		fmt.Fprintf(out, "  %s proxy metrics:  %s\n", z, side.MetricsURL())
		for i := range side.Nodes() {
			addr, err := d.tb.Toxiproxy().HostAddr(ctx, strconv.Itoa(side.Port(i)))
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "  %s node %d via toxiproxy: %s (advertised as %s; TLS with CA %s, SASL %s / %s)\n",
				z, i, addr, side.BridgeAddrs()[i], filepath.Join(d.tb.Secrets().Dir, "ca.crt"), d.tb.Secrets().User, d.tb.Secrets().Password)
		}
	}
	if u, err := d.bridge.URL(ctx); err == nil {
		fmt.Fprintf(out, "  bridge metrics:        %s/metrics\n", u)
	}
	fmt.Fprintf(out, "  toxiproxy API:         %s\n", d.tb.Toxiproxy().APIURL())
	fmt.Fprintf(out, "tear down: bin/airlock-demo --down %s && rm -rf %s\n", d.tb.RunID(), d.tb.Secrets().Dir)
	return nil
}

// Down removes every container, network and volume of a kept demo run.
func Down(ctx context.Context, run string, out io.Writer) error {
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer func() { _ = docker.Close() }()
	left, err := testbed.Leftovers(ctx, docker, run)
	if err != nil {
		return err
	}
	if err := testbed.RemoveRun(ctx, docker, run); err != nil {
		return err
	}
	fmt.Fprintf(out, "removed %d resources of run %s\n", len(left), run)
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
