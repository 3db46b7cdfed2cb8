package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func dialProxy(t *testing.T, tp *testProxy) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", tp.BootstrapAddrs()[0], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc
}

// expectClosed asserts the proxy closes nc without sending a frame.
func expectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	var b [1]byte
	_, err := nc.Read(b[:])
	if err == nil {
		t.Fatal("connection still open, want it closed")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection not closed before the deadline")
	}
}

func errCount(tp *testProxy, broker, reason string) float64 {
	return testutil.ToFloat64(tp.m.errors.WithLabelValues(broker, reason))
}

// sumMetric adds up every series of the named metric family.
func sumMetric(t *testing.T, tp *testProxy, name string) float64 {
	t.Helper()
	mfs, err := tp.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func metadataBroker(t *testing.T) *fakeBroker {
	return newFakeBroker(t, func(h reqHeader, _ []byte) []byte {
		switch h.key {
		case 18:
			r := kmsg.NewPtrApiVersionsResponse()
			k := kmsg.NewApiVersionsResponseApiKey()
			k.ApiKey, k.MaxVersion = 3, 12
			r.ApiKeys = append(r.ApiKeys, k)
			return answer(h, r)
		default:
			return answer(h, kmsg.NewPtrMetadataResponse())
		}
	})
}

func TestBadInputClosesConnectionAndIsCounted(t *testing.T) {
	fb := metadataBroker(t)
	tp := startProxyAt(t, fb.addr(), MaxRequestSize(1<<20))
	cases := []struct {
		name   string
		frame  []byte
		reason string
	}{
		{"frame over max request size", binary.BigEndian.AppendUint32(nil, 2<<20), "frame_too_large"},
		{"frame shorter than a header", append(binary.BigEndian.AppendUint32(nil, 4), 0, 3, 0, 0), "malformed"},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "malformed"},
		{"TLS client hello on a plaintext listener", []byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0, 0, 0xa1, 3, 3}, "malformed"},
		{"negative api key", append(binary.BigEndian.AppendUint32(nil, 8), 0xff, 0xff, 0, 0, 0, 0, 0, 1), "unknown_api_key"},
		{"metadata version above kmsg", append(binary.BigEndian.AppendUint32(nil, 10), 0, 3, 0x7f, 0, 0, 0, 0, 1, 0xff, 0xff), "unsupported_version"},
		{"produce with truncated header", append(binary.BigEndian.AppendUint32(nil, 10), 0, 0, 0, 3, 0, 0, 0, 1, 0, 9), "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := errCount(tp, fb.addr(), tc.reason)
			nc := dialProxy(t, tp)
			if _, err := nc.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, nc)
			eventually(t, 5*time.Second, "error counted as "+tc.reason, func() bool {
				return errCount(tp, fb.addr(), tc.reason) == before+1
			})
		})
	}
	// The proxy is unaffected: a well-formed request still gets its answer.
	nc := dialProxy(t, tp)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(4)
	if _, err := nc.Write(requestFrame(req, 5)); err != nil {
		t.Fatal(err)
	}
	frame, err := readFrame(nc)
	if err != nil {
		t.Fatalf("after bad input, a good request failed: %v", err)
	}
	if corr := int32(binary.BigEndian.Uint32(frame)); corr != 5 {
		t.Fatalf("corr %d", corr)
	}
	for _, h := range fb.requests() {
		if h.key != 3 && h.key != 18 {
			t.Errorf("broker saw request key %d from bad input", h.key)
		}
	}
}

func TestUnexpectedResponseClosesConnection(t *testing.T) {
	fb := newFakeBroker(t, func(h reqHeader, _ []byte) []byte {
		h.corr += 1000 // answer with the wrong correlation id
		return answer(h, kmsg.NewPtrMetadataResponse())
	})
	tp := startProxyAt(t, fb.addr())
	nc := dialProxy(t, tp)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)
	if _, err := nc.Write(requestFrame(req, 1)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, nc)
	eventually(t, 5*time.Second, "unexpected response counted", func() bool {
		return errCount(tp, fb.addr(), "unexpected_response") == 1
	})
}

func TestPipelinedRequestsKeepOrderWithSmallInFlightWindow(t *testing.T) {
	fb := metadataBroker(t)
	tp := startProxyAt(t, fb.addr(), MaxInFlight(2))
	nc := dialProxy(t, tp)
	const n = 200
	var out []byte
	for i := range n {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(int16(i % 13))
		out = append(out, requestFrame(req, int32(i))...)
	}
	go func() { _, _ = nc.Write(out) }()
	for i := range n {
		frame, err := readFrame(nc)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if corr := int32(binary.BigEndian.Uint32(frame)); corr != int32(i) {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
	}
}

func TestAcksZeroProduceExpectsNoResponse(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "acks0"))
	tp := startProxy(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := &recorder{}
	prod := tp.client(t, rec, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite(), kgo.DefaultProduceTopic("acks0"))
	const n = 100
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cons := tp.client(t, rec, kgo.ConsumeTopics("acks0"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := 0
	for seen < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("saw %d of %d acks=0 records", seen, n)
		}
		seen += fs.NumRecords()
	}
	for _, reason := range []string{"unexpected_response", "malformed"} {
		if got := errCount(tp, c.ListenAddrs()[0], reason); got != 0 {
			t.Errorf("%s errors: %v", reason, got)
		}
	}
}

func TestForbiddenAPIKeys(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "keep"))
	var reached atomic.Int32
	c.ControlKey(20, func(kmsg.Request) (kmsg.Response, error, bool) {
		reached.Add(1)
		return nil, nil, false
	})
	c.KeepControl()
	tp := startProxy(t, c, ForbiddenAPIKeys(20, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &recorder{}

	t.Run("authorization error where the API has one", func(t *testing.T) {
		adm := kadm.NewClient(tp.client(t, rec))
		resp, err := adm.DeleteTopics(ctx, "keep")
		if err != nil {
			t.Fatal(err)
		}
		if r := resp["keep"]; !errors.Is(r.Err, kerr.TopicAuthorizationFailed) {
			t.Fatalf("want TOPIC_AUTHORIZATION_FAILED, got %v", r.Err)
		}
		if reached.Load() != 0 {
			t.Fatal("a forbidden DeleteTopics reached the broker")
		}
		if got := sumMetric(t, tp, "proxy_forbidden_requests_total"); got < 1 {
			t.Fatalf("forbidden counter %v", got)
		}
		if ti := c.TopicInfo("keep"); ti == nil {
			t.Fatal("topic was deleted")
		}
	})
	t.Run("closed connection where it has none", func(t *testing.T) {
		prod := tp.client(t, rec, kgo.DefaultProduceTopic("keep"), kgo.DisableIdempotentWrite(),
			kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(3*time.Second))
		err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
		if err == nil {
			t.Fatal("produce succeeded through a proxy forbidding it")
		}
		eventually(t, 5*time.Second, "forbidden produce counted", func() bool {
			return sumMetric(t, tp, "proxy_errors_total") >= 1
		})
		if fs := c.PartitionInfo("keep", 0); fs != nil && fs.HighWatermark != 0 {
			t.Fatalf("a forbidden produce reached the broker: high watermark %d", fs.HighWatermark)
		}
	})
}

func TestDrainDeliversInFlightResponses(t *testing.T) {
	release := make(chan struct{})
	var got atomic.Int32
	fb := newFakeBroker(t, func(h reqHeader, _ []byte) []byte {
		if h.key == 3 && got.Add(1) == 1 {
			<-release // hold the first metadata response until the drain started
		}
		return answer(h, kmsg.NewPtrMetadataResponse())
	})
	tp := startProxyAt(t, fb.addr(), ShutdownTimeout(10*time.Second))
	nc := dialProxy(t, tp)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(5)
	if _, err := nc.Write(requestFrame(req, 11)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "request at the broker", func() bool { return got.Load() == 1 })
	tp.cancel()
	eventually(t, 5*time.Second, "draining", tp.Draining)
	if err := tp.Ready(context.Background()); err == nil {
		t.Fatal("ready while draining")
	}
	if c, err := net.DialTimeout("tcp", tp.BootstrapAddrs()[0], time.Second); err == nil {
		_ = c.Close()
		t.Fatal("new connection accepted while draining")
	}
	close(release)
	frame, err := readFrame(nc)
	if err != nil {
		t.Fatalf("in-flight response lost on drain: %v", err)
	}
	if corr := int32(binary.BigEndian.Uint32(frame)); corr != 11 {
		t.Fatalf("corr %d", corr)
	}
	if _, err := readFrame(nc); !errors.Is(err, io.EOF) && err == nil {
		t.Fatal("connection still open after drain")
	}
	select {
	case <-tp.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not stop after draining")
	}
}

func TestDrainTimeoutClosesStuckConnections(t *testing.T) {
	block := make(chan struct{})
	fb := newFakeBroker(t, func(h reqHeader, _ []byte) []byte {
		if h.key == 3 {
			<-block
		}
		return nil
	})
	t.Cleanup(func() { close(block) }) // runs before the broker's cleanup waits for its handlers
	tp := startProxyAt(t, fb.addr(), ShutdownTimeout(300*time.Millisecond))
	nc := dialProxy(t, tp)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(5)
	if _, err := nc.Write(requestFrame(req, 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "request at the broker", func() bool { return len(fb.requests()) == 1 })
	tp.cancel()
	select {
	case <-tp.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("drain did not respect its timeout")
	}
	expectClosed(t, nc)
}
