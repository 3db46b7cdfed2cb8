package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// proxyHost is where test proxies listen. Brokers (kfake) listen on 127.0.0.1, so
// any "127.0.0.1" a client reads through the proxy is a leaked upstream address.
const proxyHost = "127.0.0.2"

// upstreamHost is the host kfake advertises.
const upstreamHost = "127.0.0.1"

// testProxy runs a proxy in front of cluster c, bootstrapping on its first broker.
type testProxy struct {
	*Proxy
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func startProxy(t *testing.T, c *kfake.Cluster, opts ...Opt) *testProxy {
	t.Helper()
	return startProxyAt(t, c.ListenAddrs()[0], opts...)
}

// startProxyAt runs a proxy bootstrapping on the broker at upstream.
func startProxyAt(t *testing.T, upstream string, opts ...Opt) *testProxy {
	t.Helper()
	reg := prometheus.NewRegistry()
	all := []Opt{
		BootstrapMapping(Mapping{Upstream: upstream, Listen: proxyHost + ":0"}),
		WithRegisterer(reg),
		ShutdownTimeout(5 * time.Second),
	}
	p, err := New(append(all, opts...)...)
	if err != nil {
		t.Fatalf("new proxy: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{Proxy: p, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { tp.done <- p.Run(ctx) }()
	eventually(t, 5*time.Second, "proxy serving", func() bool { return p.Ready(context.Background()) == nil })
	t.Cleanup(tp.stop)
	return tp
}

func (tp *testProxy) stop() {
	tp.cancel()
	<-tp.Done()
}

// recorder captures every byte clients read from the proxy.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

type recConn struct {
	net.Conn
	r *recorder
}

func (c recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.r.mu.Lock()
	c.r.buf.Write(b[:n])
	c.r.mu.Unlock()
	return n, err
}

func (r *recorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return recConn{nc, r}, nil
}

// leaked returns the first upstream address of c whose wire encoding (host bytes
// followed by the big-endian int32 port, as in every Kafka endpoint struct) appears
// in what clients read. The host alone is not enough: group descriptions carry the
// client host as the broker saw it, which is the proxy's own upstream-side address.
func (r *recorder) leaked(addrs []string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range addrs {
		host, port, err := splitHostPort(a)
		if err != nil {
			return "bad address " + a
		}
		pat := binary.BigEndian.AppendUint32([]byte(host), uint32(port))
		if bytes.Contains(r.buf.Bytes(), pat) {
			return a
		}
		// DescribeQuorum encodes ports as uint16.
		pat16 := binary.BigEndian.AppendUint16([]byte(host), uint16(port))
		if bytes.Contains(r.buf.Bytes(), pat16) {
			return a
		}
	}
	return ""
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Len()
}

// client returns a franz-go client bootstrapping through tp that records all it reads.
func (tp *testProxy) client(t *testing.T, rec *recorder, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := []kgo.Opt{kgo.SeedBrokers(tp.BootstrapAddrs()...), kgo.Dialer(rec.dial), kgo.RetryTimeout(20 * time.Second)}
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
