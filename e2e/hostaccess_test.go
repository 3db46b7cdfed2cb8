package e2e

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL is meant to be dot-imported
	. "github.com/onsi/gomega"    //nolint:revive // likewise
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/testbed"
)

var _ = Describe("A test broker on the source network", Label("e2e"), Ordered, func() {
	const topic = "orders"
	var (
		tb     *testbed.Testbed
		broker *testbed.Broker
	)
	BeforeAll(func(ctx SpecContext) {
		skipWithRealKafka("two nodes and the test broker's admin API")
		tb = startTestbed(ctx, "access", testbed.BrokerSpec{
			Zone: testbed.Source, Nodes: 2, SeedTopics: []string{topic + ":3"},
		})
		broker = tb.Broker("source-kafka")
		Expect(broker).NotTo(BeNil())
	}, NodeTimeout(3*time.Minute))
	AfterEach(func(ctx SpecContext) { collectLogsOnFailure(ctx, tb) }, NodeTimeout(time.Minute))

	It("advertises its network alias, which only the host dialer maps to published ports", func(ctx SpecContext) {
		Expect(advertised(ctx, hostClient(broker))).To(ConsistOf("source-kafka:9092", "source-kafka:9093"))

		// Without the mapping the advertised name means nothing on the host.
		plain, err := kgo.NewClient(kgo.SeedBrokers(broker.Addrs()...), kgo.DialTimeout(2*time.Second), kgo.RequestRetries(0))
		Expect(err).NotTo(HaveOccurred())
		defer plain.Close()
		Expect(plain.Ping(ctx)).NotTo(Succeed())
	}, SpecTimeout(time.Minute))

	It("takes records from the host and gives them back, through the mapped ports", func(ctx SpecContext) {
		const n = 200
		p := hostClient(broker)
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i % 7)), Value: []byte("v" + strconv.Itoa(i))}
		}
		Expect(p.ProduceSync(ctx, recs...).FirstErr()).To(Succeed())

		c := hostClient(broker, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		seen := map[string]bool{}
		for len(seen) < n {
			fs := c.PollFetches(ctx)
			Expect(ctx.Err()).NotTo(HaveOccurred(), "consumed %d of %d", len(seen), n)
			Expect(fs.Errors()).To(BeEmpty())
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
		}
		for i := range n {
			Expect(seen).To(HaveKey("v" + strconv.Itoa(i)))
		}
	}, SpecTimeout(2*time.Minute))

	It("moves a partition leader through the admin API, and clients follow", func(ctx SpecContext) {
		st, err := broker.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		from := st.Leader(topic, 0)
		Expect(from).To(BeElementOf(int32(0), int32(1)))
		to := 1 - from
		Expect(broker.MoveLeader(ctx, topic, 0, to)).To(Succeed())

		st, err = broker.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Leader(topic, 0)).To(Equal(to))

		adm := kadm.NewClient(hostClient(broker))
		md, err := adm.Metadata(ctx, topic)
		Expect(err).NotTo(HaveOccurred())
		Expect(md.Topics[topic].Partitions[0].Leader).To(Equal(to))

		p := hostClient(broker, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		r := &kgo.Record{Topic: topic, Partition: 0, Value: []byte("after-move")}
		Expect(p.ProduceSync(ctx, r).FirstErr()).To(Succeed())
	}, SpecTimeout(time.Minute))
})
