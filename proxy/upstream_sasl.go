package proxy

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// proxyClientID names the proxy in requests it originates itself.
const proxyClientID = "airlock-proxy"

// exchanger sends one request of the proxy's own and decodes its answer.
type exchanger func(req kmsg.Request, resp kmsg.Response, corr int32) error

// connExchanger exchanges on a connection nothing else uses yet: the proxy's own
// exchanges before forwarding starts.
func connExchanger(nc net.Conn) exchanger {
	return func(req kmsg.Request, resp kmsg.Response, corr int32) error {
		return roundTrip(nc, req, resp, corr)
	}
}

// roundTrip sends req on a connection nothing else uses yet and decodes the answer
// into resp.
func roundTrip(nc net.Conn, req kmsg.Request, resp kmsg.Response, corr int32) error {
	if _, err := nc.Write(appendRequest(nil, req, corr, proxyClientID)); err != nil {
		return fmt.Errorf("write %s: %w", keyName(req.Key()), err)
	}
	var sz [4]byte
	if _, err := io.ReadFull(nc, sz[:]); err != nil {
		return fmt.Errorf("read %s response: %w", keyName(req.Key()), err)
	}
	n := binary.BigEndian.Uint32(sz[:])
	if n < 4 || n > 16<<20 {
		return fmt.Errorf("%s response of %d bytes: %w", keyName(req.Key()), n, errMalformed)
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(nc, frame); err != nil {
		return fmt.Errorf("read %s response: %w", keyName(req.Key()), err)
	}
	return decodeOwnResponse(frame, req, resp, corr)
}

// decodeOwnResponse decodes the answer (a frame without size prefix) to a request
// the proxy sent itself.
func decodeOwnResponse(frame []byte, req kmsg.Request, resp kmsg.Response, corr int32) error {
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		return fmt.Errorf("%s response with correlation id %d, want %d: %w", keyName(req.Key()), got, corr, ErrUnexpectedResponse)
	}
	resp.SetVersion(req.GetVersion())
	hl := 4
	if resp.Key() != 18 && resp.IsFlexible() {
		hl = 5 // the proxy's own requests get an empty header tag buffer back
	}
	if len(frame) < hl {
		return errMalformed
	}
	if err := resp.ReadFrom(frame[hl:]); err != nil {
		return fmt.Errorf("decode %s response: %w: %w", keyName(req.Key()), errMalformed, err)
	}
	return nil
}

// saslToBroker authenticates nc to a broker with m (SaslHandshake v1 and
// SaslAuthenticate v1, Kafka 1.0+). It returns the session lifetime the broker set
// (KIP-368), zero when it set none.
func saslToBroker(ctx context.Context, ex exchanger, host string, m sasl.Mechanism) (time.Duration, error) {
	hreq := kmsg.NewPtrSASLHandshakeRequest()
	hreq.SetVersion(1)
	hreq.Mechanism = m.Name()
	hresp := kmsg.NewPtrSASLHandshakeResponse()
	if err := ex(hreq, hresp, 1); err != nil {
		return 0, err
	}
	if err := kerr.ErrorForCode(hresp.ErrorCode); err != nil {
		return 0, fmt.Errorf("SASL handshake for %s (broker offers %v): %w", m.Name(), hresp.SupportedMechanisms, err)
	}
	session, clientWrite, err := m.Authenticate(ctx, host)
	if err != nil {
		return 0, fmt.Errorf("SASL %s: %w", m.Name(), err)
	}
	var lifetime time.Duration
	corr := int32(2)
	for done := false; !done || len(clientWrite) > 0; corr++ {
		areq := kmsg.NewPtrSASLAuthenticateRequest()
		areq.SetVersion(1)
		areq.SASLAuthBytes = clientWrite
		aresp := kmsg.NewPtrSASLAuthenticateResponse()
		if err := ex(areq, aresp, corr); err != nil {
			return 0, err
		}
		if err := kerr.ErrorForCode(aresp.ErrorCode); err != nil {
			msg := ""
			if aresp.ErrorMessage != nil {
				msg = ": " + *aresp.ErrorMessage
			}
			return 0, fmt.Errorf("SASL %s authentication%s: %w", m.Name(), msg, err)
		}
		lifetime = time.Duration(aresp.SessionLifetimeMillis) * time.Millisecond
		clientWrite = nil
		if !done {
			if done, clientWrite, err = session.Challenge(aresp.SASLAuthBytes); err != nil {
				return 0, fmt.Errorf("SASL %s challenge: %w", m.Name(), err)
			}
		}
	}
	return lifetime, nil
}
