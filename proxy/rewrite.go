package proxy

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// rewriteFn rewrites the broker addresses in a decoded response in place and
// reports whether it changed anything. It returns an error, and the response is
// refused, when a broker cannot be mapped: an internal address must never reach a
// client.
type rewriteFn func(p *Proxy, resp kmsg.Response) (changed bool, err error)

// rewriterFor returns the rewriter for a response, or nil when the response carries
// no broker address in that version and is streamed through undecoded.
func rewriterFor(key, version int16) rewriteFn {
	switch key {
	case 0:
		if version >= 10 {
			return rewriteProduce
		}
	case 1:
		if version >= 16 {
			return rewriteFetch
		}
	case 3:
		return rewriteMetadata
	case 10:
		return rewriteFindCoordinator
	case 18:
		return rewriteAPIVersions
	case 55:
		if version >= 2 {
			return rewriteDescribeQuorum
		}
	case 60:
		return rewriteDescribeCluster
	case 78:
		return rewriteShareFetch
	case 79:
		return rewriteShareAcknowledge
	}
	return nil
}

func keyName(key int16) string {
	if n := kmsg.NameForKey(key); n != "" {
		return n
	}
	return "key " + strconv.Itoa(int(key))
}

// rewriteFrame decodes a whole response frame (with its size prefix), applies rw
// and returns the frame to send: the original when nothing changed, else a new
// encoding in a pooled buffer (second result true).
func (p *Proxy) rewriteFrame(frame []byte, req inflight, rw rewriteFn) ([]byte, bool, error) {
	hl, err := respHeaderLen(frame[4:], req.key, req.version)
	if err != nil {
		return nil, false, err
	}
	body := frame[4+hl:]
	resp := kmsg.ResponseForKey(req.key)
	resp.SetVersion(req.version)
	// A broker that does not support the ApiVersions version asked for answers
	// in v0 with UNSUPPORTED_VERSION, as clients expect.
	if req.key == 18 && len(body) >= 2 && binary.BigEndian.Uint16(body) == 35 {
		resp.SetVersion(0)
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, false, fmt.Errorf("decode %s v%d response: %w: %w", keyName(req.key), req.version, errMalformed, err)
	}
	changed, err := rw(p, resp)
	if err != nil || !changed {
		return frame, false, err
	}
	out := p.pools.get(len(frame) + 256)[:0]
	out = append(out, 0, 0, 0, 0)
	out = append(out, frame[4:4+hl]...)
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, true, nil
}

// rewrite reads a whole response of n bytes, rewrites and writes it to the client;
// it returns the bytes written.
func (c *conn) rewrite(req inflight, n int, rw rewriteFn) (int, error) {
	frame, err := c.ur.readWhole(n)
	if err != nil {
		return 0, fmt.Errorf("read response from %s: %w", c.rt.dial, err)
	}
	defer c.p.pools.put(frame)
	out, fresh, err := c.p.rewriteFrame(frame, req, rw)
	if err != nil {
		c.p.log.Error("refusing response: it would reveal a broker address", "api", keyName(req.key), "version", req.version, "err", err)
		return 0, err
	}
	if fresh {
		defer c.p.pools.put(out)
		c.p.m.rewritten.WithLabelValues(c.rt.upstream, strconv.Itoa(int(req.key))).Inc()
	}
	if _, err := c.client.Write(out); err != nil {
		return 0, fmt.Errorf("write response to client: %w", err)
	}
	return len(out), nil
}

// mapEndpoint rewrites one host/port pair; it reports whether anything changed.
func mapEndpoint(p *Proxy, nodeID int32, host *string, port *int32) (bool, error) {
	h, pt, err := p.advertise(nodeID, *host, *port)
	if err != nil {
		return false, err
	}
	changed := h != *host || pt != *port
	*host, *port = h, pt
	return changed, nil
}
