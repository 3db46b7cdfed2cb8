package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The fuzz targets feed arbitrary bytes to everything the proxy parses before it
// trusts a peer: the request stream of a client (frame reader, size check, request
// header, produce acks, the decode of refused requests) and every response
// rewriter. Run one with, e.g.:
//
//	go test -run '^$' -fuzz '^FuzzRequestStream$' -fuzztime 60s ./proxy/
//
// The seed corpus (valid frames of every version) runs with plain `go test`.

// chunkConn is a client connection whose reads return its data in chunks of at
// most chunk bytes, so frame boundaries fall anywhere relative to reads.
type chunkConn struct {
	data  []byte
	chunk int
}

func (c *chunkConn) Read(b []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), c.chunk)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *chunkConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *chunkConn) Close() error                     { return nil }
func (c *chunkConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *chunkConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *chunkConn) SetDeadline(time.Time) error      { return nil }
func (c *chunkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzMaxRequest keeps the size check meaningful without letting one frame claim
// the default 100 MiB.
const fuzzMaxRequest = 1 << 20

// requestSeeds returns valid client streams: single frames of many keys and
// versions, pipelined frames, a frame larger than the read buffer, and the
// non-Kafka prefixes the size check recognizes.
func requestSeeds() [][]byte {
	var seeds [][]byte
	for v := int16(0); v <= lookupKey(3).maxVer; v++ {
		r := kmsg.NewPtrMetadataRequest()
		r.SetVersion(v)
		topic := kmsg.NewMetadataRequestTopic()
		topic.Topic = kmsg.StringPtr("orders")
		r.Topics = append(r.Topics, topic)
		seeds = append(seeds, requestFrame(r, int32(v)))
	}
	for v := int16(0); v <= lookupKey(0).maxVer; v++ {
		for _, acks := range []int16{0, 1, -1} {
			r := kmsg.NewPtrProduceRequest()
			r.SetVersion(v)
			r.Acks, r.TimeoutMillis = acks, 1000
			if v >= 3 {
				r.TransactionID = kmsg.StringPtr("txn")
			}
			tp := kmsg.NewProduceRequestTopic()
			tp.Topic = "orders"
			pp := kmsg.NewProduceRequestTopicPartition()
			pp.Records = []byte("not really a record batch")
			tp.Partitions = append(tp.Partitions, pp)
			r.Topics = append(r.Topics, tp)
			seeds = append(seeds, requestFrame(r, 7))
		}
	}
	for v := int16(0); v <= lookupKey(18).maxVer; v++ {
		r := kmsg.NewPtrApiVersionsRequest()
		r.SetVersion(v)
		r.ClientSoftwareName, r.ClientSoftwareVersion = "fuzz", "1"
		seeds = append(seeds, requestFrame(r, 1))
	}
	for v := int16(0); v <= lookupKey(20).maxVer; v++ {
		r := kmsg.NewPtrDeleteTopicsRequest()
		r.SetVersion(v)
		r.TopicNames = []string{"orders"}
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic = kmsg.StringPtr("orders")
		r.Topics = append(r.Topics, t)
		seeds = append(seeds, requestFrame(r, 2))
	}
	// Pipelined: several frames in one stream.
	var pipe []byte
	for _, s := range seeds[:8] {
		pipe = append(pipe, s...)
	}
	seeds = append(seeds, pipe)
	// Larger than the 64 KiB buffer: forwarded by the copy path.
	big := kmsg.NewPtrProduceRequest()
	big.SetVersion(9)
	big.Acks = -1
	tp := kmsg.NewProduceRequestTopic()
	tp.Topic = "orders"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = bytes.Repeat([]byte{0xab}, frameBufSize+100)
	tp.Partitions = append(tp.Partitions, pp)
	big.Topics = append(big.Topics, tp)
	seeds = append(seeds, requestFrame(big, 3))
	seeds = append(seeds,
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		[]byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0, 0, 0xa1, 3, 3},
		append(binary.BigEndian.AppendUint32(nil, 10), 0, 0, 0, 3, 0, 0, 0, 1, 0, 9), // produce, header cut
		binary.BigEndian.AppendUint32(nil, 4),
	)
	return seeds
}

// FuzzRequestStream drives the client side of a connection as readRequests does:
// it must never panic, and what it forwards must be exactly the client's bytes, in
// order, frame by frame.
func FuzzRequestStream(f *testing.F) {
	for i, s := range requestSeeds() {
		f.Add(s, uint16([]int{1, 7, 256, 65535}[i%4]))
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint16) {
		pools := &bufPools{}
		fr := frameReader{conn: &chunkConn{data: stream, chunk: int(chunk)%(2*frameBufSize) + 1}, pools: pools}
		defer fr.close()
		var fwd bytes.Buffer
		consumed := 0
		// Every frame is at least 12 bytes, which bounds the loop.
		for range len(stream)/12 + 1 {
			size, err := fr.header(4)
			if err != nil {
				break
			}
			if err := checkRequestSize(fr.peek(4), size, fuzzMaxRequest); err != nil {
				if size >= 8 && size <= fuzzMaxRequest && !isForeignProtocol(fr.peek(4)) {
					t.Fatalf("size %d refused: %v", size, err)
				}
				break
			}
			if size < 8 || size > fuzzMaxRequest {
				t.Fatalf("size %d accepted", size)
			}
			if err := fr.fill(12, true); err != nil {
				break
			}
			h := parseReqHeader(fr.peek(12)[4:])
			n := int(size) + 4
			if h.key == 0 {
				m := min(n, frameBufSize)
				if err := fr.fill(m, true); err != nil {
					break
				}
				_, _ = produceAcks(fr.peek(m)[4:], h)
			}
			if lookupKey(h.key).known && n <= frameBufSize {
				// A forbidden key's request is decoded to answer it with an error.
				if err := fr.fill(n, true); err != nil {
					break
				}
				_, _ = forbiddenResponse(fr.peek(n)[4:], h)
			}
			if err := fr.forward(&fwd, n); err != nil {
				break
			}
			consumed += n
			fr.release()
		}
		got := fwd.Bytes()
		if len(got) < consumed || !bytes.Equal(got, stream[:len(got)]) {
			t.Fatalf("forwarded %d bytes (%d in whole frames) that are not the client's stream", len(got), consumed)
		}
	})
}

// isForeignProtocol reports whether a size prefix is really the start of a TLS or
// HTTP request, which checkRequestSize refuses whatever size it spells.
func isForeignProtocol(p []byte) bool {
	return (p[0] == 0x16 && p[1] == 0x03) || bytes.HasPrefix(p, []byte("GET ")) || bytes.HasPrefix(p, []byte("POST")) ||
		bytes.HasPrefix(p, []byte("HEAD")) || bytes.HasPrefix(p, []byte("PUT "))
}

// FuzzRequestHeader calls the header parsers on arbitrary frames of at least the
// minimum size the connection lets through, for every key and version.
func FuzzRequestHeader(f *testing.F) {
	for _, s := range requestSeeds() {
		if len(s) >= 12 {
			f.Add(s[4:])
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 8 {
			return
		}
		h := parseReqHeader(frame)
		body, err := requestBody(frame, h)
		if err == nil && len(body) > len(frame)-10 {
			t.Fatalf("body of %d bytes from a %d-byte frame: the header is at least 10 bytes", len(body), len(frame))
		}
		if h.key == 0 {
			_, _ = produceAcks(frame, h)
		}
		_, _ = respHeaderLen(frame, h.key, h.version)
	})
}

// rewriterKeys are the API keys with a rewriter in some version.
var rewriterKeys = []int16{0, 1, 3, 10, 18, 55, 60, 78, 79}

// seedResponse builds a response of key at version v naming the brokers at ups.
func seedResponse(key, v int16, ups []string) kmsg.Response {
	ep := func(i int) (string, int32) {
		h, p, _ := splitHostPort(ups[i%len(ups)])
		return h, p
	}
	resp := kmsg.ResponseForKey(key)
	resp.SetVersion(v)
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		for i := range 2 {
			b := kmsg.NewMetadataResponseBroker()
			b.NodeID = int32(i)
			b.Host, b.Port = ep(i)
			r.Brokers = append(r.Brokers, b)
		}
	case *kmsg.FindCoordinatorResponse:
		r.NodeID = 1
		r.Host, r.Port = ep(0)
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID = "g", 2
		c.Host, c.Port = ep(1)
		r.Coordinators = append(r.Coordinators, c)
	case *kmsg.DescribeClusterResponse:
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID = 1
		b.Host, b.Port = ep(0)
		r.Brokers = append(r.Brokers, b)
	case *kmsg.ProduceResponse:
		b := kmsg.NewProduceResponseBroker()
		b.NodeID = 1
		b.Host, b.Port = ep(1)
		r.Brokers = append(r.Brokers, b)
	case *kmsg.FetchResponse:
		b := kmsg.NewFetchResponseBroker()
		b.NodeID = 1
		b.Host, b.Port = ep(0)
		r.Brokers = append(r.Brokers, b)
	case *kmsg.ShareFetchResponse:
		b := kmsg.NewShareFetchResponseNodeEndpoint()
		b.NodeID = 1
		b.Host, b.Port = ep(0)
		r.NodeEndpoints = append(r.NodeEndpoints, b)
	case *kmsg.ShareAcknowledgeResponse:
		b := kmsg.NewShareAcknowledgeResponseNodeEndpoint()
		b.NodeID = 1
		b.Host, b.Port = ep(1)
		r.NodeEndpoints = append(r.NodeEndpoints, b)
	case *kmsg.DescribeQuorumResponse:
		n := kmsg.NewDescribeQuorumResponseNode()
		n.NodeID = 3000
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		h, p := ep(2)
		l.Name, l.Host, l.Port = "CONTROLLER", h, uint16(p)
		n.Listeners = append(n.Listeners, l)
		r.Nodes = append(r.Nodes, n)
	case *kmsg.ApiVersionsResponse:
		for _, k := range []int16{0, 1, 3, 600} {
			ak := kmsg.NewApiVersionsResponseApiKey()
			ak.ApiKey, ak.MaxVersion = k, 99
			r.ApiKeys = append(r.ApiKeys, ak)
		}
	}
	return resp
}

// newFuzzProxy is a proxy that only maps from -> to statically, like rewriteProxy,
// for use across fuzz iterations.
func newFuzzProxy(tb testing.TB, from, to []string) *Proxy {
	tb.Helper()
	opts := []Opt{
		BootstrapMapping(Mapping{Upstream: "bootstrap.internal:9092", Listen: proxyHost + ":0"}),
		DisableDynamicListeners(),
	}
	for i := range from {
		opts = append(opts, ExternalMapping(from[i], to[i]))
	}
	p, err := New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.closeListeners)
	return p
}

// decodeResponse decodes a whole response frame (with size prefix) as the proxy
// reads it, including the v0 fallback of an ApiVersions UNSUPPORTED_VERSION.
func decodeResponse(frame []byte, key, version int16) error {
	if len(frame) < 8 || int(binary.BigEndian.Uint32(frame)) != len(frame)-4 {
		return errors.New("size prefix does not match the frame")
	}
	hl, err := respHeaderLen(frame[4:], key, version)
	if err != nil {
		return err
	}
	body := frame[4+hl:]
	resp := kmsg.ResponseForKey(key)
	resp.SetVersion(version)
	if key == 18 && len(body) >= 2 && binary.BigEndian.Uint16(body) == 35 {
		resp.SetVersion(0)
	}
	return resp.ReadFrom(body)
}

// FuzzRewriters feeds arbitrary response frames to the rewriter of every key and
// version the proxy decodes. Whatever it accepts must decode again, and a second
// pass must find only proxy addresses: nothing upstream survives a rewrite.
func FuzzRewriters(f *testing.F) {
	ups := []string{upA, upB, upCtl}
	advs := []string{advA, advB, advCtl}
	for _, key := range rewriterKeys {
		maxV := kmsg.ResponseForKey(key).MaxVersion()
		for v := int16(0); v <= maxV; v++ {
			if rewriterFor(key, v) == nil {
				continue
			}
			f.Add(key, v, frameOf(seedResponse(key, v, ups), 42)[4:])
			empty := kmsg.ResponseForKey(key)
			empty.SetVersion(v)
			f.Add(key, v, frameOf(empty, 43)[4:])
		}
	}
	unsupported := kmsg.NewPtrApiVersionsResponse()
	unsupported.ErrorCode = 35
	f.Add(int16(18), int16(4), frameOf(unsupported, 9)[4:])

	p := newFuzzProxy(f, ups, advs)
	// check maps only proxy addresses: a second pass over a rewritten response
	// fails on any upstream address left in it.
	check := newFuzzProxy(f, advs, advs)
	f.Fuzz(func(t *testing.T, key, version int16, resp []byte) {
		rw := rewriterFor(key, version)
		// The connection refuses versions above kmsg's before a response exists.
		if rw == nil || version > lookupKey(key).maxVer || len(resp) < 4 {
			return
		}
		frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(resp)), uint32(len(resp)))
		frame = append(frame, resp...)
		req := inflight{corr: int32(binary.BigEndian.Uint32(resp)), key: key, version: version}
		out, fresh, err := p.rewriteFrame(frame, req, rw)
		if err != nil {
			return
		}
		if !fresh && !bytes.Equal(out, frame) {
			t.Fatal("an unchanged response was altered")
		}
		if err := decodeResponse(out, key, version); err != nil {
			t.Fatalf("%s v%d: rewritten frame does not decode: %v", keyName(key), version, err)
		}
		if !bytes.Equal(out[4:8], frame[4:8]) {
			t.Fatalf("correlation id changed from %x to %x", frame[4:8], out[4:8])
		}
		again, changed, err := check.rewriteFrame(out, req, rw)
		if err != nil {
			t.Fatalf("%s v%d: rewritten response still names an unmapped broker: %v", keyName(key), version, err)
		}
		if changed {
			t.Fatalf("%s v%d: rewritten response changed on a second pass\nfirst  %q\nsecond %q", keyName(key), version, out, again)
		}
		if fresh {
			p.pools.put(out)
		}
	})
}

// TestRewriterSeedsAreRewritten keeps the FuzzRewriters corpus meaningful: every
// populated seed must be accepted and changed, so the fuzzer starts from frames
// that reach the encoder.
func TestRewriterSeedsAreRewritten(t *testing.T) {
	p := rewriteProxy(t)
	for _, key := range rewriterKeys {
		maxV := kmsg.ResponseForKey(key).MaxVersion()
		for v := int16(0); v <= maxV; v++ {
			rw := rewriterFor(key, v)
			if rw == nil {
				continue
			}
			t.Run(keyName(key)+"/v"+itoa(v), func(t *testing.T) {
				frame := frameOf(seedResponse(key, v, []string{upA, upB, upCtl}), 42)
				out, fresh, err := p.rewriteFrame(frame, inflight{corr: 42, key: key, version: v}, rw)
				if err != nil {
					t.Fatal(err)
				}
				if !fresh {
					t.Fatal("seed was not rewritten")
				}
				if err := decodeResponse(out, key, v); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// hostileTags is a tag count of 2^27-1 (uvarint) with no tags after it. Decoding
// must fail at once: the count exceeds the bytes left. kmsg's tag loops keep
// counting down on an exhausted reader instead, so one 15-byte frame costs seconds
// of CPU (2^32-1, the largest count, about a minute): a denial of service by any
// unauthenticated client.
var hostileTags = []byte{0xff, 0xff, 0xff, 0x3f}

// TestHostileTagCountIsRefusedAtOnce is a liveness check, not a speed measurement:
// a correct decoder returns in microseconds, the looping one takes about a second
// (ten under -race) and keeps spinning after the test gave up. Found
// by FuzzRequestHeader and FuzzRewriters.
func TestHostileTagCountIsRefusedAtOnce(t *testing.T) {
	p := rewriteProxy(t)
	cases := []struct {
		name string
		fn   func() error
	}{
		{"produce v9 request header (any client, every produce)", func() error {
			frame := append([]byte{0, 0, 0, 9, 0, 0, 0, 1, 0, 0}, hostileTags...)
			_, err := produceAcks(frame, parseReqHeader(frame))
			return err
		}},
		{"flexible response header (broker)", func() error {
			_, err := respHeaderLen(append([]byte{0, 0, 0, 1}, hostileTags...), 3, 12)
			return err
		}},
		{"flexible response body decoded by kmsg (broker)", func() error {
			// Metadata v12: throttle, no brokers, null cluster id, controller, no topics, tags.
			body := append([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1}, hostileTags...)
			frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
			_, _, err := p.rewriteFrame(append(frame, body...), inflight{corr: 1, key: 3, version: 12}, rewriteMetadata)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- tc.fn() }()
			select {
			case err := <-done:
				if !errors.Is(err, errMalformed) {
					t.Fatalf("want a malformed-frame error, got %v", err)
				}
			case <-time.After(300 * time.Millisecond):
				// The goroutine keeps spinning until the count runs out.
				t.Fatal("decoding a frame with a tag count larger than the frame did not return within 300ms: " +
					"kmsg.SkipTags/ReadTags loop on an exhausted reader (see the comment on hostileTags)")
			}
		})
	}
}
