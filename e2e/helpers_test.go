package e2e

import (
	"context"
	"net"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL is meant to be dot-imported
	. "github.com/onsi/gomega"    //nolint:revive // likewise
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/testbed"
)

func itoa(n int) string { return strconv.Itoa(n) }

// hostClient returns a franz-go client for the test process that reaches b
// through its published ports; it is closed after the current node.
func hostClient(b *testbed.Broker, opts ...kgo.Opt) *kgo.Client {
	GinkgoHelper()
	base := append(b.KgoOpts(), kgo.RetryTimeout(30*time.Second), kgo.MetadataMinAge(100*time.Millisecond))
	cl, err := kgo.NewClient(append(base, opts...)...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(cl.Close)
	return cl
}

// advertised returns the host:port of every broker in metadata.
func advertised(ctx context.Context, cl *kgo.Client) []string {
	GinkgoHelper()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	Expect(err).NotTo(HaveOccurred())
	out := make([]string, 0, len(md.Brokers))
	for _, b := range md.Brokers {
		out = append(out, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
	}
	return out
}
