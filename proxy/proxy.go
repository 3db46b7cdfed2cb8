package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// route is one broker as the proxy presents it: the upstream address it stands for,
// the address it dials, the address clients are told and, unless external, the
// listener it accepts on.
type route struct {
	upstream string
	dial     string
	advHost  string
	advPort  int32
	ln       net.Listener
	dynamic  bool
}

// Proxy is a Kafka protocol proxy: one listener per upstream broker, responses
// rewritten so clients only ever learn proxy addresses.
type Proxy struct {
	cfg   cfg
	log   *slog.Logger
	m     *metrics
	pools bufPools

	mu       sync.Mutex
	routes   map[string]*route // by upstream address
	nextPort int
	conns    map[*conn]struct{}
	serving  bool
	serveCtx context.Context
	accepts  sync.WaitGroup
	handlers sync.WaitGroup

	versions versionCache

	draining atomic.Bool
	// upstreamKeys records API keys a broker advertised, so keys newer than kmsg still
	// pass through instead of being refused as unknown.
	upstreamKeys [maxKnownKey]atomic.Bool

	defaultBindHost string
	defaultAdvHost  string
	done            chan struct{}
}

// Done is closed when Run has returned: listeners and connections are closed.
func (p *Proxy) Done() <-chan struct{} { return p.done }

// New opens a listener for every bootstrap mapping. Call Run to serve.
func New(opts ...Opt) (*Proxy, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if len(c.bootstrap) == 0 {
		return nil, fmt.Errorf("%w: at least one bootstrap server mapping is required", ErrBadMapping)
	}
	p := &Proxy{
		cfg:      c,
		log:      c.logger,
		m:        newMetrics(c.registry),
		routes:   map[string]*route{},
		conns:    map[*conn]struct{}{},
		nextPort: c.dynamicMinPort,
		done:     make(chan struct{}),
	}
	for _, bm := range c.bootstrap {
		if _, dup := p.routes[bm.Upstream]; dup {
			p.closeListeners()
			return nil, fmt.Errorf("%w: upstream %s mapped twice", ErrBadMapping, bm.Upstream)
		}
		ln, err := p.listen(bm.Listen)
		if err != nil {
			p.closeListeners()
			return nil, fmt.Errorf("listen for %s: %w", bm.Upstream, err)
		}
		lhost, lport, _ := splitHostPort(ln.Addr().String())
		r := &route{upstream: bm.Upstream, dial: p.dialAddr(bm.Upstream), ln: ln}
		if bm.Advertised != "" {
			r.advHost, r.advPort, _ = splitHostPort(bm.Advertised)
		} else {
			h, _, _ := splitHostPort(bm.Listen)
			r.advHost, r.advPort = advertisableHost(h, lhost), lport
		}
		p.routes[bm.Upstream] = r
		p.m.listeners.WithLabelValues("bootstrap").Inc()
		if p.defaultBindHost == "" {
			p.defaultBindHost, _, _ = splitHostPort(bm.Listen)
			p.defaultAdvHost = r.advHost
		}
	}
	if c.dynamicBindHost != "" {
		p.defaultBindHost = c.dynamicBindHost
	}
	return p, nil
}

// advertisableHost returns a host clients can dial for a listener bound to host:
// never a wildcard address.
func advertisableHost(configured, bound string) string {
	if !isUnspecified(configured) {
		return configured
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return bound
}

func (p *Proxy) dialAddr(upstream string) string {
	if d, ok := p.cfg.dial[upstream]; ok {
		return d
	}
	return upstream
}

func (p *Proxy) listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: p.cfg.keepAlive}
	return lc.Listen(context.Background(), "tcp", addr)
}

// Addrs returns the upstream -> listen address of every listener (bootstrap and
// dynamic), for tests and logs.
func (p *Proxy) Addrs() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for up, r := range p.routes {
		if r.ln != nil {
			out[up] = r.ln.Addr().String()
		}
	}
	return out
}

// BootstrapAddrs returns the listen addresses of the bootstrap listeners, in the
// order they were configured.
func (p *Proxy) BootstrapAddrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.cfg.bootstrap))
	for _, bm := range p.cfg.bootstrap {
		out = append(out, p.routes[bm.Upstream].ln.Addr().String())
	}
	return out
}

// Run serves until ctx is done, then drains: listeners close, in-flight requests
// get their responses for up to the shutdown timeout, then every connection closes.
// Canceling force (if non-nil) cuts the drain short.
func (p *Proxy) Run(ctx context.Context) error {
	return p.RunWithForce(ctx, nil)
}

// RunWithForce is Run with a second context whose cancellation (a second signal)
// ends the drain at once.
func (p *Proxy) RunWithForce(ctx, force context.Context) error {
	p.mu.Lock()
	if p.serving {
		p.mu.Unlock()
		return errors.New("proxy: Run called twice")
	}
	p.serving = true
	p.serveCtx = ctx
	for _, r := range p.routes {
		if r.ln != nil {
			p.startAccept(r)
		}
	}
	p.mu.Unlock()
	p.log.Info("proxy serving", "listeners", p.Addrs())

	<-ctx.Done()
	defer close(p.done)
	return p.shutdown(force)
}

// startAccept runs the accept loop of r; p.mu held.
func (p *Proxy) startAccept(r *route) {
	p.accepts.Add(1)
	go func() {
		defer p.accepts.Done()
		p.acceptLoop(r)
	}()
}

func (p *Proxy) acceptLoop(r *route) {
	var backoff time.Duration
	for {
		nc, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off instead of spinning.
			backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed", "listener", r.ln.Addr().String(), "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		p.tuneSocket(nc)
		c := newConn(p, r, nc)
		p.mu.Lock()
		if p.draining.Load() {
			p.mu.Unlock()
			_ = nc.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.handlers.Add(1)
		p.mu.Unlock()
		go c.serve()
	}
}

// connDone forgets a connection that has finished.
func (p *Proxy) connDone(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	p.handlers.Done()
}

func (p *Proxy) tuneSocket(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	if p.cfg.readBuffer > 0 {
		_ = tc.SetReadBuffer(p.cfg.readBuffer)
	}
	if p.cfg.writeBuffer > 0 {
		_ = tc.SetWriteBuffer(p.cfg.writeBuffer)
	}
}

// Draining reports whether the proxy is shutting down.
func (p *Proxy) Draining() bool { return p.draining.Load() }

func (p *Proxy) shutdown(force context.Context) error {
	p.draining.Store(true)
	p.m.draining.Set(1)
	p.closeListeners()
	p.accepts.Wait()

	p.mu.Lock()
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	deadline := time.Now().Add(p.cfg.shutdownTimeout)
	p.log.Info("draining", "connections", len(conns), "timeout", p.cfg.shutdownTimeout)
	for _, c := range conns {
		c.drain(deadline)
	}

	done := make(chan struct{})
	go func() { p.handlers.Wait(); close(done) }()
	var forceDone <-chan struct{}
	if force != nil {
		forceDone = force.Done()
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-done:
		p.log.Info("drained", "connections", len(conns))
		return nil
	case <-timer.C:
	case <-forceDone:
	}
	p.mu.Lock()
	left := len(p.conns)
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	<-done
	p.log.Warn("drain cut short; closed connections with requests in flight", "connections", left)
	return nil
}

func (p *Proxy) closeListeners() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.routes {
		if r.ln != nil {
			_ = r.ln.Close()
		}
	}
}

// noteUpstreamKeys records the keys an ApiVersions response advertised.
func (p *Proxy) noteUpstreamKeys(keys []int16) {
	for _, k := range keys {
		if k >= 0 && int(k) < maxKnownKey {
			p.upstreamKeys[k].Store(true)
		}
	}
}

func (p *Proxy) keyKnown(key int16) bool {
	if lookupKey(key).known {
		return true
	}
	return key >= 0 && int(key) < maxKnownKey && p.upstreamKeys[key].Load()
}
