package benchutil

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sync/errgroup"
)

// endpoint is how clients reach the broker on one path.
type endpoint struct {
	// seed is the address clients bootstrap from.
	seed string
	// redirect, when set, is dialed for every broker connection whatever address
	// metadata names: the forwarder does not rewrite metadata, which would send
	// clients straight to the broker.
	redirect string
}

func (e endpoint) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(e.seed), kgo.ClientID("airlock-proxy-bench")}
	if to := e.redirect; to != "" {
		opts = append(opts, kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, to)
		}))
	}
	return append(opts, extra...)
}

// wireCounter counts the bytes a client wrote to and read from brokers: the
// bytes a proxy on the path had to move, headers and all.
type wireCounter struct{ n atomic.Int64 }

var (
	_ kgo.HookBrokerRead  = (*wireCounter)(nil)
	_ kgo.HookBrokerWrite = (*wireCounter)(nil)
)

// OnBrokerRead implements kgo.HookBrokerRead.
func (w *wireCounter) OnBrokerRead(_ kgo.BrokerMetadata, _ int16, n int, _, _ time.Duration, _ error) {
	w.n.Add(int64(n))
}

// OnBrokerWrite implements kgo.HookBrokerWrite.
func (w *wireCounter) OnBrokerWrite(_ kgo.BrokerMetadata, _ int16, n int, _, _ time.Duration, _ error) {
	w.n.Add(int64(n))
}

// Phase is what one throughput phase moved and what it cost the hop.
type Phase struct {
	// Payload is the record value bytes moved.
	Payload int64 `json:"payload_bytes"`
	// Wire is the bytes clients exchanged with the broker (requests and responses).
	Wire int64 `json:"wire_bytes"`
	// Elapsed is the wall time of the phase.
	Elapsed time.Duration `json:"elapsed_ns"`
	// CPU is the CPU time the process under test used during the phase; 0 on the
	// direct path.
	CPU time.Duration `json:"cpu_ns"`
}

// MBps returns the payload throughput in MB/s (10^6 bytes).
func (p Phase) MBps() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Payload) / 1e6 / p.Elapsed.Seconds()
}

// meter takes CPU and wire readings at the edges of a phase.
type meter struct {
	cpu  func() (time.Duration, error) // nil on the direct path
	wire *wireCounter
}

type mark struct {
	at   time.Time
	cpu  time.Duration
	wire int64
}

func (m meter) read() (mark, error) {
	k := mark{at: time.Now(), wire: m.wire.n.Load()}
	if m.cpu != nil {
		c, err := m.cpu()
		if err != nil {
			return mark{}, err
		}
		k.cpu = c
	}
	return k, nil
}

func (m meter) phase(from mark, payload int64) (Phase, error) {
	to, err := m.read()
	if err != nil {
		return Phase{}, err
	}
	return Phase{Payload: payload, Wire: to.wire - from.wire, Elapsed: to.at.Sub(from.at), CPU: to.cpu - from.cpu}, nil
}

// produceThroughput produces total bytes of records carrying value, as fast as
// the client goes, after a warm-up that opens connections and gets a producer id.
func produceThroughput(ctx context.Context, ep endpoint, topic string, value []byte, total int64, m meter) (Phase, error) {
	cl, err := kgo.NewClient(ep.clientOpts(
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.WithHooks(m.wire),
	)...)
	if err != nil {
		return Phase{}, fmt.Errorf("producer client: %w", err)
	}
	defer cl.Close()
	if err := warmProduce(ctx, cl, value); err != nil {
		return Phase{}, err
	}
	from, err := m.read()
	if err != nil {
		return Phase{}, err
	}
	var (
		once     sync.Once
		firstErr error
		acked    atomic.Int64
	)
	n := total / int64(len(value))
	for i := int64(0); i < n && ctx.Err() == nil; i++ {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				once.Do(func() { firstErr = err })
				return
			}
			acked.Add(1)
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return Phase{}, fmt.Errorf("produce flush: %w: %w", ErrShortRun, err)
	}
	ph, err := m.phase(from, acked.Load()*int64(len(value)))
	if err != nil {
		return Phase{}, err
	}
	if firstErr != nil || acked.Load() != n {
		return ph, fmt.Errorf("produce: %d of %d records acknowledged: %w: %v", acked.Load(), n, ErrShortRun, firstErr)
	}
	return ph, nil
}

func warmProduce(ctx context.Context, cl *kgo.Client, value []byte) error {
	rs := make([]*kgo.Record, 64)
	for i := range rs {
		rs[i] = &kgo.Record{Value: value}
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("warm-up produce: %w", err)
	}
	return nil
}

// consumeThroughput consumes total payload bytes from the start of topic. The
// clock starts once the first records arrived, so connecting and listing offsets
// are not counted as transfer time.
func consumeThroughput(ctx context.Context, ep endpoint, topic string, total int64, m meter) (Phase, error) {
	cl, err := kgo.NewClient(ep.clientOpts(
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.WithHooks(m.wire),
	)...)
	if err != nil {
		return Phase{}, fmt.Errorf("consumer client: %w", err)
	}
	defer cl.Close()
	poll := func() (int64, error) {
		fs := cl.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			fe := errs[0]
			return 0, fmt.Errorf("consume %s[%d]: %w: %w", fe.Topic, fe.Partition, ErrShortRun, fe.Err)
		}
		var got int64
		fs.EachRecord(func(r *kgo.Record) { got += int64(len(r.Value)) })
		return got, nil
	}
	// Warm up: connect, list offsets, receive the first records. Bounded by ctx,
	// like every poll.
	for {
		got, err := poll()
		if err != nil {
			return Phase{}, fmt.Errorf("warm-up: %w", err)
		}
		if got > 0 {
			break
		}
	}
	from, err := m.read()
	if err != nil {
		return Phase{}, err
	}
	var payload int64
	for payload < total {
		got, err := poll()
		if err != nil {
			return Phase{}, err
		}
		payload += got
	}
	return m.phase(from, payload)
}

// produceLatency times n sequential one-record produce round trips (acks=all, no
// linger) after a short warm-up.
func produceLatency(ctx context.Context, ep endpoint, topic string, value []byte, n int) ([]time.Duration, error) {
	cl, err := kgo.NewClient(ep.clientOpts(
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("latency client: %w", err)
	}
	defer cl.Close()
	const warm = 50
	ds := make([]time.Duration, 0, n)
	for i := range warm + n {
		start := time.Now()
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value, Partition: 0}).FirstErr(); err != nil {
			return nil, fmt.Errorf("latency produce %d of %d: %w: %w", i, warm+n, ErrShortRun, err)
		}
		if i >= warm {
			ds = append(ds, time.Since(start))
		}
	}
	return ds, nil
}

// openIdle opens n connections to addr and completes one ApiVersions round trip
// on each, so a proxy has its broker side open too. The connections then sit
// idle until closed.
func openIdle(ctx context.Context, addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	closeAll := func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	// Few at a time: each round trip borrows the proxy's 64 KiB frame buffers for
	// a moment, and many at once would leave pooled buffers in the RSS that an
	// idle connection does not hold.
	g.SetLimit(4)
	for i := range n {
		g.Go(func() error {
			c, err := apiVersionsConn(gctx, addr, int32(i))
			conns[i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		closeAll()
		return nil, fmt.Errorf("open idle connections: %w", err)
	}
	return conns, nil
}

var formatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("airlock-proxy-bench"))

// apiVersionsConn dials addr and does one ApiVersions v3 round trip.
func apiVersionsConn(ctx context.Context, addr string, corr int32) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	fail := func(err error) (net.Conn, error) {
		_ = c.Close()
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = "airlock-proxy-bench"
	req.ClientSoftwareVersion = "1"
	if _, err := c.Write(formatter.AppendRequest(nil, req, corr)); err != nil {
		return fail(fmt.Errorf("write ApiVersions to %s: %w", addr, err))
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return fail(fmt.Errorf("read ApiVersions response from %s: %w", addr, err))
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 1<<20 {
		return fail(fmt.Errorf("ApiVersions response of %d bytes from %s: %w", n, addr, ErrShortRun))
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(c, frame); err != nil {
		return fail(fmt.Errorf("read ApiVersions response from %s: %w", addr, err))
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		return fail(fmt.Errorf("ApiVersions correlation id %d, want %d", got, corr))
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = req.Version
	// ApiVersions responses always use header v0: the body follows the id.
	if err := resp.ReadFrom(frame[4:]); err != nil {
		return fail(fmt.Errorf("decode ApiVersions response from %s: %w", addr, err))
	}
	if resp.ErrorCode != 0 {
		return fail(fmt.Errorf("ApiVersions from %s: error code %d", addr, resp.ErrorCode))
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// closeConns closes every connection and reports the first error.
func closeConns(cs []net.Conn) error {
	var errs []error
	for _, c := range cs {
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
