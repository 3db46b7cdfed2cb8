package e2e

import (
	"context"
	"net"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL is meant to be dot-imported
	. "github.com/onsi/gomega"    //nolint:revive // likewise
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/airlock-kafka/airlock/internal/testbed"
	"github.com/airlock-kafka/airlock/internal/testbed/probe"
)

// Metric names and labels the address specs read from the proxies.
const (
	metricRewritten = "proxy_rewritten_responses_total"
	metricErrors    = "proxy_errors_total"
	reasonUnmapped  = "unmapped_broker"
)

var _ = Describe("Rewritten addresses", Label("e2e", "addresses"), Ordered, func() {
	const topic = "orders"
	var tb *testbed.Testbed
	BeforeAll(func(ctx SpecContext) {
		tb = startTopology(ctx, "addr", testbed.Topology{
			Source: &testbed.ClusterSpec{Nodes: 3, SeedTopics: []string{topic + ":3"}},
			Target: &testbed.ClusterSpec{Nodes: 1},
		})
	}, NodeTimeout(3*time.Minute))
	AfterEach(func(ctx SpecContext) { collectLogsOnFailure(ctx, tb) }, NodeTimeout(time.Minute))

	It("hands a bridge-zone client only toxiproxy addresses, on both sides", func(ctx SpecContext) {
		sides := []*testbed.Side{tb.Side(testbed.Source), tb.Side(testbed.Target)}
		before := scrapeSides(ctx, sides...)
		run := probeMetadata(ctx, tb, sides...)
		for _, side := range sides {
			res, ok := run.Result(side.Bootstrap())
			Expect(ok).To(BeTrue(), run.Logs)
			expectOnlyBridgeAddrs(ctx, side, res, true)
		}
		expectRewrites(ctx, before, sides...)
	}, SpecTimeout(2*time.Minute))

	It("keeps the bridge zone off the brokers themselves", func(ctx SpecContext) {
		src, tgt := tb.Side(testbed.Source), tb.Side(testbed.Target)
		blocked := append(append([]string{}, src.Broker.Addrs()...), tgt.Broker.Addrs()...)
		run, err := tb.Probe(ctx, testbed.ProbeOptions{Zones: []testbed.Zone{testbed.Bridge}, Timeout: 2 * time.Second},
			append([]string{src.Bootstrap(), tgt.Bootstrap()}, blocked...)...)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Print(run.Logs)
		for _, ctl := range []string{src.Bootstrap(), tgt.Bootstrap()} {
			r, _ := run.Result(ctl)
			Expect(r.OK).To(BeTrue(), "toxiproxy %s not reachable from the bridge zone:\n%s", ctl, run.Logs)
		}
		for _, a := range blocked {
			r, _ := run.Result(a)
			Expect(r.OK).To(BeFalse(), "the bridge zone reached broker %s directly:\n%s", a, run.Logs)
		}
	}, SpecTimeout(2*time.Minute))

	It("carries records from the test process through toxiproxy and the proxy, with TLS and SASL", func(ctx SpecContext) {
		const n = 100
		src := tb.Side(testbed.Source)
		p := sideClient(src)
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i % 5)), Value: []byte("v" + strconv.Itoa(i))}
		}
		Expect(p.ProduceSync(ctx, recs...).FirstErr()).To(Succeed())
		Expect(consumeValues(ctx, sideClient(src, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())), n)).
			To(HaveLen(n))
		// Without SASL the proxy lets nothing through.
		opts, err := src.HostDialOpts()
		Expect(err).NotTo(HaveOccurred())
		anon, err := kgo.NewClient(append(opts, kgo.RequestRetries(0), kgo.RetryTimeout(5*time.Second))...)
		Expect(err).NotTo(HaveOccurred())
		defer anon.Close()
		// (Ping would not do: the proxy answers ApiVersions before authentication.)
		_, err = anon.Request(ctx, kmsg.NewPtrMetadataRequest())
		Expect(err).To(HaveOccurred(), "the proxy served a client that did not authenticate")
	}, SpecTimeout(2*time.Minute))
})

// sideClient returns a host-side client of a topology side (through toxiproxy
// and its proxy), closed after the current node.
func sideClient(side *testbed.Side, opts ...kgo.Opt) *kgo.Client {
	GinkgoHelper()
	base, err := side.HostKgoOpts()
	Expect(err).NotTo(HaveOccurred())
	base = append(base, kgo.RetryTimeout(60*time.Second), kgo.MetadataMinAge(250*time.Millisecond))
	cl, err := kgo.NewClient(append(base, opts...)...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(cl.Close)
	return cl
}

// consumeValues polls c until it saw n distinct values (or the spec's context
// ends) and returns them.
func consumeValues(ctx context.Context, c *kgo.Client, n int) map[string]bool {
	GinkgoHelper()
	seen := map[string]bool{}
	for len(seen) < n {
		fs := c.PollFetches(ctx)
		Expect(ctx.Err()).NotTo(HaveOccurred(), "consumed %d of %d", len(seen), n)
		Expect(fs.Errors()).To(BeEmpty())
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	return seen
}

// probeMetadata runs a metadata probe in the bridge zone against each side's
// bootstrap address, with the bridge's TLS and SASL settings.
func probeMetadata(ctx context.Context, tb *testbed.Testbed, sides ...*testbed.Side) testbed.ProbeRun {
	GinkgoHelper()
	s := tb.Secrets()
	targets := make([]string, 0, len(sides))
	for _, side := range sides {
		targets = append(targets, side.Bootstrap())
	}
	run, err := tb.Probe(ctx, testbed.ProbeOptions{
		Zones:   []testbed.Zone{testbed.Bridge},
		Mode:    probe.Metadata,
		Timeout: 10 * time.Second,
		Args:    s.ClientArgs(""),
		Files:   s.ClientFiles(),
	}, targets...)
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Print(run.Logs)
	return run
}

// expectOnlyBridgeAddrs checks a metadata probe of one side: every address
// handed out is one of the side's toxiproxy addresses and answers, node i is
// at node i's address, every node is listed, and the brokers' own names and
// addresses never appear.
func expectOnlyBridgeAddrs(ctx context.Context, side *testbed.Side, res probe.Result, describeCluster bool) {
	GinkgoHelper()
	Expect(res.OK).To(BeTrue(), "metadata probe of %s failed: %s\n%+v", side.Bootstrap(), res.Error, res.Endpoints)
	bridge := side.BridgeAddrs()
	internal := append([]string{}, side.Broker.Addrs()...)
	eps, err := side.Broker.Endpoints(ctx)
	Expect(err).NotTo(HaveOccurred())
	for _, ep := range eps {
		for _, p := range side.Broker.Addrs() {
			_, port, _ := net.SplitHostPort(p)
			internal = append(internal, net.JoinHostPort(ep.IP, port))
		}
	}
	apis := map[string]int{}
	var metadata []string
	for _, ep := range res.Endpoints {
		apis[ep.API]++
		Expect(internal).NotTo(ContainElement(ep.Addr), "%s handed out broker address %s", ep.API, ep.Addr)
		Expect(bridge).To(ContainElement(ep.Addr), "%s handed out %s, not a toxiproxy address", ep.API, ep.Addr)
		Expect(ep.Addr).To(Equal(bridge[ep.NodeID]), "%s: node %d advertised at another node's address", ep.API, ep.NodeID)
		Expect(ep.Reachable).To(BeTrue(), "%s handed out %s, which does not answer: %s", ep.API, ep.Addr, ep.Error)
		if ep.API == "Metadata" {
			metadata = append(metadata, ep.Addr)
		}
	}
	Expect(metadata).To(ConsistOf(bridge), "Metadata must list every node")
	Expect(apis).To(HaveKey("FindCoordinator(group)"))
	if describeCluster {
		Expect(apis).To(HaveKeyWithValue("DescribeCluster", len(bridge)))
	} else {
		Expect(apis).NotTo(HaveKey("DescribeCluster"))
	}
}

// sideMetrics is one scrape of each side's proxy, by zone.
type sideMetrics map[testbed.Zone]testbed.Metrics

func scrapeSides(ctx context.Context, sides ...*testbed.Side) sideMetrics {
	GinkgoHelper()
	out := sideMetrics{}
	for _, side := range sides {
		m, err := side.Proxy.Metrics(ctx)
		Expect(err).NotTo(HaveOccurred())
		out[side.Zone] = m
	}
	return out
}

// expectRewrites checks, against an earlier scrape, that each side's proxy
// rewrote responses and never met a broker it could not map.
func expectRewrites(ctx context.Context, before sideMetrics, sides ...*testbed.Side) {
	GinkgoHelper()
	after := scrapeSides(ctx, sides...)
	for _, side := range sides {
		Expect(after[side.Zone].Sum(metricRewritten, nil)).To(BeNumerically(">", before[side.Zone].Sum(metricRewritten, nil)),
			"%s proxy rewrote no response", side.Zone)
		Expect(after[side.Zone].Samples(metricErrors, map[string]string{"reason": reasonUnmapped})).To(BeEmpty(),
			"%s proxy met unmapped brokers", side.Zone)
	}
}
