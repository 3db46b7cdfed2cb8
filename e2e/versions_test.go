package e2e

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL is meant to be dot-imported

	"github.com/airlock-kafka/airlock/internal/testbed"
)

// kafkaVersions are the releases the address spec runs against, emulated by
// the test broker; DescribeCluster exists from 2.8 (KIP-700).
var kafkaVersions = []struct {
	version         string
	describeCluster bool
}{
	{"0.11", false},
	{"2.0", false},
	{"2.8", true},
	{"3.5", true},
	{"3.9", true},
	{"4.0", true},
	{"4.2", true},
}

var _ = Describe("Rewritten addresses by Kafka version", Label("e2e", "addresses"), func() {
	for _, kv := range kafkaVersions {
		Describe("Kafka "+kv.version, Label("kafka:"+kv.version), Ordered, func() {
			var tb *testbed.Testbed
			BeforeAll(func(ctx SpecContext) {
				skipWithRealKafka("version emulation")
				// Two nodes: node 1 is served by a dynamic listener.
				tb = startTopology(ctx, "v"+strings.ReplaceAll(kv.version, ".", "-"), testbed.Topology{
					Source: &testbed.ClusterSpec{Nodes: 2, Version: kv.version},
				})
			}, NodeTimeout(3*time.Minute))
			AfterEach(func(ctx SpecContext) { collectLogsOnFailure(ctx, tb) }, NodeTimeout(time.Minute))

			It("hands a bridge-zone client only toxiproxy addresses", func(ctx SpecContext) {
				side := tb.Side(testbed.Source)
				before := scrapeSides(ctx, side)
				run := probeMetadata(ctx, tb, side)
				res, _ := run.Result(side.Bootstrap())
				expectOnlyBridgeAddrs(ctx, side, res, kv.describeCluster)
				expectRewrites(ctx, before, side)
			}, SpecTimeout(2*time.Minute))
		})
	}
})
