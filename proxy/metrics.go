package proxy

import (
	"maps"
	"strconv"
	"sync"
	"sync/atomic"

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

	brokersMu sync.Mutex
	brokers   map[string]*brokerMetrics
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

// brokerMetrics caches the children of one broker's label. Every connection to the
// broker shares them, so neither the hot path nor a new connection hashes labels,
// and an idle connection holds no metric state of its own.
type brokerMetrics struct {
	m             *metrics
	broker        string
	opened        prometheus.Gauge
	accepted      prometheus.Counter
	requestBytes  prometheus.Counter
	responseBytes prometheus.Counter

	// requests (keyed by key<<16|version) and latency (keyed by key) are filled
	// lazily and copied on write under mu: connections read them without locking.
	mu       sync.Mutex
	requests atomic.Pointer[map[uint32]prometheus.Counter]
	latency  atomic.Pointer[map[int16]prometheus.Observer]
}

// forBroker returns the shared metric children of broker.
func (m *metrics) forBroker(broker string) *brokerMetrics {
	m.brokersMu.Lock()
	defer m.brokersMu.Unlock()
	if b, ok := m.brokers[broker]; ok {
		return b
	}
	b := &brokerMetrics{
		m:             m,
		broker:        broker,
		opened:        m.openedConns.WithLabelValues(broker),
		accepted:      m.connsTotal.WithLabelValues(broker),
		requestBytes:  m.requestBytes.WithLabelValues(broker),
		responseBytes: m.responseBytes.WithLabelValues(broker),
	}
	if m.brokers == nil {
		m.brokers = map[string]*brokerMetrics{}
	}
	m.brokers[broker] = b
	return b
}

// child returns the value cached under id, creating it with newChild and
// publishing a copy of the map that holds it when missing; mu serializes writers.
func child[K comparable, V any](mu *sync.Mutex, cache *atomic.Pointer[map[K]V], id K, newChild func() V) V {
	if m := cache.Load(); m != nil {
		if v, ok := (*m)[id]; ok {
			return v
		}
	}
	mu.Lock()
	defer mu.Unlock()
	old := cache.Load()
	if old != nil {
		if v, ok := (*old)[id]; ok {
			return v
		}
	}
	var next map[K]V
	if old != nil {
		next = maps.Clone(*old)
	} else {
		next = make(map[K]V, 1)
	}
	v := newChild()
	next[id] = v
	cache.Store(&next)
	return v
}

// request counts one request.
func (b *brokerMetrics) request(key, version int16, bytes int) {
	id := uint32(uint16(key))<<16 | uint32(uint16(version))
	child(&b.mu, &b.requests, id, func() prometheus.Counter {
		return b.m.requests.WithLabelValues(b.broker, strconv.Itoa(int(key)), strconv.Itoa(int(version)))
	}).Inc()
	b.requestBytes.Add(float64(bytes))
}

// observe records one response.
func (b *brokerMetrics) observe(key int16, seconds float64, bytes int) {
	child(&b.mu, &b.latency, key, func() prometheus.Observer {
		return b.m.latency.WithLabelValues(b.broker, strconv.Itoa(int(key)))
	}).Observe(seconds)
	b.responseBytes.Add(float64(bytes))
}

func (b *brokerMetrics) error(reason string) {
	b.m.errors.WithLabelValues(b.broker, reason).Inc()
}
