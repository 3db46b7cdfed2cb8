// Package bridgetest holds what bridge tests and benchmarks share: in-process
// kfake clusters, producers (plain records, and ledgered workload events), a
// whole-topic reader and two verdicts: Verify, a record-by-record comparison
// of a target topic with its source (values, headers, timestamps, order), and
// CheckEvents, the exactly-once checker of package consumer over workload
// events against their producers' ledgers.
package bridgetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// NewCluster starts a one-broker kfake cluster with the given id, closed when
// t ends.
func NewCluster(t testing.TB, id string, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID(id)}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake cluster %s: %v", id, err)
	}
	t.Cleanup(c.Close)
	return c
}

// Client returns a client of c, closed when t ends.
func Client(t testing.TB, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Event returns the value of event i of topic/partition, so a reader can tell
// events apart without a side table.
func Event(topic string, partition int32, i int) []byte {
	return fmt.Appendf(nil, "%s/%d/%06d", topic, partition, i)
}

// Produce writes n events to every partition of topic, each partition in
// order, with a key and a header, and returns them by partition. Records are
// produced synchronously in batches, so offsets and order are known.
func Produce(ctx context.Context, cl *kgo.Client, topic string, partitions int32, n int) (map[int32][]*kgo.Record, error) {
	out := map[int32][]*kgo.Record{}
	const chunk = 500
	for start := 0; start < n; start += chunk {
		var rs []*kgo.Record
		for p := range partitions {
			for i := start; i < min(start+chunk, n); i++ {
				rs = append(rs, &kgo.Record{
					Topic:     topic,
					Partition: p,
					Key:       fmt.Appendf(nil, "k%d", i),
					Value:     Event(topic, p, i),
					Headers:   []kgo.RecordHeader{{Key: "seq", Value: fmt.Appendf(nil, "%d", i)}},
				})
			}
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			return nil, fmt.Errorf("produce to %s: %w", topic, err)
		}
		for _, r := range rs {
			out[r.Partition] = append(out[r.Partition], r)
		}
	}
	return out, nil
}

// Records are a topic's records by partition, in offset order.
type Records map[int32][]*kgo.Record

// ReadAll reads topics from the start, read_committed, up to their last
// stable offsets as of the call, and returns the data records by topic and
// partition. Control records are read too (and dropped), so a partition
// ending in a transaction marker is known to be complete without waiting
// for silence.
func ReadAll(ctx context.Context, addrs []string, maxWait time.Duration, topics ...string) (map[string]Records, error) {
	ctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return nil, fmt.Errorf("reader: %w", err)
	}
	ends, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, topics...)
	adm.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %v: %w", topics, err)
	}
	out := map[string]Records{}
	start := map[string]map[int32]kgo.Offset{}
	type tp struct {
		t string
		p int32
	}
	left := map[tp]int64{} // partitions not read to their end yet
	for _, t := range topics {
		out[t] = Records{}
		start[t] = map[int32]kgo.Offset{}
	}
	ends.Each(func(o kadm.ListedOffset) {
		start[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		if o.Offset > 0 {
			left[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	if len(left) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addrs...),
		kgo.ConsumePartitions(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("reader: %w", err)
	}
	defer cl.Close()
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read %v: %d partitions not read to their end: %w", topics, len(left), ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := tp{r.Topic, r.Partition}
			if end, ok := left[k]; ok && r.Offset+1 >= end {
				delete(left, k)
			}
			if !r.Attrs.IsControl() {
				out[r.Topic][r.Partition] = append(out[r.Topic][r.Partition], r)
			}
		})
	}
	return out, nil
}

// Count returns the number of records in rs.
func (rs Records) Count() int {
	n := 0
	for _, p := range rs {
		n += len(p)
	}
	return n
}

// Sorted returns the partitions of rs in order.
func (rs Records) Sorted() []int32 {
	var ps []int32
	for p := range rs {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}
