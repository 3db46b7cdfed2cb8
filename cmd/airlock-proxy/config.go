package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/logging"
	"github.com/airlock-kafka/airlock/internal/tlsutil"
	"github.com/airlock-kafka/airlock/internal/version"
	"github.com/airlock-kafka/airlock/proxy"
)

const envPrefix = "AIRLOCK_PROXY_"

type config struct {
	log        logging.Options
	configFile string

	bootstrap flagenv.StringList
	external  flagenv.StringList
	dial      flagenv.StringList

	dynamicDisable     bool
	dynamicMinPort     int
	dynamicNodeIDPorts bool
	dynamicAdvertised  string
	dynamicBindHost    string

	forbidden      string
	maxRequestSize int
	maxInFlight    int

	dialTimeout     time.Duration
	writeTimeout    time.Duration
	idleTimeout     time.Duration
	keepAlive       time.Duration
	readBuffer      int
	writeBuffer     int
	shutdownTimeout time.Duration
	httpAddr        string

	upstreamTLS   bool
	upstreamFiles tlsutil.ClientFiles

	opts []proxy.Opt
}

const usageHeader = `airlock-proxy: a Kafka protocol proxy that rewrites broker addresses.

It listens once per upstream broker and forwards Kafka traffic; every response
that names a broker (Metadata, FindCoordinator, DescribeCluster, KIP-951
endpoints, ...) is rewritten to proxy addresses. Brokers discovered in responses
get listeners on the fly unless --dynamic-listeners-disable.

Example:
  airlock-proxy \
    --bootstrap-server-mapping "kafka-0:9092,127.0.0.1:32400" \
    --bootstrap-server-mapping "kafka-1:9092,127.0.0.1:32401"

Every flag can also be set by the environment variable shown, or in a --config
file (one "name = value" per line). Flags win over env, env over the file.

Flags:
`

func parseFlags(args []string, getenv func(string) string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("airlock-proxy", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHeader)
		fs.PrintDefaults()
	}
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.StringVar(&c.configFile, flagenv.ConfigFlag, "", "config file of name = value lines")
	c.log.Register(fs)
	fs.Var(&c.bootstrap, "bootstrap-server-mapping", `"UPSTREAM_HOST:PORT,LISTEN_HOST:PORT[,ADVERTISED_HOST:PORT]": a listener for one upstream broker (repeatable; env: separate with ';')`)
	fs.Var(&c.external, "external-server-mapping", `"UPSTREAM_HOST:PORT,ADVERTISED_HOST:PORT": what clients are told for a broker this proxy does not listen for (repeatable)`)
	fs.Var(&c.dial, "dial-address-mapping", `"ADVERTISED_HOST:PORT,DIAL_HOST:PORT": dial a broker at another address than it advertises (repeatable)`)
	fs.BoolVar(&c.dynamicDisable, "dynamic-listeners-disable", false, "refuse responses naming unmapped brokers instead of opening listeners on the fly")
	fs.IntVar(&c.dynamicMinPort, "dynamic-sequential-min-port", 0, "dynamic listeners take ports from this one upwards (0: random ports)")
	fs.BoolVar(&c.dynamicNodeIDPorts, "dynamic-node-id-ports", false, "dynamic listener port = --dynamic-sequential-min-port + broker node id (stable across restarts)")
	fs.StringVar(&c.dynamicAdvertised, "dynamic-advertised-listener", "", "template of the address advertised for dynamic listeners, e.g. 'proxy-{{.NodeID}}.example.com' or 'lb.example.com:{{.Port}}' (default: the host of the first bootstrap listener)")
	fs.StringVar(&c.dynamicBindHost, "dynamic-bind-host", "", "host dynamic listeners bind (default: the host of the first bootstrap listener)")
	fs.StringVar(&c.forbidden, "forbidden-api-keys", "", "comma-separated API keys (numbers or names, e.g. 20 or DeleteTopics) that never reach a broker")
	fs.IntVar(&c.maxRequestSize, "max-request-size", 100<<20, "largest request frame accepted, in bytes")
	fs.IntVar(&c.maxInFlight, "max-in-flight", 1024, "pipelined requests per connection before the proxy stops reading from the client")
	fs.DurationVar(&c.dialTimeout, "dial-timeout", 10*time.Second, "timeout to connect to a broker, TLS handshake included")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 30*time.Second, "timeout of one write to a client or broker")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 10*time.Minute, "close client connections idle this long (0: never)")
	fs.DurationVar(&c.keepAlive, "tcp-keepalive", 60*time.Second, "TCP keepalive period on both sides (negative: off)")
	fs.IntVar(&c.readBuffer, "socket-read-buffer", 0, "SO_RCVBUF for both sides in bytes (0: OS default)")
	fs.IntVar(&c.writeBuffer, "socket-write-buffer", 0, "SO_SNDBUF for both sides in bytes (0: OS default)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long in-flight requests may take to be answered; a second signal cuts it short")
	fs.StringVar(&c.httpAddr, "http-listen-address", "0.0.0.0:9080", "address of /healthz, /readyz and /metrics (empty: off)")
	fs.BoolVar(&c.upstreamTLS, "upstream-tls", false, "originate TLS to brokers")
	fs.StringVar(&c.upstreamFiles.CAFile, "upstream-tls-ca-file", "", "PEM CA bundle to verify brokers (default: system roots)")
	fs.StringVar(&c.upstreamFiles.CertFile, "upstream-tls-cert-file", "", "PEM client certificate for mutual TLS to brokers")
	fs.StringVar(&c.upstreamFiles.KeyFile, "upstream-tls-key-file", "", "PEM client key for mutual TLS to brokers")
	fs.StringVar(&c.upstreamFiles.KeyPassword, "upstream-tls-key-password", "", "password of an encrypted client key")
	fs.StringVar(&c.upstreamFiles.ServerName, "upstream-tls-server-name", "", "server name to verify instead of the broker's host")
	fs.BoolVar(&c.upstreamFiles.InsecureSkipVerify, "upstream-tls-insecure-skip-verify", false, "do not verify broker certificates (tests only; logged loudly)")

	if err := flagenv.Parse(fs, envPrefix, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if *showVersion {
		fmt.Fprintln(os.Stdout, "airlock-proxy", version.Version)
		return nil, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only; see --help)", fs.Args())
	}
	if err := c.build(); err != nil {
		return nil, err
	}
	return c, nil
}

// build validates the flags and turns them into proxy options.
func (c *config) build() error {
	if len(c.bootstrap) == 0 {
		return errors.New("at least one --bootstrap-server-mapping is required")
	}
	for _, s := range c.bootstrap {
		m, err := proxy.ParseMapping(s)
		if err != nil {
			return err
		}
		c.opts = append(c.opts, proxy.BootstrapMapping(m))
	}
	for _, s := range c.external {
		from, to, err := proxy.ParsePair(s)
		if err != nil {
			return fmt.Errorf("--external-server-mapping: %w", err)
		}
		c.opts = append(c.opts, proxy.ExternalMapping(from, to))
	}
	for _, s := range c.dial {
		from, to, err := proxy.ParsePair(s)
		if err != nil {
			return fmt.Errorf("--dial-address-mapping: %w", err)
		}
		c.opts = append(c.opts, proxy.DialMapping(from, to))
	}
	if c.dynamicDisable {
		c.opts = append(c.opts, proxy.DisableDynamicListeners())
	}
	if c.dynamicMinPort < 0 || c.dynamicMinPort > 65535 {
		return fmt.Errorf("--dynamic-sequential-min-port %d out of range", c.dynamicMinPort)
	}
	if c.dynamicMinPort > 0 {
		c.opts = append(c.opts, proxy.DynamicSequentialMinPort(c.dynamicMinPort))
	}
	if c.dynamicNodeIDPorts {
		if c.dynamicMinPort == 0 {
			return errors.New("--dynamic-node-id-ports needs --dynamic-sequential-min-port")
		}
		c.opts = append(c.opts, proxy.DynamicNodeIDPorts())
	}
	if c.dynamicAdvertised != "" {
		t, err := proxy.ParseAdvertisedTemplate(c.dynamicAdvertised)
		if err != nil {
			return err
		}
		c.opts = append(c.opts, proxy.DynamicAdvertised(t))
	}
	if c.dynamicBindHost != "" {
		c.opts = append(c.opts, proxy.DynamicBindHost(c.dynamicBindHost))
	}
	keys, err := parseAPIKeys(c.forbidden)
	if err != nil {
		return fmt.Errorf("--forbidden-api-keys: %w", err)
	}
	if len(keys) > 0 {
		c.opts = append(c.opts, proxy.ForbiddenAPIKeys(keys...))
	}
	if c.maxRequestSize <= 0 || c.maxRequestSize > 1<<30 {
		return fmt.Errorf("--max-request-size %d out of range (1 byte .. 1 GiB)", c.maxRequestSize)
	}
	if c.maxInFlight <= 0 {
		return fmt.Errorf("--max-in-flight must be positive, got %d", c.maxInFlight)
	}
	c.opts = append(c.opts,
		proxy.MaxRequestSize(int32(c.maxRequestSize)),
		proxy.MaxInFlight(c.maxInFlight),
		proxy.DialTimeout(c.dialTimeout),
		proxy.WriteTimeout(c.writeTimeout),
		proxy.IdleTimeout(c.idleTimeout),
		proxy.KeepAlive(c.keepAlive),
		proxy.SocketBuffers(c.readBuffer, c.writeBuffer),
		proxy.ShutdownTimeout(c.shutdownTimeout),
	)
	if c.upstreamTLS {
		tc, err := tlsutil.ClientConfig(c.upstreamFiles)
		if err != nil {
			return fmt.Errorf("upstream TLS: %w", err)
		}
		c.opts = append(c.opts, proxy.UpstreamTLS(tc))
	}
	return nil
}

// parseAPIKeys parses "20,DeleteTopics" into API keys.
func parseAPIKeys(s string) ([]int16, error) {
	var keys []int16
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if n, err := strconv.ParseInt(f, 10, 16); err == nil {
			if n < 0 {
				return nil, fmt.Errorf("negative API key %d", n)
			}
			keys = append(keys, int16(n))
			continue
		}
		k, ok := keyByName(f)
		if !ok {
			return nil, fmt.Errorf("unknown API key %q (use a number or a name such as DeleteTopics)", f)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func keyByName(name string) (int16, bool) {
	for k := int16(0); k < 1024; k++ {
		if n := kmsg.NameForKey(k); n != "" && strings.EqualFold(n, name) {
			return k, true
		}
	}
	return 0, false
}
