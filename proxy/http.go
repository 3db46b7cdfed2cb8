package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Ready reports whether the proxy should receive traffic: it serves, is not
// draining, and at least one bootstrap broker accepts a TCP connection.
func (p *Proxy) Ready(ctx context.Context) error {
	p.mu.Lock()
	serving := p.serving
	var dials []string
	for _, bm := range p.cfg.bootstrap {
		dials = append(dials, p.routes[bm.Upstream].dial)
	}
	p.mu.Unlock()
	if !serving {
		return fmt.Errorf("not serving yet")
	}
	if p.draining.Load() {
		return fmt.Errorf("draining")
	}
	var lastErr error
	for _, addr := range dials {
		d := net.Dialer{Timeout: 2 * time.Second}
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = nc.Close()
			return nil
		}
		lastErr = err
	}
	return fmt.Errorf("no bootstrap broker reachable: %w", lastErr)
}

// HTTPHandler serves /healthz (the process is alive), /readyz (Ready) and /metrics
// (the Prometheus registry g).
func HTTPHandler(p *Proxy, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	var (
		mu      sync.Mutex
		checked time.Time
		last    error
	)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		// Cache the upstream probe briefly: probes from several load balancers must
		// not turn into a dial storm against the brokers.
		mu.Lock()
		if time.Since(checked) > time.Second || p.Draining() {
			last = p.Ready(r.Context())
			checked = time.Now()
		}
		err := last
		mu.Unlock()
		if err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if g != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	return mux
}
