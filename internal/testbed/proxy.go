package testbed

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/testcontainers/testcontainers-go/wait"
)

// proxyStartMessage is what airlock-proxy logs once its listeners are bound.
const proxyStartMessage = "airlock-proxy starting"

// Proxy is a side's airlock-proxy container.
type Proxy struct {
	*Container
	Zone Zone

	mu   sync.Mutex
	http string // base URL of the HTTP endpoint on the host
}

// httpURL returns the base URL of the proxy's HTTP endpoint on the host.
func (p *Proxy) httpURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.http
}

// MetricsURL returns the proxy's /metrics URL on the host.
func (p *Proxy) MetricsURL() string { return p.httpURL() + "/metrics" }

// Metrics scrapes the proxy's /metrics.
func (p *Proxy) Metrics(ctx context.Context) (Metrics, error) {
	return ScrapeMetrics(ctx, p.MetricsURL())
}

// Ready reports whether /readyz answers 200: the proxy serves and reaches a
// broker.
func (p *Proxy) Ready(ctx context.Context) error { return getOK(ctx, p.httpURL()+"/readyz") }

// proxyArgs returns airlock-proxy's command line for a side whose node 0
// advertises upstream: a bootstrap listener for node 0 and dynamic listeners
// for the others, on the side's deterministic ports, all advertised as
// toxiproxy; TLS and local SASL towards clients, mutual TLS towards the broker.
// secret maps a secret file name to its path in the container.
func proxyArgs(z Zone, upstream string, secret func(string) string, extra []string) []string {
	base := strconv.Itoa(basePort(z))
	args := []string{
		"--bootstrap-server-mapping", upstream + ",0.0.0.0:" + base + "," + net.JoinHostPort(toxiAlias(z), base),
		"--dynamic-sequential-min-port", base,
		"--dynamic-node-id-ports",
		"--dynamic-bind-host", "0.0.0.0",
		"--dynamic-advertised-listener", toxiAlias(z) + ":{{.Port}}",
		"--http-listen-address", "0.0.0.0:" + strconv.Itoa(ProxyHTTPPort),
		"--client-tls",
		"--client-tls-cert-file", secret(proxyName(z) + ".crt"),
		"--client-tls-key-file", secret(proxyName(z) + ".key"),
		"--client-sasl-users-file", secret(UsersFile),
		"--upstream-tls",
		"--upstream-tls-ca-file", secret("ca.crt"),
		"--upstream-tls-cert-file", secret(CertProxy + ".crt"),
		"--upstream-tls-key-file", secret(CertProxy + ".key"),
	}
	return append(args, extra...)
}

// startProxy starts a side's proxy for the broker advertising upstream on the
// bridge zone (first: it publishes the HTTP port through it) and the side's
// zone, and waits until /readyz answers from the host, which it does once the
// broker accepts connections.
func (tb *Testbed) startProxy(ctx context.Context, side *Side, upstream string, extra []string) (*Proxy, error) {
	s := side.secrets
	files := append(s.CertFiles(proxyName(side.Zone)), s.File(CertProxy+".crt"), s.File(CertProxy+".key"), s.File(UsersFile))
	c, err := tb.Start(ctx, ContainerSpec{
		Name:      proxyName(side.Zone),
		Image:     tb.images.Proxy,
		Zones:     []Zone{Bridge, side.Zone},
		Cmd:       proxyArgs(side.Zone, upstream, s.Path, extra),
		Files:     files,
		HostPorts: []string{strconv.Itoa(ProxyHTTPPort)},
		WaitFor:   wait.ForLog(proxyStartMessage),
	})
	if err != nil {
		return nil, err
	}
	p := &Proxy{Container: c, Zone: side.Zone}
	if err := p.RefreshPorts(ctx); err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, tb.timeout)
	defer cancel()
	if err := pollHTTP(hctx, p.httpURL()+"/readyz"); err != nil {
		return nil, fmt.Errorf("proxy %s: %w", c.DockerName, err)
	}
	return p, nil
}

// RefreshPorts re-reads the published HTTP port (after Stop and Start).
func (p *Proxy) RefreshPorts(ctx context.Context) error {
	a, err := p.HostAddr(ctx, strconv.Itoa(ProxyHTTPPort))
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.http = "http://" + a
	p.mu.Unlock()
	return nil
}
