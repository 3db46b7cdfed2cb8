package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// dialBroker connects to r's broker: TCP, then TLS and SASL when configured. It
// returns the SASL session lifetime the broker set (0: none).
func (p *Proxy) dialBroker(ctx context.Context, r *route) (net.Conn, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.dialTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: p.cfg.keepAlive}
	nc, err := d.DialContext(ctx, "tcp", r.dial)
	if err != nil {
		return nil, 0, fmt.Errorf("dial %s: %w: %w", r.dial, ErrUpstreamUnreachable, err)
	}
	p.tuneSocket(nc)
	host, _, _ := net.SplitHostPort(r.dial)
	if tc := p.cfg.upstreamTLS; tc != nil {
		if tc.ServerName == "" {
			tc = tc.Clone()
			tc.ServerName = host
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			p.m.upstreamFailures.WithLabelValues("tls").Inc()
			return nil, 0, fmt.Errorf("TLS handshake with %s: %w: %w", r.dial, ErrUpstreamUnreachable, err)
		}
		nc = tlsConn
	}
	var lifetime time.Duration
	if p.cfg.upstreamSASL != nil || p.cfg.upstreamHandshake != nil {
		if dl, ok := ctx.Deadline(); ok {
			_ = nc.SetDeadline(dl)
		}
		if m := p.cfg.upstreamSASL; m != nil {
			if lifetime, err = saslToBroker(ctx, connExchanger(nc), host, m); err != nil {
				_ = nc.Close()
				p.m.upstreamFailures.WithLabelValues("sasl").Inc()
				return nil, 0, fmt.Errorf("authenticate to %s: %w: %w", r.dial, ErrUpstreamUnreachable, err)
			}
		}
		if h := p.cfg.upstreamHandshake; h != nil {
			if err := h(ctx, nc); err != nil {
				_ = nc.Close()
				return nil, 0, fmt.Errorf("handshake with %s: %w: %w", r.dial, ErrUpstreamUnreachable, err)
			}
		}
		_ = nc.SetDeadline(time.Time{})
	}
	return nc, lifetime, nil
}
