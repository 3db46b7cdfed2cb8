package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL is meant to be dot-imported
	. "github.com/onsi/gomega"    //nolint:revive // likewise

	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/testbed"
)

// eosTopic is the source topic the workload specs produce to.
const eosTopic = "events"

// eosTopology is both clusters with the workload topic on the source.
func eosTopology(version string, persistent bool) testbed.Topology {
	return testbed.Topology{
		Source: &testbed.ClusterSpec{Version: version, Persistent: persistent, SeedTopics: []string{eosTopic + ":3"}},
		Target: &testbed.ClusterSpec{Version: version, Persistent: persistent},
	}
}

// eosRun is one exactly-once run: events produced in transactions (a fifth
// aborted on purpose) while the bridge copies them, then checked on the target.
type eosRun struct {
	events int64
	rate   float64
	// during runs while the producer produces (faults).
	during func(ctx context.Context, tb *testbed.Testbed, br *testbed.BridgeInstance)
}

// runEOS runs r in tb and asserts that the target holds exactly the committed
// events, each once, and nothing from an aborted transaction.
func runEOS(ctx context.Context, tb *testbed.Testbed, r eosRun) consumer.Report {
	GinkgoHelper()
	br, err := tb.StartBridge(ctx, testbed.BridgeSpec{Name: "eos", Topics: []string{eosTopic}})
	Expect(err).NotTo(HaveOccurred(), "start bridge")
	prod, err := tb.StartProducer(ctx, testbed.ProducerSpec{
		Topic: eosTopic, Events: r.events, Rate: r.rate, Keys: 50,
		TransactionalID: "eos-producer", TxnSize: 50, AbortFraction: 0.2,
	})
	Expect(err).NotTo(HaveOccurred(), "start producer")
	if r.during != nil {
		r.during(ctx, tb, br)
	}
	code, err := prod.Wait(ctx)
	Expect(err).NotTo(HaveOccurred())
	if code != 0 {
		logs, _ := prod.Logs(ctx)
		Fail("producer exited " + itoa(code) + ":\n" + logs)
	}
	raw, err := prod.CopyOut(ctx, testbed.LedgerPath)
	Expect(err).NotTo(HaveOccurred(), "producer ledger")
	ledger, err := event.ReadLedger("producer", bytes.NewReader(raw))
	Expect(err).NotTo(HaveOccurred())
	Expect(ledger.Entries).To(HaveLen(int(r.events)), "the ledger names every event once")
	acked, aborted := 0, 0
	for _, e := range ledger.Entries {
		switch e.Status {
		case event.StatusAcked:
			acked++
		case event.StatusAborted:
			aborted++
		}
	}
	Expect(aborted).To(BeNumerically(">", 0), "the producer aborted no transaction: the spec would not test aborted reads")
	path := filepath.Join(GinkgoT().TempDir(), "ledger.jsonl")
	Expect(os.WriteFile(path, raw, 0o644)).To(Succeed())

	run, err := tb.RunConsumer(ctx, testbed.ConsumerSpec{
		Topics: []string{br.TargetTopic(eosTopic)}, Ledgers: []string{path}, Expect: int64(acked),
		IdleTimeout: 45 * time.Second,
	})
	Expect(err).NotTo(HaveOccurred(), "consumer")
	AddReportEntry("verification", run.Logs, ReportEntryVisibilityFailureOrVerbose)
	rep := run.Report
	Expect(rep.Errors).To(BeEmpty())
	for _, c := range rep.Classes {
		Expect(c.Count).To(BeZero(), "anomaly %s: %v\n%s", c.Class, c.Examples, run.Logs)
	}
	Expect(rep.OK).To(BeTrue(), run.Logs)
	Expect(run.ExitCode).To(Equal(0), run.Logs)
	s := rep.Stats
	Expect(s.Acked).To(Equal(acked))
	Expect(s.Aborted).To(Equal(aborted))
	Expect(s.AckedSeen).To(Equal(acked), "committed events missing on the target")
	Expect(s.Records).To(Equal(acked), "the target holds other records than the committed events, once each")
	Expect(s.DistinctEvents).To(Equal(acked))
	return rep
}

var _ = Describe("Exactly-once through the proxies and the bridge", Label("e2e", "eos"), Ordered, func() {
	var tb *testbed.Testbed
	BeforeAll(func(ctx SpecContext) {
		tb = startTopology(ctx, "eos", eosTopology("", false))
	}, NodeTimeout(3*time.Minute))
	AfterEach(func(ctx SpecContext) { collectLogsOnFailure(ctx, tb) }, NodeTimeout(time.Minute))

	It("delivers exactly the committed events, none of the aborted ones", func(ctx SpecContext) {
		runEOS(ctx, tb, eosRun{events: 2000, rate: 200})
	}, SpecTimeout(4*time.Minute))
})

// eosVersions are the releases the exactly-once path runs against besides the
// newest (the happy path above), the same list as the address specs:
// transactions work in the test broker from 0.11, KIP-447 (2.5) and KIP-890
// (3.x, 4.x) change what clients send.
var eosVersions = []string{"0.11", "2.0", "2.8", "3.5", "3.9", "4.0", "4.2"}

var _ = Describe("Exactly-once by Kafka version", Label("e2e", "eos"), func() {
	for _, v := range eosVersions {
		Describe("Kafka "+v, Label("kafka:"+v), Ordered, func() {
			var tb *testbed.Testbed
			BeforeAll(func(ctx SpecContext) {
				skipWithRealKafka("version emulation")
				tb = startTopology(ctx, "eos-v"+strings.ReplaceAll(v, ".", "-"), eosTopology(v, false))
			}, NodeTimeout(3*time.Minute))
			AfterEach(func(ctx SpecContext) { collectLogsOnFailure(ctx, tb) }, NodeTimeout(time.Minute))

			It("delivers exactly the committed events", func(ctx SpecContext) {
				runEOS(ctx, tb, eosRun{events: 1000, rate: 200})
			}, SpecTimeout(4*time.Minute))
		})
	}
})

var _ = Describe("Exactly-once across restarts", Label("e2e", "eos", "restart"), Ordered, func() {
	var tb *testbed.Testbed
	BeforeAll(func(ctx SpecContext) {
		skipWithRealKafka("persistent test brokers")
		tb = startTopology(ctx, "eos-restart", eosTopology("", true))
	}, NodeTimeout(3*time.Minute))
	AfterEach(func(ctx SpecContext) { collectLogsOnFailure(ctx, tb) }, NodeTimeout(time.Minute))

	It("survives source and target broker restarts and a bridge kill -9 mid-stream", func(ctx SpecContext) {
		// Each fault waits until the bridge has copied something since the
		// previous one, so every fault hits a stream in motion.
		during := func(ctx context.Context, tb *testbed.Testbed, br *testbed.BridgeInstance) {
			m, err := tb.NewLagMeter(br, eosTopic)
			Expect(err).NotTo(HaveOccurred())
			defer m.Close()
			// progressed waits until the bridge committed more source offsets
			// than before: they survive bridge restarts, unlike its metrics.
			progressed := func() {
				GinkgoHelper()
				var before int64
				Eventually(func() (err error) { before, err = m.Committed(ctx); return err }).
					WithContext(ctx).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
				Eventually(m.Committed).WithContext(ctx).WithTimeout(time.Minute).WithPolling(time.Second).
					Should(BeNumerically(">", before), "the bridge stopped committing")
			}
			progressed()
			By("restarting the source broker")
			Expect(tb.Side(testbed.Source).Broker.Restart(ctx)).To(Succeed())
			progressed()
			By("restarting the target broker")
			Expect(tb.Side(testbed.Target).Broker.Restart(ctx)).To(Succeed())
			progressed()
			By("killing the bridge with SIGKILL and starting it again")
			Expect(br.KillAndRestart(ctx)).To(Succeed())
			progressed()
			lag, err := m.Lag(ctx)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("bridge lag after the faults: %d records\n", lag)
		}
		runEOS(ctx, tb, eosRun{events: 3000, rate: 100, during: during})
	}, SpecTimeout(6*time.Minute))
})
