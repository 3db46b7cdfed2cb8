package proxy

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// advertise returns the address clients must be told for the broker nodeID that
// advertises host:port upstream, opening a dynamic listener when needed. It never
// returns the upstream address itself unless a mapping says so.
func (p *Proxy) advertise(nodeID int32, host string, port int32) (string, int32, error) {
	addr := joinHostPort(host, port)
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.routes[addr]; ok {
		return r.advHost, r.advPort, nil
	}
	if ext, ok := p.cfg.external[addr]; ok {
		h, pt, err := splitHostPort(ext)
		return h, pt, err
	}
	if !p.cfg.dynamic {
		return "", 0, &UnmappedError{NodeID: nodeID, Addr: addr, Hint: fmt.Sprintf(
			"dynamic listeners are disabled: add --external-server-mapping %q or --bootstrap-server-mapping %q",
			addr+",ADVERTISED_HOST:PORT", addr+",LISTEN_HOST:PORT")}
	}
	if p.draining.Load() || !p.serving {
		return "", 0, &UnmappedError{NodeID: nodeID, Addr: addr, Hint: "the proxy is shutting down and opens no new listeners"}
	}
	r, err := p.openDynamic(nodeID, host, port, addr)
	if err != nil {
		return "", 0, &UnmappedError{NodeID: nodeID, Addr: addr, Hint: fmt.Sprintf(
			"opening a dynamic listener failed: %v; map it with --bootstrap-server-mapping %q", err, addr+",LISTEN_HOST:PORT")}
	}
	return r.advHost, r.advPort, nil
}

// openDynamic opens a listener for a broker seen in a response; p.mu held.
func (p *Proxy) openDynamic(nodeID int32, upHost string, upPort int32, addr string) (*route, error) {
	ln, err := p.listenDynamic(nodeID)
	if err != nil {
		return nil, err
	}
	_, lport, _ := splitHostPort(ln.Addr().String())
	r := &route{upstream: addr, dial: p.dialAddr(addr), ln: ln, dynamic: true}
	if p.cfg.dynamicAdvertised != nil {
		r.advHost, r.advPort, err = renderAdvertised(p.cfg.dynamicAdvertised, advertisedData{
			NodeID: nodeID, Port: lport, UpstreamHost: upHost, UpstreamPort: upPort,
		})
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
	} else {
		r.advHost, r.advPort = p.defaultAdvHost, lport
	}
	p.routes[addr] = r
	p.m.listeners.WithLabelValues("dynamic").Inc()
	p.startAccept(r)
	p.log.Info("dynamic listener opened", "node_id", nodeID, "upstream", addr,
		"listen", ln.Addr().String(), "advertised", joinHostPort(r.advHost, r.advPort))
	return r, nil
}

func (p *Proxy) listenDynamic(nodeID int32) (net.Listener, error) {
	host := p.defaultBindHost
	switch {
	case p.cfg.dynamicNodeIDPorts:
		port := p.cfg.dynamicMinPort + int(nodeID)
		return p.listen(net.JoinHostPort(host, strconv.Itoa(port)))
	case p.cfg.dynamicMinPort > 0:
		// Sequential: skip ports someone else holds, but do not scan forever.
		var lastErr error
		for range 100 {
			port := p.nextPort
			p.nextPort++
			if port > 65535 {
				return nil, errors.New("dynamic sequential ports exhausted")
			}
			ln, err := p.listen(net.JoinHostPort(host, strconv.Itoa(port)))
			if err == nil {
				return ln, nil
			}
			lastErr = err
		}
		return nil, lastErr
	default:
		return p.listen(net.JoinHostPort(host, "0"))
	}
}
