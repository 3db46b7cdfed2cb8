package testbroker

import (
	"fmt"
	"net"
	"strconv"
	"sync"
)

// kfake derives the address it advertises for a node (Metadata, FindCoordinator,
// DescribeCluster) from its listener's Addr(), and always asks to listen on
// 127.0.0.1. listenFn undoes both: it binds the configured host and makes Addr()
// report the advertised host with the real port, so a broker in a container binds
// 0.0.0.0 and advertises its network alias.

// advertisedAddr is the net.Addr kfake sees for a node.
type advertisedAddr struct {
	host string
	port int
}

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return net.JoinHostPort(a.host, strconv.Itoa(a.port)) }

// nodeListener binds the real address, reports the advertised one and tracks the
// connections it accepted: closing it (kfake does so on RemoveNode and Close) also
// closes them, so removing a node looks to clients like a broker going away rather
// than a node that silently keeps serving the connections it already had.
type nodeListener struct {
	net.Listener
	addr advertisedAddr

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

// listenFn returns a kfake.ListenFn that binds bindHost and advertises advHost.
// kfake passes "127.0.0.1:<port>"; only the port is kept. onListen is told about
// every listener so the broker can count connections per port.
func listenFn(bindHost, advHost string, onListen func(*nodeListener)) func(network, address string) (net.Listener, error) {
	return func(network, address string) (net.Listener, error) {
		_, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", address, err)
		}
		bind := net.JoinHostPort(bindHost, port)
		ln, err := net.Listen(network, bind)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", bind, err)
		}
		real, ok := ln.Addr().(*net.TCPAddr)
		if !ok {
			_ = ln.Close()
			return nil, fmt.Errorf("listen %s: not a TCP listener", bind)
		}
		host := advHost
		if host == "" {
			host = real.IP.String()
		}
		nl := &nodeListener{
			Listener: ln,
			addr:     advertisedAddr{host: host, port: real.Port},
			conns:    make(map[*trackedConn]struct{}),
		}
		if onListen != nil {
			onListen(nl)
		}
		return nl, nil
	}
}

// Addr reports the advertised host and the real port.
func (l *nodeListener) Addr() net.Addr { return l.addr }

// Accept tracks the accepted connection until it is closed.
func (l *nodeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// Close stops accepting and closes every connection accepted so far.
func (l *nodeListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = map[*trackedConn]struct{}{}
	l.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
	return err
}

// Conns returns the number of open client connections.
func (l *nodeListener) Conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *nodeListener) forget(c *trackedConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// trackedConn removes itself from its listener when closed.
type trackedConn struct {
	net.Conn
	l    *nodeListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.l.forget(c) })
	return c.Conn.Close()
}
