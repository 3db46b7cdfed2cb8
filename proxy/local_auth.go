package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/airlock-kafka/airlock/proxy/auth"
)

// preAuthMaxFrame bounds frames from clients that have not authenticated: SASL and
// ApiVersions requests are small, and an anonymous peer gets no large buffers.
const preAuthMaxFrame = 64 << 10

var errAuthFailed = errors.New("client authentication failed")

// authFailure is a failed local authentication, carrying the metric label.
type authFailure struct {
	reason string
	err    error
}

func (e *authFailure) Error() string { return e.err.Error() }
func (e *authFailure) Unwrap() []error {
	return []error{e.err, errAuthFailed}
}

// authenticate runs the local SASL exchange with the client before any broker
// connection exists: ApiVersions is answered from cached broker versions,
// SaslHandshake and SaslAuthenticate by the authenticator, and anything else is
// refused with ILLEGAL_SASL_STATE.
func (c *conn) authenticate(ctx context.Context) error {
	a := c.p.cfg.localAuth
	_ = c.client.SetReadDeadline(time.Now().Add(c.p.cfg.handshakeTimeout))
	defer func() { _ = c.client.SetReadDeadline(time.Time{}) }()
	var session auth.Session
	for {
		h, frame, err := c.readSmallFrame()
		if err != nil {
			return err
		}
		body, err := requestBody(frame[4:], h)
		if err != nil {
			c.cr.pools.put(frame)
			return err
		}
		req := kmsg.RequestForKey(h.key)
		if req == nil {
			c.cr.pools.put(frame)
			return fmt.Errorf("api key %d: %w", h.key, ErrUnknownAPIKey)
		}
		req.SetVersion(h.version)
		decodeErr := req.ReadFrom(body)
		// kmsg's byte fields alias the frame: copy the SASL bytes out before the
		// frame goes back to the pool another connection draws from.
		if ar, ok := req.(*kmsg.SASLAuthenticateRequest); ok {
			ar.SASLAuthBytes = bytes.Clone(ar.SASLAuthBytes)
		}
		c.cr.pools.put(frame)
		if decodeErr != nil && h.key != 18 {
			return fmt.Errorf("decode %s before authentication: %w: %w", keyName(h.key), errMalformed, decodeErr)
		}
		switch h.key {
		case 18:
			cached, err := c.p.brokerVersions(ctx, c.rt)
			if err != nil {
				return err
			}
			if err := c.writeLocal(h, localAPIVersions(cached, h.version)); err != nil {
				return err
			}
		case 17:
			hreq := req.(*kmsg.SASLHandshakeRequest)
			resp := hreq.ResponseKind().(*kmsg.SASLHandshakeResponse)
			resp.SupportedMechanisms = a.Mechanisms()
			session, err = a.StartFrom(c.client.RemoteAddr().String(), hreq.Mechanism)
			if err != nil {
				resp.ErrorCode = auth.KafkaError(err).Code
				_ = c.writeLocal(h, resp)
				return &authFailure{auth.Reason(err), fmt.Errorf("SASL handshake for %q: %w", hreq.Mechanism, err)}
			}
			if err := c.writeLocal(h, resp); err != nil {
				return err
			}
			if h.version == 0 {
				// v0: the exchange continues in raw, unframed SASL tokens.
				return c.rawSASL(ctx, session)
			}
		case 36:
			areq := req.(*kmsg.SASLAuthenticateRequest)
			resp := areq.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			if session == nil {
				resp.ErrorCode = kerr.IllegalSaslState.Code
				resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate before SaslHandshake")
				_ = c.writeLocal(h, resp)
				return &authFailure{auth.ReasonIllegalState, errors.New("SaslAuthenticate before SaslHandshake")}
			}
			out, done, err := session.Step(ctx, areq.SASLAuthBytes)
			resp.SASLAuthBytes = out
			if err != nil {
				resp.ErrorCode = auth.KafkaError(err).Code
				resp.ErrorMessage = kmsg.StringPtr(auth.ClientMessage(err))
				_ = c.writeLocal(h, resp)
				return &authFailure{auth.Reason(err), fmt.Errorf("SASL %s: %w", session.Mechanism(), err)}
			}
			if err := c.writeLocal(h, resp); err != nil {
				return err
			}
			if done {
				c.authenticated(session)
				return nil
			}
		default:
			resp := req.ResponseKind()
			resp.SetVersion(h.version)
			if fillErrors(req, resp, kerr.IllegalSaslState.Code, kerr.IllegalSaslState.Code) {
				_ = c.writeLocal(h, resp)
			}
			return &authFailure{"before_auth", fmt.Errorf("%s before SASL authentication: %w", keyName(h.key), kerr.IllegalSaslState)}
		}
	}
}

func (c *conn) authenticated(s auth.Session) {
	c.p.m.authSuccesses.WithLabelValues(s.Mechanism()).Inc()
	c.p.log.Debug("client authenticated", "client", c.client.RemoteAddr().String(), "principal", s.Principal(), "mechanism", s.Mechanism())
}

// rawSASL continues a SaslHandshake v0 exchange: 4-byte length-prefixed tokens
// both ways, and on failure the connection just closes, as Kafka does.
func (c *conn) rawSASL(ctx context.Context, s auth.Session) error {
	for {
		if err := c.cr.fill(4, false); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(c.cr.peek(4)))
		if n > preAuthMaxFrame {
			return &authFailure{auth.ReasonMalformed, fmt.Errorf("raw SASL token of %d bytes: %w", n, errMalformed)}
		}
		tok, err := c.cr.readWhole(n + 4)
		if err != nil {
			return err
		}
		out, done, err := s.Step(ctx, tok[4:])
		c.cr.pools.put(tok)
		if err != nil {
			return &authFailure{auth.Reason(err), fmt.Errorf("SASL %s (v0): %w", s.Mechanism(), err)}
		}
		frame := binary.BigEndian.AppendUint32(nil, uint32(len(out)))
		if _, err := c.client.Write(append(frame, out...)); err != nil {
			return err
		}
		if done {
			c.authenticated(s)
			return nil
		}
	}
}

// readSmallFrame reads one whole request frame of an unauthenticated client.
func (c *conn) readSmallFrame() (reqHeader, []byte, error) {
	size, err := c.cr.header(4)
	if err == nil {
		err = checkRequestSize(c.cr.peek(4), size, preAuthMaxFrame)
	}
	if err == nil {
		err = c.cr.fill(12, true)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return reqHeader{}, nil, err
		}
		return reqHeader{}, nil, fmt.Errorf("before authentication: %w", err)
	}
	h := parseReqHeader(c.cr.peek(12)[4:])
	frame, err := c.cr.readWhole(int(size) + 4)
	return h, frame, err
}

// writeLocal sends a response the proxy produced itself.
func (c *conn) writeLocal(h reqHeader, resp kmsg.Response) error {
	out := appendResponse(make([]byte, 0, 128), resp, h.corr)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if wt := c.p.cfg.writeTimeout; wt > 0 {
		_ = c.client.SetWriteDeadline(time.Now().Add(wt))
	}
	if _, err := c.client.Write(out); err != nil {
		return fmt.Errorf("write %s response to client: %w", keyName(h.key), err)
	}
	return nil
}
