package proxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/airlock-kafka/airlock/proxy/auth"
)

// Opt configures a Proxy.
type Opt interface{ apply(*cfg) }

type opt struct{ fn func(*cfg) }

func (o opt) apply(c *cfg) { o.fn(c) }

// UpstreamHandshake runs on a freshly dialed broker connection before any client
// byte is forwarded (SASL towards the broker, for instance).
type UpstreamHandshake func(ctx context.Context, conn net.Conn) error

type cfg struct {
	logger   *slog.Logger
	registry prometheus.Registerer

	bootstrap []Mapping
	external  map[string]string
	dial      map[string]string

	dynamic            bool
	dynamicBindHost    string
	dynamicAdvertised  *template.Template
	dynamicMinPort     int
	dynamicNodeIDPorts bool

	maxRequestSize int32
	maxInFlight    int
	forbidden      map[int16]bool

	dialTimeout     time.Duration
	writeTimeout    time.Duration
	idleTimeout     time.Duration
	keepAlive       time.Duration
	readBuffer      int
	writeBuffer     int
	shutdownTimeout time.Duration

	upstreamTLS       *tls.Config
	upstreamSASL      sasl.Mechanism
	upstreamHandshake UpstreamHandshake

	clientTLS        *tls.Config
	localAuth        *auth.Authenticator
	handshakeTimeout time.Duration
}

func defaultCfg() cfg {
	return cfg{
		logger:           slog.New(slog.DiscardHandler),
		dynamic:          true,
		maxRequestSize:   100 << 20, // Kafka's socket.request.max.bytes
		maxInFlight:      1024,
		forbidden:        map[int16]bool{},
		external:         map[string]string{},
		dial:             map[string]string{},
		dialTimeout:      10 * time.Second,
		writeTimeout:     30 * time.Second,
		idleTimeout:      10 * time.Minute, // Kafka's connections.max.idle.ms
		keepAlive:        60 * time.Second,
		shutdownTimeout:  30 * time.Second,
		handshakeTimeout: 10 * time.Second,
	}
}

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Opt { return opt{func(c *cfg) { c.logger = l }} }

// WithRegisterer registers the proxy's metrics with r; the default registers nowhere,
// which suits tests that run several proxies in one process.
func WithRegisterer(r prometheus.Registerer) Opt { return opt{func(c *cfg) { c.registry = r }} }

// BootstrapMapping adds a listener for an upstream broker.
func BootstrapMapping(m Mapping) Opt {
	return opt{func(c *cfg) { c.bootstrap = append(c.bootstrap, m) }}
}

// ExternalMapping tells clients advertised for an upstream broker that the proxy
// does not listen for itself (fixed topologies, with dynamic listeners disabled).
func ExternalMapping(upstream, advertised string) Opt {
	return opt{func(c *cfg) { c.external[upstream] = advertised }}
}

// DialMapping dials dial whenever a broker advertises upstream.
func DialMapping(upstream, dial string) Opt {
	return opt{func(c *cfg) { c.dial[upstream] = dial }}
}

// DisableDynamicListeners makes the proxy refuse responses naming brokers it has no
// bootstrap or external mapping for, instead of opening listeners on the fly.
func DisableDynamicListeners() Opt { return opt{func(c *cfg) { c.dynamic = false }} }

// DynamicBindHost sets the host dynamic listeners bind; default the first
// bootstrap listener's host.
func DynamicBindHost(host string) Opt { return opt{func(c *cfg) { c.dynamicBindHost = host }} }

// DynamicAdvertised sets the template of the address advertised for dynamic
// listeners. Fields: .NodeID, .Port (the listener's), .UpstreamHost, .UpstreamPort.
// Without a port in its output the listener's port is used.
func DynamicAdvertised(t *template.Template) Opt {
	return opt{func(c *cfg) { c.dynamicAdvertised = t }}
}

// DynamicSequentialMinPort makes dynamic listeners take ports min, min+1, ...
// instead of random ones.
func DynamicSequentialMinPort(min int) Opt { return opt{func(c *cfg) { c.dynamicMinPort = min }} }

// DynamicNodeIDPorts makes a dynamic listener's port min + node id (set min with
// DynamicSequentialMinPort), so a broker keeps its port across proxy restarts.
func DynamicNodeIDPorts() Opt { return opt{func(c *cfg) { c.dynamicNodeIDPorts = true }} }

// MaxRequestSize bounds the size of a request frame; larger ones close the connection.
func MaxRequestSize(n int32) Opt { return opt{func(c *cfg) { c.maxRequestSize = n }} }

// MaxInFlight bounds pipelined requests per connection; the proxy stops reading
// from a client that has this many unanswered (back-pressure, never an error).
func MaxInFlight(n int) Opt { return opt{func(c *cfg) { c.maxInFlight = n }} }

// ForbiddenAPIKeys blocks the given API keys: requests never reach a broker.
func ForbiddenAPIKeys(keys ...int16) Opt {
	return opt{func(c *cfg) {
		for _, k := range keys {
			c.forbidden[k] = true
		}
	}}
}

// DialTimeout bounds connecting (and the TLS handshake) to a broker.
func DialTimeout(d time.Duration) Opt { return opt{func(c *cfg) { c.dialTimeout = d }} }

// WriteTimeout bounds one write to either side; a peer that does not read for this
// long is cut off.
func WriteTimeout(d time.Duration) Opt { return opt{func(c *cfg) { c.writeTimeout = d }} }

// IdleTimeout closes client connections that sent nothing for this long; 0 disables.
func IdleTimeout(d time.Duration) Opt { return opt{func(c *cfg) { c.idleTimeout = d }} }

// KeepAlive sets the TCP keepalive period on both sides; negative disables.
func KeepAlive(d time.Duration) Opt { return opt{func(c *cfg) { c.keepAlive = d }} }

// SocketBuffers sets SO_RCVBUF and SO_SNDBUF on both sides; 0 keeps the OS default.
func SocketBuffers(read, write int) Opt {
	return opt{func(c *cfg) { c.readBuffer, c.writeBuffer = read, write }}
}

// ShutdownTimeout bounds the drain on shutdown.
func ShutdownTimeout(d time.Duration) Opt { return opt{func(c *cfg) { c.shutdownTimeout = d }} }

// UpstreamTLS originates TLS to brokers with cfg (ServerName is set per broker
// unless cfg sets one).
func UpstreamTLS(t *tls.Config) Opt { return opt{func(c *cfg) { c.upstreamTLS = t }} }

// WithUpstreamHandshake runs h on every new broker connection before forwarding.
func WithUpstreamHandshake(h UpstreamHandshake) Opt {
	return opt{func(c *cfg) { c.upstreamHandshake = h }}
}

// UpstreamSASL authenticates every broker connection with m (PLAIN, SCRAM or
// OAUTHBEARER from franz-go's sasl packages) before forwarding client traffic.
func UpstreamSASL(m sasl.Mechanism) Opt { return opt{func(c *cfg) { c.upstreamSASL = m }} }

// ClientTLS terminates TLS on every listener with t (use tlsutil.Server.Config for
// certificate reloading and client certificate checks).
func ClientTLS(t *tls.Config) Opt { return opt{func(c *cfg) { c.clientTLS = t }} }

// LocalSASL makes the proxy authenticate clients itself with a: nothing a client
// sends reaches a broker before it authenticated, and its SASL exchange is never
// forwarded.
func LocalSASL(a *auth.Authenticator) Opt { return opt{func(c *cfg) { c.localAuth = a }} }

// HandshakeTimeout bounds a client's TLS handshake and SASL authentication.
func HandshakeTimeout(d time.Duration) Opt { return opt{func(c *cfg) { c.handshakeTimeout = d }} }
