package bridgetest

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
)

// ConnBreaker is a dialer that can kill a connection right after a request
// of a given API key is written to it: the broker receives and applies the
// request, the client never sees the answer. That is the "unknown outcome"
// case (a lost EndTxn response) that fault codes cannot express. It assumes
// plaintext connections, where every request starts with its size and key.
type ConnBreaker struct {
	mu     sync.Mutex
	key    int16
	left   int
	broken atomic.Int64
	d      net.Dialer
}

// BreakAfter arms the breaker for the next n requests with API key key.
func (b *ConnBreaker) BreakAfter(key int16, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.key, b.left = key, n
}

// Broken returns how many connections were killed.
func (b *ConnBreaker) Broken() int { return int(b.broken.Load()) }

// DialContext dials like net.Dialer and wraps the connection.
func (b *ConnBreaker) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := b.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &breakConn{Conn: c, b: b}, nil
}

type breakConn struct {
	net.Conn
	b *ConnBreaker
}

func (c *breakConn) Write(p []byte) (int, error) {
	kill := false
	if len(p) >= 6 {
		key := int16(binary.BigEndian.Uint16(p[4:6]))
		c.b.mu.Lock()
		if c.b.left > 0 && key == c.b.key {
			c.b.left--
			kill = true
		}
		c.b.mu.Unlock()
	}
	n, err := c.Conn.Write(p)
	if kill && err == nil {
		c.b.broken.Add(1)
		_ = c.Close()
	}
	return n, err
}
