package benchutil

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func newCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(2, topic),
		kfake.BlackholeProduce(),
		kfake.SyntheticFetch(kfake.SyntheticBatch{RecordBytes: recordSize}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// forwarder is a Forward running for a test.
type forwarder struct {
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error // valid once done is closed
}

// startForwarder runs Forward in front of target until the test ends; wrap, if
// not nil, wraps its listener.
func startForwarder(t *testing.T, target string, wrap func(net.Listener) net.Listener) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &forwarder{addr: ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		f.err = Forward(ctx, ln, target, slog.New(slog.DiscardHandler))
		close(f.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-f.done
	})
	return f
}

func TestForwardIdleConnections(t *testing.T) {
	broker := newCluster(t)
	fwd := startForwarder(t, broker, nil)
	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()

	conns, err := openIdle(ctx, fwd.addr, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 8 {
		t.Fatalf("%d connections, want 8", len(conns))
	}
	// Stopping the forwarder must cut the connections it carries, not leave
	// them hanging.
	fwd.cancel()
	select {
	case <-fwd.done:
		if fwd.err != nil {
			t.Fatalf("Forward returned %v after cancel, want nil", fwd.err)
		}
	case <-ctx.Done():
		t.Fatal("Forward did not return after cancel")
	}
	_ = conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = conns[0].Read(make([]byte, 1))
	if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
		t.Fatalf("read after the forwarder stopped: %v, want the connection closed", err)
	}
	if err := closeConns(conns); err != nil {
		t.Fatal(err)
	}
}

func TestOpenIdleFailsOnDeadPort(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := openIdle(ctx, addr, 3); err == nil {
		t.Fatal("openIdle to a closed port succeeded")
	}
}

// TestPhasesThroughForwarder runs each workload phase, small, through the
// forwarder: metadata names the broker itself, so this also proves the client
// redirect keeps every connection on the path under test.
func TestPhasesThroughForwarder(t *testing.T) {
	broker := newCluster(t)
	var carried atomic.Int64
	fwd := startForwarder(t, broker, func(ln net.Listener) net.Listener { return &countingListener{ln, &carried} })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ep := endpoint{seed: fwd.addr, redirect: fwd.addr}
	value := make([]byte, recordSize)
	const total = 2 << 20

	tests := []struct {
		name string
		run  func(m meter) (Phase, error)
	}{
		{"produce", func(m meter) (Phase, error) { return produceThroughput(ctx, ep, topic, value, total, m) }},
		{"consume", func(m meter) (Phase, error) { return consumeThroughput(ctx, ep, topic, total, m) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := meter{wire: &wireCounter{}, cpu: func() (time.Duration, error) { return time.Second, nil }}
			ph, err := tt.run(m)
			if err != nil {
				t.Fatal(err)
			}
			if ph.Payload < total {
				t.Errorf("payload %d, want >= %d", ph.Payload, total)
			}
			if tt.name == "produce" && carried.Load() < ph.Payload {
				t.Errorf("forwarder carried %d bytes from clients for %d produced: clients went around it", carried.Load(), ph.Payload)
			}
			if ph.Wire <= ph.Payload/2 {
				t.Errorf("wire bytes %d for %d payload bytes: hooks not counting", ph.Wire, ph.Payload)
			}
			if ph.CPU != 0 {
				t.Errorf("cpu %s from a constant clock, want 0", ph.CPU)
			}
			if ph.MBps() <= 0 {
				t.Errorf("MB/s = %v", ph.MBps())
			}
		})
	}
	t.Run("latency", func(t *testing.T) {
		ds, err := produceLatency(ctx, ep, topic, value, 20)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 20 {
			t.Fatalf("%d samples, want 20", len(ds))
		}
		for _, d := range ds {
			if d <= 0 {
				t.Fatalf("non-positive round trip %s", d)
			}
		}
	})
}

// countingListener counts the bytes read from accepted connections. It hides
// *net.TCPConn, so the forwarder copies in user space: fine for a test.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	k, err := c.Conn.Read(b)
	c.n.Add(int64(k))
	return k, err
}
