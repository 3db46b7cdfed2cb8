package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airlock-kafka/airlock/internal/tlsutil"
)

// inflight is one request the proxy forwarded and awaits the response of.
type inflight struct {
	corr    int32
	key     int16
	version int16
	start   time.Time
	// own, when set, receives the whole response frame: the request was the proxy's
	// own (re-authentication) and its answer must not reach the client.
	own chan []byte
}

// conn is one client connection and its broker connection. Two goroutines serve
// it: the reader (client -> broker) and the writer (broker -> client); each hands
// on to a fresh goroutine when its side goes idle (see serve). Responses are
// matched to requests by correlation id in request order, as Kafka brokers answer
// in order on a connection. Fields are ordered to keep the struct small: every
// open connection holds one.
type conn struct {
	p      *Proxy
	rt     *route
	client net.Conn
	up     net.Conn
	cm     *brokerMetrics

	cr frameReader // client side
	ur frameReader // broker side

	// wdone is closed when the writer is done; werr is its result, set before.
	wdone chan struct{}
	werr  error

	// mu guards outstanding, head, writerDone and pending.
	mu   sync.Mutex
	cond sync.Cond
	// outstanding counts requests forwarded whose responses are not yet written to
	// the client; a locally answered request waits for zero to keep response order.
	outstanding int32
	head        int32
	draining    atomic.Bool
	writerDone  bool
	// pending[head:] are the forwarded requests awaiting their response, in order.
	// A slice that grows on demand, not a channel of MaxInFlight entries: that cost
	// 40 KiB per connection, idle or not.
	pending []inflight

	// writeMu serializes writes to the client (writer goroutine, local answers).
	writeMu sync.Mutex

	// reauthAt is when the reader renews the broker session (KIP-368); zero: never.
	reauthAt time.Time

	drainDeadline atomic.Int64 // unix nanos
	closeOnce     sync.Once
}

func newConn(p *Proxy, r *route, nc net.Conn) *conn {
	c := &conn{p: p, rt: r, client: nc, cm: p.m.forBroker(r.upstream)}
	c.cond.L = &c.mu
	c.cr = frameReader{conn: nc, pools: &p.pools, retry: c.retryRead}
	return c
}

// retryRead decides, after a client read timeout, whether the reader goes on: a
// frame already begun is read to its end, while draining or when the timeout was
// the re-authentication wake-up; at a frame boundary the reader stops so the
// connection can finish (or re-authenticate).
func (c *conn) retryRead(partial bool) bool {
	if !partial {
		return false
	}
	if c.draining.Load() {
		_ = c.client.SetReadDeadline(time.Unix(0, c.drainDeadline.Load()))
		return true
	}
	if !c.reauthAt.IsZero() && !time.Now().Before(c.reauthAt) {
		// The deadline was the re-authentication wake-up, not idleness: finish the
		// frame; the session is renewed before the next one.
		var dl time.Time
		if idle := c.p.cfg.idleTimeout; idle > 0 {
			dl = time.Now().Add(idle)
		}
		_ = c.client.SetReadDeadline(dl)
		return true
	}
	return false
}

// drain stops reading new requests; responses to forwarded ones are still delivered
// until deadline.
func (c *conn) drain(deadline time.Time) {
	c.drainDeadline.Store(deadline.UnixNano())
	c.draining.Store(true)
	c.mu.Lock()
	nc := c.client
	c.mu.Unlock()
	_ = nc.SetReadDeadline(time.Now())
}

// close closes both sides once; it unblocks both goroutines.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		client, up := c.client, c.up
		c.mu.Unlock()
		_ = client.Close()
		if up != nil {
			_ = up.Close()
		}
	})
}

// serve runs on the accept loop's goroutine: it admits the client, connects to the
// broker and starts the writer. It returns once the connection is set up; the
// reader and the writer then run on goroutines of their own, and the last of them
// tears the connection down (finish).
//
// An idle connection costs mostly its two goroutine stacks, and a stack never
// shrinks below 4 KiB once grown (the runtime only halves stacks that are at most
// a quarter used, counting its 800-byte reserve). Serving a frame grows a stack
// (decoding, metrics, logging), so whenever a side has nothing buffered it hands
// on to a fresh goroutine that waits for the next frame from a shallow stack
// (readIdle, writeIdle) and lets the goroutine with the grown stack exit. That is
// one goroutine start per burst of frames; idle connections keep 2 KiB stacks.
func (c *conn) serve() {
	ctx := c.p.serveCtx
	c.cm.accepted.Inc()
	c.cm.opened.Inc()

	if err := c.admit(ctx); err != nil {
		c.close()
		var af *authFailure
		switch {
		case errors.As(err, &af):
			c.p.m.authFailures.WithLabelValues(af.reason).Inc()
			c.logger().Warn("client authentication failed; closing", "reason", af.reason, "err", err)
		case errors.Is(err, errTLSHandshake):
			c.logger().Warn("client TLS handshake failed; closing", "reason", tlsutil.Reason(err), "err", err)
		case isClosedErr(err):
			c.logger().Debug("client left before authenticating")
		default:
			c.cm.error(errReason(err))
			c.logger().Warn("closing client connection before authentication", "reason", errReason(err), "err", err)
		}
		c.finish()
		return
	}
	// Dial on a goroutine of its own: TLS and SASL need a deep stack, and the
	// goroutine running serve may go on as the reader.
	dialed := make(chan error, 1)
	go func() { dialed <- c.dialUpstream(ctx) }()
	if err := <-dialed; err != nil {
		c.cm.error(errReason(err))
		c.logger().Warn("closing client connection: broker unreachable", "err", err)
		c.close()
		c.finish()
		return
	}
	c.ur = frameReader{conn: c.up, pools: &c.p.pools}
	c.wdone = make(chan struct{})
	go c.writeResponses()
	c.readRequests()
}

// logger returns the connection's logger. It is built only when there is
// something to log: an idle connection should not carry a handler clone.
func (c *conn) logger() *slog.Logger {
	return c.p.log.With("client", c.client.RemoteAddr().String(), "broker", c.rt.upstream)
}

// endReader runs on the reader goroutine once the client side is done: it lets
// the writer deliver what was forwarded when draining, closes the connection,
// waits for the writer and finishes the connection.
func (c *conn) endReader(rerr error) {
	if c.draining.Load() && errors.Is(rerr, errDrained) {
		// Let the writer deliver what was forwarded, until the drain deadline.
		c.waitOutstanding(time.Unix(0, c.drainDeadline.Load()))
	}
	c.close()
	<-c.wdone
	err := c.werr
	switch {
	case rerr != nil && !isClosedErr(rerr) && !errors.Is(rerr, errDrained):
		err = rerr
	case err != nil && isClosedErr(err):
		err = nil
	}
	if err != nil {
		c.cm.error(errReason(err))
		c.logger().Warn("connection closed on error", "reason", errReason(err), "err", err)
	} else {
		c.logger().Debug("connection closed")
	}
	c.finish()
}

// finish releases what the connection holds and tells the proxy it is gone; it
// runs once, as the last thing the connection's last goroutine does.
func (c *conn) finish() {
	c.cr.close()
	c.cm.opened.Dec()
	c.p.connDone(c)
}

// endWriter runs on the writer goroutine once the broker side is done.
func (c *conn) endWriter(err error) {
	c.ur.close()
	c.mu.Lock()
	c.writerDone = true
	c.cond.Broadcast()
	c.mu.Unlock()
	// A broker that goes away takes the client connection with it, so the
	// client reconnects instead of waiting on a dead socket.
	c.close()
	c.werr = err
	close(c.wdone)
}

var (
	errDrained      = errors.New("drained")
	errTLSHandshake = errors.New("client TLS handshake failed")
)

// admit terminates TLS and runs local SASL authentication when configured. Nothing
// reaches a broker before it succeeds.
func (c *conn) admit(ctx context.Context) error {
	if tc := c.p.cfg.clientTLS; tc != nil {
		tlsConn := tls.Server(c.client, tc)
		hctx, cancel := context.WithTimeout(ctx, c.p.cfg.handshakeTimeout)
		err := tlsConn.HandshakeContext(hctx)
		cancel()
		if err != nil {
			c.p.m.tlsFailures.WithLabelValues(tlsutil.Reason(err)).Inc()
			return fmt.Errorf("%w: %w", errTLSHandshake, err)
		}
		c.mu.Lock()
		c.client = tlsConn
		c.mu.Unlock()
		c.cr.conn = tlsConn
	}
	if c.p.cfg.localAuth != nil {
		return c.authenticate(ctx)
	}
	return nil
}

// isClosedErr reports whether err is a peer going away (closed, reset, broken
// pipe): normal for clients, not an error worth a warning or a metric.
func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *conn) dialUpstream(ctx context.Context) error {
	nc, lifetime, err := c.p.dialBroker(ctx, c.rt)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.up = nc
	c.mu.Unlock()
	c.reauthAt = nextReauth(lifetime)
	return nil
}

// readRequests is the reader: client frames go to the broker. It serves what the
// client sent until nothing is buffered, then hands on to readIdle on a fresh
// goroutine (see serve) and returns.
func (c *conn) readRequests() {
	for {
		if err := c.beforeRead(); err != nil {
			c.endReader(err)
			return
		}
		if c.cr.buffered() == 0 {
			c.cr.release()
			go c.readIdle()
			return
		}
		size, err := c.cr.header(4)
		if err = c.readRequest(size, err); err != nil {
			c.endReader(err)
			return
		}
	}
}

// readIdle starts a reader goroutine: it waits for the client's next request
// with as shallow a stack as a read allows, then serves on.
//
//go:noinline
func (c *conn) readIdle() {
	size, err := c.cr.header(4)
	if err = c.readRequest(size, err); err != nil {
		c.endReader(err)
		return
	}
	c.readRequests()
}

// beforeRead renews the broker session when due and arms the client read
// deadline: the idle timeout or a due re-authentication, whichever is first.
func (c *conn) beforeRead() error {
	if !c.reauthAt.IsZero() && !time.Now().Before(c.reauthAt) {
		if err := c.reauthenticate(c.p.serveCtx); err != nil {
			return err
		}
	}
	if c.cr.buffered() < 12 && !c.draining.Load() {
		var dl time.Time
		if idle := c.p.cfg.idleTimeout; idle > 0 {
			dl = time.Now().Add(idle)
		}
		if !c.reauthAt.IsZero() && (dl.IsZero() || c.reauthAt.Before(dl)) {
			dl = c.reauthAt
		}
		if !dl.IsZero() {
			_ = c.client.SetReadDeadline(dl)
			if c.draining.Load() {
				// drain set its deadline between the check above and ours; it
				// must not be overwritten, or the reader waits out the idle timeout.
				_ = c.client.SetReadDeadline(time.Now())
			}
		}
	}
	return nil
}

// readRequest forwards (or answers) the request whose size header(4) returned,
// or handles the error it returned. A nil error means read on; a read timeout
// that was the re-authentication wake-up returns nil too, and beforeRead renews.
func (c *conn) readRequest(size int32, err error) error {
	p := c.p
	if err == nil {
		err = checkRequestSize(c.cr.peek(4), size, p.cfg.maxRequestSize)
	}
	if err == nil {
		err = c.cr.fill(12, true)
	}
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout() && c.draining.Load() && c.cr.buffered() == 0:
			return errDrained
		case errors.As(err, &ne) && ne.Timeout() && c.cr.buffered() == 0 && !c.reauthAt.IsZero() && !time.Now().Before(c.reauthAt):
			return nil // re-authenticate before the next read, then read on
		case errors.As(err, &ne) && ne.Timeout():
			return fmt.Errorf("client idle for %s: %w", p.cfg.idleTimeout, err)
		case errors.Is(err, io.EOF) && c.cr.buffered() > 0:
			return fmt.Errorf("client closed mid-frame: %w", errMalformed)
		}
		return err
	}
	h := parseReqHeader(c.cr.peek(12)[4:])
	n := int(size) + 4
	if !p.keyKnown(h.key) {
		return fmt.Errorf("api key %d: %w", h.key, ErrUnknownAPIKey)
	}
	if p.cfg.forbidden[h.key] {
		return c.refuse(h, n)
	}
	if rewriterFor(h.key, h.version) != nil && h.version > lookupKey(h.key).maxVer {
		return fmt.Errorf("%s v%d (max %d): %w", keyName(h.key), h.version, lookupKey(h.key).maxVer, ErrUnsupportedVersion)
	}
	expect := true
	if h.key == 0 { // produce with acks=0 gets no response
		if err := c.cr.fill(min(n, frameBufSize), true); err != nil {
			return err
		}
		acks, err := produceAcks(c.cr.peek(min(n, frameBufSize))[4:], h)
		if err != nil {
			return err
		}
		expect = acks != 0
	}
	if expect {
		if err := c.enqueue(inflight{corr: h.corr, key: h.key, version: h.version, start: time.Now()}); err != nil {
			return err
		}
	}
	if err := c.writeUp(n); err != nil {
		return err
	}
	c.cm.request(h.key, h.version, n)
	c.cr.release()
	return nil
}

// checkRequestSize validates a request's size prefix, naming the protocol a client
// most likely spoke when the prefix is not a Kafka size at all.
func checkRequestSize(prefix []byte, size, max int32) error {
	switch {
	case prefix[0] == 0x16 && prefix[1] == 0x03:
		return fmt.Errorf("client sent a TLS handshake to a plaintext listener: %w", errMalformed)
	case bytes.HasPrefix(prefix, []byte("GET ")), bytes.HasPrefix(prefix, []byte("POST")),
		bytes.HasPrefix(prefix, []byte("HEAD")), bytes.HasPrefix(prefix, []byte("PUT ")):
		return fmt.Errorf("client sent an HTTP request, not Kafka: %w", errMalformed)
	case size < 8:
		return fmt.Errorf("request frame of %d bytes is shorter than a request header: %w", size, errMalformed)
	case size > max:
		return fmt.Errorf("request of %d bytes (max %d): %w", size, max, ErrFrameTooLarge)
	}
	return nil
}

func (c *conn) writeUp(n int) error {
	if wt := c.p.cfg.writeTimeout; wt > 0 {
		_ = c.up.SetWriteDeadline(time.Now().Add(wt))
	}
	if err := c.cr.forward(c.up, n); err != nil {
		return fmt.Errorf("forward request to %s: %w", c.rt.dial, err)
	}
	return nil
}

// writeResponses is the writer: broker frames go to the client, rewritten where
// they carry broker addresses. It serves what the broker sent until nothing is
// buffered, then hands on to writeIdle on a fresh goroutine (see serve).
func (c *conn) writeResponses() {
	for {
		if c.ur.buffered() == 0 {
			c.ur.release()
			go c.writeIdle()
			return
		}
		size, err := c.ur.header(8)
		if err = c.writeResponse(size, err); err != nil {
			c.endWriter(err)
			return
		}
	}
}

// writeIdle starts a writer goroutine: it waits for the broker's next response
// with as shallow a stack as a read allows, then serves on.
//
//go:noinline
func (c *conn) writeIdle() {
	size, err := c.ur.header(8)
	if err = c.writeResponse(size, err); err != nil {
		c.endWriter(err)
		return
	}
	c.writeResponses()
}

// writeResponse delivers the response whose size header(8) returned, or turns
// the error it returned into the writer's result.
func (c *conn) writeResponse(size int32, err error) error {
	if err != nil {
		if errors.Is(err, io.EOF) && c.ur.buffered() == 0 {
			return io.EOF
		}
		return fmt.Errorf("read response from %s: %w", c.rt.dial, err)
	}
	if size < 4 {
		return fmt.Errorf("response frame of %d bytes from %s: %w", size, c.rt.dial, errMalformed)
	}
	corr := int32(binary.BigEndian.Uint32(c.ur.peek(8)[4:]))
	req, ok := c.dequeue()
	if !ok {
		return fmt.Errorf("correlation id %d from %s with nothing in flight: %w", corr, c.rt.dial, ErrUnexpectedResponse)
	}
	if corr != req.corr {
		return fmt.Errorf("correlation id %d from %s, expected %d (%s): %w", corr, c.rt.dial, req.corr, keyName(req.key), ErrUnexpectedResponse)
	}
	n := int(size) + 4
	if req.own != nil {
		frame, err := c.ur.readWhole(n)
		if err != nil {
			close(req.own)
			return fmt.Errorf("read response from %s: %w", c.rt.dial, err)
		}
		req.own <- append([]byte(nil), frame...)
		c.p.pools.put(frame)
		c.ur.release()
		c.answered()
		return nil
	}
	c.writeMu.Lock()
	if wt := c.p.cfg.writeTimeout; wt > 0 {
		_ = c.client.SetWriteDeadline(time.Now().Add(wt))
	}
	if rw := rewriterFor(req.key, req.version); rw != nil {
		n, err = c.rewrite(req, n, rw)
	} else if err = c.ur.forward(c.client, n); err != nil {
		err = fmt.Errorf("forward response to client: %w", err)
	}
	c.writeMu.Unlock()
	if err != nil {
		return err
	}
	c.cm.observe(req.key, time.Since(req.start).Seconds(), n)
	c.ur.release()
	c.answered()
	return nil
}

// enqueue registers a request whose response the writer must expect; it blocks
// while MaxInFlight requests are unanswered (back-pressure on the client) and fails
// once the writer is gone instead of waiting for it forever.
func (c *conn) enqueue(e inflight) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending)-int(c.head) >= c.p.cfg.maxInFlight && !c.writerDone {
		c.cond.Wait() // the writer broadcasts as it matches responses
	}
	if c.writerDone {
		return fmt.Errorf("broker connection %s closed: %w", c.rt.dial, net.ErrClosed)
	}
	c.outstanding++
	c.pending = append(c.pending, e)
	return nil
}

// dequeue takes the oldest pending request, if any.
func (c *conn) dequeue() (inflight, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(c.head) == len(c.pending) {
		return inflight{}, false
	}
	e := c.pending[c.head]
	c.head++
	if int(c.head) == len(c.pending) {
		// Empty: reuse a small backing array, drop a large one a burst grew.
		if cap(c.pending) > 64 {
			c.pending = nil
		} else {
			c.pending = c.pending[:0]
		}
		c.head = 0
	}
	c.cond.Broadcast()
	return e, true
}

// answered notes one response delivered.
func (c *conn) answered() {
	c.mu.Lock()
	c.outstanding--
	if c.outstanding == 0 {
		c.cond.Broadcast()
	}
	c.mu.Unlock()
}

// waitOutstanding blocks until every forwarded request has its response written,
// the writer is gone, or deadline passes (then the connection is closed). It
// reports whether all responses were written.
func (c *conn) waitOutstanding(deadline time.Time) bool {
	stop := time.AfterFunc(time.Until(deadline), func() {
		c.close()
		c.mu.Lock()
		c.writerDone = true
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.outstanding > 0 && !c.writerDone {
		c.cond.Wait()
	}
	return c.outstanding == 0
}
