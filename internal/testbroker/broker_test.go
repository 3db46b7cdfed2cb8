package testbroker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/airlock-kafka/airlock/internal/tlsutil"
)

// testTimeout bounds every client call of a test: generous for a loaded 2-core
// machine, still a bound.
const testTimeout = 30 * time.Second

func newBroker(t *testing.T, opts ...Option) *Broker {
	t.Helper()
	base := []Option{WithListenHost("127.0.0.1"), WithAdvertiseHost("localhost")}
	b, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func newClient(t *testing.T, b *Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(b.Addrs()...),
		kgo.RetryTimeout(testTimeout),
		kgo.MetadataMinAge(50 * time.Millisecond),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// produceConsume writes n records to topic and reads them back from the start.
func produceConsume(t *testing.T, b *Broker, topic string, n int, opts ...kgo.Opt) {
	t.Helper()
	ctx := ctxT(t)
	p := newClient(t, b, opts...)
	for i := range n {
		r := &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i))}
		if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	consumeN(t, b, topic, n, opts...)
}

func consumeN(t *testing.T, b *Broker, topic string, n int, opts ...kgo.Opt) {
	t.Helper()
	ctx := ctxT(t)
	c := newClient(t, b, append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	seen := map[string]bool{}
	for len(seen) < n {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(seen), n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	for i := range n {
		if !seen["v"+strconv.Itoa(i)] {
			t.Errorf("record v%d not consumed", i)
		}
	}
}

func metadataHosts(t *testing.T, cl *kgo.Client) map[int32]string {
	t.Helper()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctxT(t))
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	out := map[int32]string{}
	for _, bd := range m.Brokers {
		out[bd.NodeID] = net.JoinHostPort(bd.Host, strconv.Itoa(int(bd.Port)))
	}
	return out
}

func TestProduceConsumeAdvertisesHost(t *testing.T) {
	b := newBroker(t, WithNodes(2), WithSeedTopics(SeedTopic{"t", 4}))
	produceConsume(t, b, "t", 20)

	hosts := metadataHosts(t, newClient(t, b))
	if len(hosts) != 2 {
		t.Fatalf("metadata lists %d brokers, want 2: %v", len(hosts), hosts)
	}
	for id, addr := range hosts {
		if h, _, _ := net.SplitHostPort(addr); h != "localhost" {
			t.Errorf("node %d advertises %s, want host localhost", id, addr)
		}
		if addr != b.Addrs()[id] {
			t.Errorf("node %d advertises %s, Addrs says %s", id, addr, b.Addrs()[id])
		}
	}
}

// TestAdvertiseUnresolvableHost advertises a name nothing resolves, as a broker in
// a container advertises its network alias, and reaches it through a dialer that
// maps the name, as the testbed's host-side clients do.
func TestAdvertiseUnresolvableHost(t *testing.T) {
	const adv = "source-kafka.invalid"
	b := newBroker(t, WithAdvertiseHost(adv), WithNodes(2), WithSeedTopics(SeedTopic{"t", 2}))
	var mu sync.Mutex
	dialed := map[string]bool{}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if host != adv {
			return nil, fmt.Errorf("dial %s: only %s is expected", addr, adv)
		}
		mu.Lock()
		dialed[addr] = true
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	produceConsume(t, b, "t", 10, kgo.Dialer(dial))
	for _, addr := range b.Addrs() {
		if h, _, _ := net.SplitHostPort(addr); h != adv {
			t.Errorf("Addrs lists %s, want host %s", addr, adv)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) == 0 {
		t.Fatal("the dialer was never used")
	}
}

func TestDefaultAdvertiseHost(t *testing.T) {
	tests := []struct {
		name       string
		listenHost string
		hostname   string
		want       string
	}{
		{"specific listen address", "127.0.0.1", "box", "127.0.0.1"},
		{"wildcard uses the host name", "0.0.0.0", "box", "box"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withHostname := optFunc(func(c *config) { c.hostname = func() (string, error) { return tt.hostname, nil } })
			b, err := New(WithListenHost(tt.listenHost), withHostname, WithPorts(0))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if h, _, _ := net.SplitHostPort(b.Addrs()[0]); h != tt.want {
				t.Errorf("advertises %s, want host %s", b.Addrs()[0], tt.want)
			}
		})
	}
}

func TestAutoCreatedTopicInState(t *testing.T) {
	b := newBroker(t, WithAutoTopicCreation(), WithDefaultPartitions(3))
	cl := newClient(t, b, kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctxT(t), 2, 1, nil, "created"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	st, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]int{}
	for _, ts := range st.Topics {
		parts[ts.Name] = len(ts.Partitions)
	}
	if parts["auto"] != 3 || parts["created"] != 2 {
		t.Errorf("state topics %v, want auto with 3 partitions and created with 2", parts)
	}
}

func TestDataDirRestartKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	b1, err := New(WithListenHost("127.0.0.1"), WithAdvertiseHost("localhost"), WithDataDir(dir), WithSeedTopics(SeedTopic{"kept", 2}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	p := newClient(t, b1)
	for i := range 10 {
		if err := p.ProduceSync(ctx, &kgo.Record{Topic: "kept", Value: []byte("v" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	p.Close()
	b1.Close()

	b2 := newBroker(t, WithDataDir(dir))
	consumeN(t, b2, "kept", 10)
	st, err := b2.State()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Topics) != 1 || st.Topics[0].Name != "kept" {
		t.Errorf("state after restart lists %+v, want the persisted topic", st.Topics)
	}
}

func TestKafkaVersionLimitsApiVersions(t *testing.T) {
	b := newBroker(t, WithKafkaVersion("0.11"))
	cl := newClient(t, b)
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	_, want, _ := ParseVersion("0.11")
	wantMax, _ := want.LookupMaxKeyVersion(int16(kmsg.Produce))
	for _, k := range resp.ApiKeys {
		if k.ApiKey == int16(kmsg.Produce) && k.MaxVersion != wantMax {
			t.Errorf("produce max version %d, want %d", k.MaxVersion, wantMax)
		}
	}
	st, _ := b.State()
	if st.Version != "0.11" {
		t.Errorf("state version %q", st.Version)
	}
}

func TestTLSAndSASL(t *testing.T) {
	cert, err := tlsutil.LoadKeyPair("testdata/server.pem", "testdata/server-key.pem", "")
	if err != nil {
		t.Fatal(err)
	}
	b := newBroker(t,
		WithTLS(&tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}),
		WithSASLUsers(SASLUser{User: "alice", Pass: "s3cret", Mechanism: "SCRAM-SHA-256"}),
		WithSeedTopics(SeedTopic{"sec", 1}),
	)
	ctc, err := tlsutil.ClientConfig(tlsutil.ClientFiles{CAFile: "testdata/ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	auth := kgo.SASL(scram.Auth{User: "alice", Pass: "s3cret"}.AsSha256Mechanism())
	produceConsume(t, b, "sec", 5, kgo.DialTLSConfig(ctc), auth)

	t.Run("wrong password fails", func(t *testing.T) {
		bad := newClient(t, b, kgo.DialTLSConfig(ctc), kgo.SASL(scram.Auth{User: "alice", Pass: "nope"}.AsSha256Mechanism()), kgo.RequestRetries(0))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := bad.Ping(ctx); err == nil {
			t.Fatal("ping with a wrong password succeeded")
		}
	})
}

func TestRunServesAdminAndStops(t *testing.T) {
	sw := &syncWriter{}
	log := slog.New(slog.NewTextHandler(sw, nil))
	b, err := New(WithListenHost("127.0.0.1"), WithAdvertiseHost("localhost"), WithAdminListen("127.0.0.1:0"), WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	url := "http://" + b.AdminAddr() + "/healthz"
	code, body := httpDo(t, "GET", url)
	if code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := b.State(); !errors.Is(err, ErrClosed) {
		t.Errorf("State after Run: %v, want ErrClosed", err)
	}
	if out := sw.String(); !strings.Contains(out, ReadyMessage) {
		t.Errorf("logs lack %q:\n%s", ReadyMessage, out)
	}
}

// syncWriter is a log sink safe for kfake's goroutines and the test to share.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
