package proxy

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the proxy's Prometheus collectors. Names of the first five match the
// established kafka-proxy's so dashboards carry over.
type metrics struct {
	openedConns   *prometheus.GaugeVec
	connsTotal    *prometheus.CounterVec
	requests      *prometheus.CounterVec
	requestBytes  *prometheus.CounterVec
	responseBytes *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	rewritten     *prometheus.CounterVec
	errors        *prometheus.CounterVec
	forbidden     *prometheus.CounterVec
	listeners     *prometheus.GaugeVec
	draining      prometheus.Gauge

	upstreamFailures *prometheus.CounterVec
	tlsFailures      *prometheus.CounterVec
	authFailures     *prometheus.CounterVec
	authSuccesses    *prometheus.CounterVec
	reauths          prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		openedConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "proxy_opened_connections", Help: "Client connections open, by upstream broker.",
		}, []string{"broker"}),
		connsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_connections_total", Help: "Client connections accepted, by upstream broker.",
		}, []string{"broker"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_requests_total", Help: "Requests forwarded or answered, by broker, API key and version.",
		}, []string{"broker", "api_key", "api_version"}),
		requestBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_requests_bytes", Help: "Request bytes read from clients, by broker.",
		}, []string{"broker"}),
		responseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_responses_bytes", Help: "Response bytes written to clients, by broker.",
		}, []string{"broker"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxy_request_latency_seconds",
			Help:    "Time from forwarding a request to having written its response, by broker and API key.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14), // 100us .. ~15s
		}, []string{"broker", "api_key"}),
		rewritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_rewritten_responses_total", Help: "Responses whose broker addresses were rewritten, by broker and API key.",
		}, []string{"broker", "api_key"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_errors_total", Help: "Connections closed on an error, by broker and reason.",
		}, []string{"broker", "reason"}),
		forbidden: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_forbidden_requests_total", Help: "Requests refused by --forbidden-api-keys, by broker and API key.",
		}, []string{"broker", "api_key"}),
		listeners: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "proxy_listeners", Help: "Listeners open, by kind (bootstrap, dynamic).",
		}, []string{"kind"}),
		draining: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "proxy_draining", Help: "1 while the proxy drains connections on shutdown.",
		}),
		upstreamFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_upstream_auth_failures_total", Help: "Failed TLS or SASL handshakes towards brokers, by stage (tls, sasl).",
		}, []string{"stage"}),
		tlsFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_client_tls_failures_total", Help: "Failed client TLS handshakes, by reason (missing, expired, unknown_authority, subject, ...).",
		}, []string{"reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_client_auth_failures_total", Help: "Failed client SASL authentications and requests before authentication, by reason.",
		}, []string{"reason"}),
		authSuccesses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_client_auth_successes_total", Help: "Successful client SASL authentications, by mechanism.",
		}, []string{"mechanism"}),
		reauths: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxy_upstream_reauthentications_total", Help: "SASL re-authentications to brokers (KIP-368) on live connections.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.openedConns, m.connsTotal, m.requests, m.requestBytes, m.responseBytes,
			m.latency, m.rewritten, m.errors, m.forbidden, m.listeners, m.draining,
			m.upstreamFailures, m.tlsFailures, m.authFailures, m.authSuccesses, m.reauths)
	}
	return m
}

// connMetrics caches the per-broker children a connection touches on every frame,
// so the hot path does no label hashing.
type connMetrics struct {
	m             *metrics
	broker        string
	requestBytes  prometheus.Counter
	responseBytes prometheus.Counter
	// requests and latency are keyed by key<<16|version and key; filled lazily so an
	// idle connection allocates nothing.
	requests map[uint32]prometheus.Counter
	latency  map[int16]prometheus.Observer
}

func (m *metrics) forConn(broker string) *connMetrics {
	return &connMetrics{
		m:             m,
		broker:        broker,
		requestBytes:  m.requestBytes.WithLabelValues(broker),
		responseBytes: m.responseBytes.WithLabelValues(broker),
	}
}

// request counts one request; called only from the connection's reader goroutine.
func (c *connMetrics) request(key, version int16, bytes int) {
	id := uint32(uint16(key))<<16 | uint32(uint16(version))
	ctr, ok := c.requests[id]
	if !ok {
		if c.requests == nil {
			c.requests = map[uint32]prometheus.Counter{}
		}
		ctr = c.m.requests.WithLabelValues(c.broker, strconv.Itoa(int(key)), strconv.Itoa(int(version)))
		c.requests[id] = ctr
	}
	ctr.Inc()
	c.requestBytes.Add(float64(bytes))
}

// observe records one response; called only from the connection's writer goroutine.
func (c *connMetrics) observe(key int16, seconds float64, bytes int) {
	o, ok := c.latency[key]
	if !ok {
		if c.latency == nil {
			c.latency = map[int16]prometheus.Observer{}
		}
		o = c.m.latency.WithLabelValues(c.broker, strconv.Itoa(int(key)))
		c.latency[key] = o
	}
	o.Observe(seconds)
	c.responseBytes.Add(float64(bytes))
}

func (c *connMetrics) error(reason string) {
	c.m.errors.WithLabelValues(c.broker, reason).Inc()
}
