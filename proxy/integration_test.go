package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// exercise runs produce, consume, a consumer group and admin calls through the
// proxy and checks that no upstream address reached the client.
func exercise(t *testing.T, c *kfake.Cluster, tp *testProxy, groups bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec := &recorder{}
	topic := "t-" + strings.ReplaceAll(t.Name(), "/", "-")

	adm := kadm.NewClient(tp.client(t, rec))
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if len(meta.Brokers) != 3 {
		t.Fatalf("want 3 brokers, got %v", meta.Brokers)
	}
	for _, b := range meta.Brokers {
		if b.Host != proxyHost {
			t.Errorf("broker %d advertised as %s:%d, want a proxy address on %s", b.NodeID, b.Host, b.Port, proxyHost)
		}
	}

	prod := tp.client(t, rec, kgo.DefaultProduceTopic(topic))
	const n = 300
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 7)), Value: []byte(fmt.Sprintf("v%d", i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	cons := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if groups {
		cons = append(cons, kgo.ConsumerGroup("g-"+topic))
	}
	cl := tp.client(t, rec, cons...)
	seen := 0
	for seen < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", seen, n, err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		seen += fs.NumRecords()
	}
	if groups {
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
		dg, err := adm.DescribeGroups(ctx, "g-"+topic)
		if err != nil || dg.Error() != nil {
			t.Fatalf("describe group: %v %v", err, dg.Error())
		}
	}
	// DescribeCluster exists from Kafka 2.8; older brokers do not advertise it.
	if resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, prod); err == nil {
		for _, b := range resp.Brokers {
			if b.Host != proxyHost {
				t.Errorf("DescribeCluster broker %d at %s:%d, want %s", b.NodeID, b.Host, b.Port, proxyHost)
			}
		}
	} else if !errors.Is(err, kerr.UnsupportedVersion) && !strings.Contains(err.Error(), "too old") {
		t.Errorf("describe cluster: %v", err)
	}
	if rec.len() == 0 {
		t.Fatal("recorder saw nothing")
	}
	if a := rec.leaked(c.ListenAddrs()); a != "" {
		t.Fatalf("a response carried the upstream address %s", a)
	}
}

func TestIntegrationThreeBrokers(t *testing.T) {
	c := newCluster(t)
	tp := startProxy(t, c)
	exercise(t, c, tp, true)
	if got := len(tp.Addrs()); got != 3 {
		t.Fatalf("want 3 listeners (1 bootstrap + 2 dynamic), got %d: %v", got, tp.Addrs())
	}
}

func TestIntegrationKafkaVersions(t *testing.T) {
	versions := []struct {
		name string
		v    *kversion.Versions
	}{
		{"0.11", kversion.V0_11_0()}, {"1.1", kversion.V1_1_0()}, {"2.0", kversion.V2_0_0()},
		{"2.4", kversion.V2_4_0()}, {"2.8", kversion.V2_8_0()}, {"3.0", kversion.V3_0_0()},
		{"3.5", kversion.V3_5_0()}, {"3.9", kversion.V3_9_0()}, {"4.0", kversion.V4_0_0()},
		{"4.2", kversion.V4_2_0()},
	}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			c := newCluster(t, kfake.MaxVersions(v.v))
			tp := startProxy(t, c)
			exercise(t, c, tp, true)
		})
	}
}
