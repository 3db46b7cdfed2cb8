package e2e

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL is meant to be dot-imported
	. "github.com/onsi/gomega"    //nolint:revive // likewise
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/testbed"
)

var _ = Describe("A source broker restart behind the proxy", Label("e2e", "restart"), Ordered, func() {
	const topic = "orders"
	var tb *testbed.Testbed
	BeforeAll(func(ctx SpecContext) {
		tb = startTopology(ctx, "restart", testbed.Topology{
			Source: &testbed.ClusterSpec{Nodes: 1, Persistent: true, SeedTopics: []string{topic + ":3"}},
		})
	}, NodeTimeout(3*time.Minute))
	AfterEach(func(ctx SpecContext) { collectLogsOnFailure(ctx, tb) }, NodeTimeout(time.Minute))

	It("keeps its records, and clients of the proxy carry on", func(ctx SpecContext) {
		const n = 100
		src := tb.Side(testbed.Source)
		produce := func(p *kgo.Client, prefix string) {
			GinkgoHelper()
			recs := make([]*kgo.Record, n)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
			}
			Expect(p.ProduceSync(ctx, recs...).FirstErr()).To(Succeed())
		}
		p := sideClient(src)
		produce(p, "before")
		proxyID := src.Proxy.C.GetContainerID()

		Expect(src.Broker.Restart(ctx)).To(Succeed())

		// The same producer, whose connections through the proxy broke.
		produce(p, "after")
		seen := consumeValues(ctx, sideClient(src, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())), 2*n)
		for i := range n {
			Expect(seen).To(HaveKey(fmt.Sprintf("before-%d", i)), "a record written before the restart is gone")
			Expect(seen).To(HaveKey(fmt.Sprintf("after-%d", i)))
		}
		Expect(seen).To(HaveLen(2*n), "records appeared that nobody wrote")

		// The proxy itself was never restarted, and is ready again.
		Expect(src.Proxy.C.GetContainerID()).To(Equal(proxyID))
		Eventually(src.Proxy.Ready).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		// The broker's own view agrees (through its mapped ports, which changed).
		if kafkaImage() == "" {
			st, err := src.Broker.State(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Topics).To(ContainElement(HaveField("Name", topic)))
		}
	}, SpecTimeout(3*time.Minute))
})
