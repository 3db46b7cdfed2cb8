package proxy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// KIP-368: a broker that sets a SASL session lifetime closes connections that do
// not re-authenticate in time. The proxy re-authenticates its broker connection at
// 85-95% of the lifetime (as the Java client does), between two client requests
// once every earlier response was delivered, so client traffic waits a round trip
// or two but is never dropped.

// nextReauth returns when the session established now with lifetime must be renewed.
func nextReauth(lifetime time.Duration) time.Time {
	if lifetime <= 0 {
		return time.Time{}
	}
	frac := 0.85 + rand.Float64()*0.10 //nolint:gosec // jitter, not security
	return time.Now().Add(time.Duration(float64(lifetime) * frac))
}

// pipelineExchanger exchanges through the running connection: the request is
// queued like a client's, and the writer hands its answer back instead of sending
// it to the client.
func (c *conn) pipelineExchanger() exchanger {
	return func(req kmsg.Request, resp kmsg.Response, corr int32) error {
		ch := make(chan []byte, 1)
		if err := c.enqueue(inflight{corr: corr, key: req.Key(), version: req.GetVersion(), start: time.Now(), own: ch}); err != nil {
			return err
		}
		if wt := c.p.cfg.writeTimeout; wt > 0 {
			_ = c.up.SetWriteDeadline(time.Now().Add(wt))
		}
		if _, err := c.up.Write(appendRequest(nil, req, corr, proxyClientID)); err != nil {
			return fmt.Errorf("write %s: %w", keyName(req.Key()), err)
		}
		timer := time.NewTimer(c.p.cfg.dialTimeout)
		defer timer.Stop()
		select {
		case frame, ok := <-ch:
			if !ok {
				return fmt.Errorf("broker connection closed during re-authentication: %w", net.ErrClosed)
			}
			return decodeOwnResponse(frame[4:], req, resp, corr)
		case <-c.wdone:
			return fmt.Errorf("broker connection closed during re-authentication: %w", net.ErrClosed)
		case <-timer.C:
			return fmt.Errorf("re-authentication timed out after %s", c.p.cfg.dialTimeout)
		}
	}
}

// reauthenticate renews the broker session on the live connection.
func (c *conn) reauthenticate(ctx context.Context) error {
	if !c.waitOutstanding(time.Now().Add(c.p.cfg.dialTimeout)) {
		return fmt.Errorf("re-authentication: responses still in flight after %s", c.p.cfg.dialTimeout)
	}
	host, _, _ := net.SplitHostPort(c.rt.dial)
	lifetime, err := saslToBroker(ctx, c.pipelineExchanger(), host, c.p.cfg.upstreamSASL)
	if err != nil {
		c.p.m.upstreamFailures.WithLabelValues("reauth").Inc()
		return fmt.Errorf("re-authenticate to %s: %w: %w", c.rt.dial, ErrUpstreamUnreachable, err)
	}
	c.p.m.reauths.Inc()
	c.reauthAt = nextReauth(lifetime)
	c.p.log.Debug("re-authenticated to broker", "broker", c.rt.dial, "lifetime", lifetime)
	return nil
}
