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

// conn is one client connection and its broker connection. Exactly two goroutines
// serve it: the reader (client -> broker, the goroutine that runs serve) and the
// writer (broker -> client). Responses are matched to requests by correlation id in
// request order, as Kafka brokers answer in order on a connection.
type conn struct {
	p      *Proxy
	rt     *route
	client net.Conn
	up     net.Conn
	cm     *connMetrics

	cr frameReader // client side
	ur frameReader // broker side

	// wdone is closed when the writer goroutine has exited.
	wdone chan struct{}

	// outstanding counts requests forwarded whose responses are not yet written to
	// the client; a locally answered request waits for zero to keep response order.
	mu          sync.Mutex
	cond        sync.Cond
	outstanding int
	writerDone  bool
	// pending[head:] are the forwarded requests awaiting their response, in order.
	// A slice that grows on demand, not a channel of MaxInFlight entries: that cost
	// 40 KiB per connection, idle or not.
	pending []inflight
	head    int

	// writeMu serializes writes to the client (writer goroutine, local answers).
	writeMu sync.Mutex

	// sessionLifetime is the broker's SASL session lifetime (KIP-368), 0 if none.
	sessionLifetime time.Duration
	// reauthAt is when the reader renews the broker session; zero: never.
	reauthAt time.Time
	// principal is the client's authenticated identity (local SASL), for logs.
	principal string

	draining      atomic.Bool
	drainDeadline atomic.Int64 // unix nanos
	closeOnce     sync.Once
}

func newConn(p *Proxy, r *route, nc net.Conn) *conn {
	c := &conn{p: p, rt: r, client: nc, cm: p.m.forConn(r.upstream)}
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

func (c *conn) serve(ctx context.Context) {
	// Build the connection's logger only when there is something to log: an idle
	// connection should not carry a handler clone for its whole life.
	log := func() *slog.Logger {
		return c.p.log.With("client", c.client.RemoteAddr().String(), "broker", c.rt.upstream)
	}
	c.p.m.connsTotal.WithLabelValues(c.rt.upstream).Inc()
	opened := c.p.m.openedConns.WithLabelValues(c.rt.upstream)
	opened.Inc()
	defer opened.Dec()
	defer c.cr.close()

	if err := c.admit(ctx); err != nil {
		c.close()
		var af *authFailure
		switch {
		case errors.As(err, &af):
			c.p.m.authFailures.WithLabelValues(af.reason).Inc()
			log().Warn("client authentication failed; closing", "reason", af.reason, "err", err)
		case errors.Is(err, errTLSHandshake):
			log().Warn("client TLS handshake failed; closing", "reason", tlsutil.Reason(err), "err", err)
		case isClosedErr(err):
			log().Debug("client left before authenticating")
		default:
			c.cm.error(errReason(err))
			log().Warn("closing client connection before authentication", "reason", errReason(err), "err", err)
		}
		return
	}
	// Dial on a goroutine of its own: TLS and SASL need a deep stack, and a stack
	// grown here would stay with this connection for as long as it is open.
	dialed := make(chan error, 1)
	go func() { dialed <- c.dialUpstream(ctx) }()
	if err := <-dialed; err != nil {
		c.cm.error(errReason(err))
		log().Warn("closing client connection: broker unreachable", "err", err)
		c.close()
		return
	}
	c.ur = frameReader{conn: c.up, pools: &c.p.pools}
	c.wdone = make(chan struct{})

	werr := make(chan error, 1)
	go func() {
		err := c.writeResponses()
		c.ur.close()
		c.mu.Lock()
		c.writerDone = true
		c.cond.Broadcast()
		c.mu.Unlock()
		close(c.wdone)
		// A broker that goes away takes the client connection with it, so the
		// client reconnects instead of waiting on a dead socket.
		c.close()
		werr <- err
	}()

	c.reauthAt = nextReauth(c.sessionLifetime)
	rerr := c.readRequests(ctx)
	if c.draining.Load() && errors.Is(rerr, errDrained) {
		// Let the writer deliver what was forwarded, until the drain deadline.
		c.waitOutstanding(time.Unix(0, c.drainDeadline.Load()))
	}
	c.close()
	err := <-werr
	switch {
	case rerr != nil && !isClosedErr(rerr) && !errors.Is(rerr, errDrained):
		err = rerr
	case err != nil && isClosedErr(err):
		err = nil
	}
	if err != nil {
		c.cm.error(errReason(err))
		log().Warn("connection closed on error", "reason", errReason(err), "err", err)
	} else {
		log().Debug("connection closed")
	}
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
	c.sessionLifetime = lifetime
	return nil
}

// readRequests is the reader goroutine: client frames go to the broker.
func (c *conn) readRequests(ctx context.Context) error {
	p := c.p
	idle := p.cfg.idleTimeout
	for {
		if !c.reauthAt.IsZero() && !time.Now().Before(c.reauthAt) {
			if err := c.reauthenticate(ctx); err != nil {
				return err
			}
		}
		if c.cr.buffered() < 12 && !c.draining.Load() {
			// Wake for the idle timeout or a due re-authentication, whichever is first.
			var dl time.Time
			if idle > 0 {
				dl = time.Now().Add(idle)
			}
			if !c.reauthAt.IsZero() && (dl.IsZero() || c.reauthAt.Before(dl)) {
				dl = c.reauthAt
			}
			if !dl.IsZero() {
				_ = c.client.SetReadDeadline(dl)
			}
		}
		size, err := c.cr.header(4)
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
				continue // re-authenticate at the top of the loop, then read on
			case errors.As(err, &ne) && ne.Timeout():
				return fmt.Errorf("client idle for %s: %w", idle, err)
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
			if err := c.refuse(h, n); err != nil {
				return err
			}
			continue
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
	}
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

// writeResponses is the writer goroutine: broker frames go to the client, rewritten
// where they carry broker addresses.
func (c *conn) writeResponses() error {
	for {
		size, err := c.ur.header(8)
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
			continue
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
	}
}

// enqueue registers a request whose response the writer must expect; it blocks
// while MaxInFlight requests are unanswered (back-pressure on the client) and fails
// once the writer is gone instead of waiting for it forever.
func (c *conn) enqueue(e inflight) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending)-c.head >= c.p.cfg.maxInFlight && !c.writerDone {
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
	if c.head == len(c.pending) {
		return inflight{}, false
	}
	e := c.pending[c.head]
	c.head++
	if c.head == len(c.pending) {
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
