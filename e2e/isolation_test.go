package e2e

import (
	"net"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL is meant to be dot-imported
	. "github.com/onsi/gomega"    //nolint:revive // likewise

	"github.com/airlock-kafka/airlock/internal/testbed"
	"github.com/airlock-kafka/airlock/internal/testbed/probe"
)

var _ = Describe("Network isolation between source and target", Label("e2e"), Ordered, func() {
	var (
		tb             *testbed.Testbed
		source, target *testbed.Broker
	)
	BeforeAll(func(ctx SpecContext) {
		tb = startTestbed(ctx, "isolation",
			testbed.BrokerSpec{Zone: testbed.Source},
			testbed.BrokerSpec{Zone: testbed.Target},
		)
		source, target = tb.Broker("source-kafka"), tb.Broker("target-kafka")
		Expect(source).NotTo(BeNil())
		Expect(target).NotTo(BeNil())
	}, NodeTimeout(3*time.Minute))
	AfterEach(func(ctx SpecContext) { collectLogsOnFailure(ctx, tb) }, NodeTimeout(time.Minute))

	// targetAddrs is every way to name the target broker's Kafka port: its alias
	// and its address on each network it joined.
	targetAddrs := func(ctx SpecContext) []string {
		eps, err := target.Endpoints(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(eps).To(HaveLen(2), "target broker joins the target network and its access network")
		out := []string{target.Addrs()[0]}
		for _, ep := range eps {
			out = append(out, net.JoinHostPort(ep.IP, "9092"))
		}
		return out
	}

	It("lets a container on the source network use the source broker", func(ctx SpecContext) {
		run, err := tb.Probe(ctx, testbed.ProbeOptions{Zones: []testbed.Zone{testbed.Source}, Mode: probe.Kafka}, source.Addrs()[0])
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Print(run.Logs)
		Expect(run.ExitCode).To(Equal(0), run.Logs)
		Expect(run.Results[0].OK).To(BeTrue(), run.Logs)
	}, SpecTimeout(2*time.Minute))

	It("keeps a container on the source network from the target broker, by name and by address", func(ctx SpecContext) {
		blocked := targetAddrs(ctx)
		// The source broker is the control: the probe's network works.
		run, err := tb.Probe(ctx, testbed.ProbeOptions{Zones: []testbed.Zone{testbed.Source}, Timeout: 2 * time.Second},
			append([]string{source.Addrs()[0]}, blocked...)...)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Print(run.Logs)
		Expect(run.ExitCode).To(Equal(1), run.Logs)
		ctl, _ := run.Result(source.Addrs()[0])
		Expect(ctl.OK).To(BeTrue(), run.Logs)
		for _, a := range blocked {
			r, ok := run.Result(a)
			Expect(ok).To(BeTrue(), run.Logs)
			Expect(r.OK).To(BeFalse(), "source reached the target broker at %s:\n%s", a, run.Logs)
		}
		// Failing at the lookup: the alias is unknown on source (docker's DNS
		// forwards unknown names upstream, which times out on an internal network).
		name, _ := run.Result(target.Addrs()[0])
		Expect(name.Error).To(ContainSubstring("lookup "+target.Spec.Name), "the target alias must not even resolve on source")
	}, SpecTimeout(2*time.Minute))

	It("does not join the zones through the access networks or the host's published ports", func(ctx SpecContext) {
		access := tb.AccessNetwork(testbed.Source)
		Expect(access).NotTo(BeEmpty())
		srcEPs, err := source.Endpoints(ctx)
		Expect(err).NotTo(HaveOccurred())
		srcOnAccess := srcEPs[access]
		Expect(srcOnAccess.IP).NotTo(BeEmpty())
		Expect(srcOnAccess.Gateway).NotTo(BeEmpty(), "an access network routes to the host")

		// The target's published port, tried through the host's address on the
		// source access network: published on 127.0.0.1 only, so it must fail.
		hostAddr, err := target.HostAddr(ctx, "9092")
		Expect(err).NotTo(HaveOccurred())
		_, mapped, _ := net.SplitHostPort(hostAddr)
		viaHost := net.JoinHostPort(srcOnAccess.Gateway, mapped)

		control := net.JoinHostPort(srcOnAccess.IP, "9092")
		blocked := append(targetAddrs(ctx), viaHost)
		run, err := tb.Probe(ctx, testbed.ProbeOptions{Networks: []string{access}, Timeout: 2 * time.Second},
			append([]string{control}, blocked...)...)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Print(run.Logs)
		Expect(run.ExitCode).To(Equal(1), run.Logs)
		ctl, _ := run.Result(control)
		Expect(ctl.OK).To(BeTrue(), run.Logs)
		for _, a := range blocked {
			r, _ := run.Result(a)
			Expect(r.OK).To(BeFalse(), "the source access network reached the target at %s:\n%s", a, run.Logs)
		}
		Expect(strings.Count(run.Logs, `"ok":true`)).To(Equal(1), run.Logs)
	}, SpecTimeout(2*time.Minute))

	It("partitions the source broker from its zone and heals it", func(ctx SpecContext) {
		probeSource := func() testbed.ProbeRun {
			GinkgoHelper()
			run, err := tb.Probe(ctx, testbed.ProbeOptions{Zones: []testbed.Zone{testbed.Source}, Mode: probe.Kafka, Timeout: 2 * time.Second}, source.Addrs()[0])
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Print(run.Logs)
			return run
		}
		Expect(tb.Disconnect(ctx, source.Container, testbed.Source)).To(Succeed())
		Expect(probeSource().ExitCode).To(Equal(1), "the partitioned broker still answers on source")

		// The access network stays: the test process still reaches the broker.
		if kafkaImage() == "" {
			_, err := source.State(ctx)
			Expect(err).NotTo(HaveOccurred())
		}

		Expect(tb.Connect(ctx, source.Container, testbed.Source)).To(Succeed())
		run := probeSource()
		Expect(run.ExitCode).To(Equal(0), run.Logs)
	}, SpecTimeout(2*time.Minute))
})
