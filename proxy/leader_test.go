package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// collector is a consumer running in the background that remembers every value it
// polled, so phases of a test can wait for "everything produced so far".
type collector struct {
	mu    sync.Mutex
	seen  map[string]int
	errs  []error
	total int
}

func (co *collector) run(ctx context.Context, cl *kgo.Client) {
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		co.mu.Lock()
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				co.errs = append(co.errs, fmt.Errorf("fetch %s/%d: %w", topic, p, err))
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			co.seen[string(r.Value)]++
			co.total++
		})
		co.mu.Unlock()
	}
}

// missing returns how many of want were not polled yet.
func (co *collector) missing(want []string) int {
	co.mu.Lock()
	defer co.mu.Unlock()
	n := 0
	for _, v := range want {
		if co.seen[v] == 0 {
			n++
		}
	}
	return n
}

// TestClientFollowsLeaderMovesAndNewBroker moves partition leaders around under a
// producing and consuming client, then adds a broker and moves everything to it:
// the proxy must open a listener for the new broker (learned from a Metadata or a
// KIP-951 Produce/Fetch response) and no upstream address may ever reach a client.
func TestClientFollowsLeaderMovesAndNewBroker(t *testing.T) {
	const (
		topic      = "moving"
		group      = "moving-g"
		partitions = 6
		batch      = 30
	)
	c := newCluster(t, kfake.SeedTopics(partitions, topic))
	tp := startProxy(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	rec := &recorder{}
	fast := kgo.MetadataMinAge(50 * time.Millisecond) // follow moves without the 5 s default wait
	prod := tp.client(t, rec, fast, kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(0))
	cons := tp.client(t, rec, fast, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))

	co := &collector{seen: map[string]int{}}
	consCtx, stopCons := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); co.run(consCtx, cons) }()
	defer func() { stopCons(); wg.Wait() }()

	var produced []string
	// round produces one batch over every partition and waits until the consumer
	// has polled everything produced so far.
	round := func(name string) {
		t.Helper()
		recs := make([]*kgo.Record, batch)
		for i := range recs {
			v := name + "-" + strconv.Itoa(i)
			recs[i] = &kgo.Record{Value: []byte(v)}
			produced = append(produced, v)
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", name, err)
		}
		eventually(t, 15*time.Second, name+": consumer caught up", func() bool { return co.missing(produced) == 0 })
	}

	round("start")
	nodes := []int32{0, 1, 2}
	for i := range 3 {
		for p := range int32(partitions) {
			to := nodes[(int(p)+i+1)%len(nodes)]
			if err := c.MoveTopicPartition(topic, p, to); err != nil {
				t.Fatalf("move %s/%d to %d: %v", topic, p, to, err)
			}
		}
		round("move" + strconv.Itoa(i))
	}
	for i := range 2 {
		c.ShufflePartitionLeaders()
		round("shuffle" + strconv.Itoa(i))
	}

	listenersBefore := len(tp.Addrs())
	id, port, err := c.AddNode(-1, 0)
	if err != nil {
		t.Fatalf("add node: %v", err)
	}
	newUp := joinHostPort(upstreamHost, int32(port))
	for p := range int32(partitions) {
		if err := c.MoveTopicPartition(topic, p, id); err != nil {
			t.Fatalf("move %s/%d to new node %d: %v", topic, p, id, err)
		}
	}
	round("newnode")

	addrs := tp.Addrs()
	if _, ok := addrs[newUp]; !ok {
		t.Fatalf("no listener for the new broker %d at %s: %v", id, newUp, addrs)
	}
	if len(addrs) != listenersBefore+1 {
		t.Errorf("want %d listeners after adding one broker, got %v", listenersBefore+1, addrs)
	}
	for p := range int32(partitions) {
		if l := c.LeaderFor(topic, p); l != id {
			t.Fatalf("partition %d led by %d, want the new node %d", p, l, id)
		}
	}
	// The client followed: it produced and fetched through the new listener.
	for _, key := range []string{"0", "1"} {
		if got := labeledMetric(t, tp, "proxy_requests_total", map[string]string{"broker": newUp, "api_key": key}); got < 1 {
			t.Errorf("no request with API key %s went to the new broker through the proxy", key)
		}
	}
	if got := labeledMetric(t, tp, "proxy_errors_total", map[string]string{"reason": "unmapped_broker"}); got != 0 {
		t.Errorf("%v responses refused for an unmapped broker", got)
	}

	stopCons()
	wg.Wait()
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, err := range co.errs {
		// kfake answers OffsetForLeaderEpoch after a move so that franz-go resets to
		// the start and reports data loss; it does the same without a proxy.
		var loss *kgo.ErrDataLoss
		if errors.As(err, &loss) {
			t.Logf("kfake artifact, also seen without the proxy: %v", err)
			continue
		}
		t.Errorf("consumer error: %v", err)
	}
	// After a move the old leader answers NOT_LEADER with the new leader's endpoint
	// (KIP-951), which the proxy must rewrite too.
	for _, key := range []int16{0, 1, 3} {
		if got := labeledMetric(t, tp, "proxy_rewritten_responses_total", map[string]string{"api_key": itoa(key)}); got < 1 {
			t.Errorf("no %s response was rewritten", keyName(key))
		}
	}
	if co.total > len(produced) {
		t.Logf("%d records polled twice (re-reads after resets and rebalances; at-least-once)", co.total-len(produced))
	}
	if a := rec.leaked(c.ListenAddrs()); a != "" {
		t.Fatalf("a response carried the upstream address %s (upstreams incl. the new node: %v)", a, c.ListenAddrs())
	}
	if !slices.Contains(c.ListenAddrs(), newUp) {
		t.Fatalf("cluster does not list the new node %s: %v", newUp, c.ListenAddrs())
	}
}

// freePortRange returns a port p such that p..p+n-1 are free on proxyHost right now,
// for tests of sequential and node-id listener ports.
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", proxyHost+":0")
		if err != nil {
			t.Fatal(err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if base+n > 65535 {
			continue
		}
		ok := true
		var held []net.Listener
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", joinHostPort(proxyHost, int32(p)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			_ = l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no range of %d free ports on %s", n, proxyHost)
	return 0
}

// TestNewBrokerListenerPorts adds a broker after start under each dynamic port
// policy: its listener must take the port the policy promises, and a client must
// reach the partitions moved to it.
func TestNewBrokerListenerPorts(t *testing.T) {
	cases := []struct {
		name string
		opts func(min int) []Opt
		// port returns the expected listener port of node id, given min; -1: any.
		port func(min int, id int32) int
	}{
		{"random", func(int) []Opt { return nil }, func(int, int32) int { return -1 }},
		// Nodes 1 and 2 take min and min+1 when the first Metadata names them.
		{"sequential", func(min int) []Opt { return []Opt{DynamicSequentialMinPort(min)} },
			func(min int, _ int32) int { return min + 2 }},
		{"node id", func(min int) []Opt { return []Opt{DynamicSequentialMinPort(min), DynamicNodeIDPorts()} },
			func(min int, id int32) int { return min + int(id) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const topic = "grow"
			c := newCluster(t, kfake.SeedTopics(2, topic))
			min := freePortRange(t, 5)
			tp := startProxy(t, c, tc.opts(min)...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			rec := &recorder{}
			cl := tp.client(t, rec, kgo.MetadataMinAge(50*time.Millisecond), kgo.DefaultProduceTopic(topic))
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
				t.Fatalf("produce before adding a node: %v", err)
			}
			id, port, err := c.AddNode(-1, 0)
			if err != nil {
				t.Fatal(err)
			}
			newUp := joinHostPort(upstreamHost, int32(port))
			for p := range int32(2) {
				if err := c.MoveTopicPartition(topic, p, id); err != nil {
					t.Fatal(err)
				}
			}
			for p := range int32(2) {
				r := &kgo.Record{Value: []byte("after"), Partition: p}
				if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatalf("produce to partition %d on the new node: %v", p, err)
				}
			}
			ln, ok := tp.Addrs()[newUp]
			if !ok {
				t.Fatalf("no listener for new node %d at %s: %v", id, newUp, tp.Addrs())
			}
			_, got, err := splitHostPort(ln)
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.port(min, id); want >= 0 && int(got) != want {
				t.Errorf("new node %d listens on port %d, want %d (min %d)", id, got, want, min)
			}
			if got := labeledMetric(t, tp, "proxy_requests_total", map[string]string{"broker": newUp, "api_key": "0"}); got < 1 {
				t.Error("no produce reached the new node through its listener")
			}
			if a := rec.leaked(c.ListenAddrs()); a != "" {
				t.Fatalf("a response carried the upstream address %s", a)
			}
		})
	}
}
