package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/airlock-kafka/airlock/internal/clientsec"
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

	upstream clientsec.Options

	clientTLS         bool
	clientFiles       tlsutil.ServerFiles
	saslUsersFile     string
	saslPlugin        string
	saslPluginArgs    flagenv.StringList
	saslMechanisms    string
	saslMaxFailures   int
	saslFailureWindow time.Duration
	saslUsersPoll     time.Duration
	handshakeTimeout  time.Duration

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
	c.upstream.Register(fs, "upstream-", "brokers")
	fs.BoolVar(&c.clientTLS, "client-tls", false, "terminate TLS on the client listeners (needs --client-tls-cert-file and --client-tls-key-file)")
	c.clientFiles.Register(fs, "client-", "the client listeners")
	fs.StringVar(&c.saslUsersFile, "client-sasl-users-file", "", "authenticate clients locally against this users file (PLAIN with bcrypt, SCRAM credentials; reloaded on change; see 'airlock-proxy users --help')")
	fs.StringVar(&c.saslPlugin, "client-sasl-plugin", "", "authenticate clients locally through this verifier plugin binary (hashicorp go-plugin; see airlock-auth-static)")
	fs.Var(&c.saslPluginArgs, "client-sasl-plugin-arg", "argument passed to the verifier plugin (repeatable)")
	fs.StringVar(&c.saslMechanisms, "client-sasl-mechanisms", "PLAIN,SCRAM-SHA-512,SCRAM-SHA-256", "SASL mechanisms offered to clients, in preference order")
	fs.IntVar(&c.saslMaxFailures, "client-sasl-max-failures", 10, "failed authentications allowed per client address in a burst before it is refused for a while")
	fs.DurationVar(&c.saslFailureWindow, "client-sasl-failure-window", time.Minute, "time after which one more failed authentication is allowed per client address")
	fs.DurationVar(&c.saslUsersPoll, "client-sasl-users-poll", 2*time.Second, "how often the users file is checked for changes")
	fs.DurationVar(&c.handshakeTimeout, "client-handshake-timeout", 10*time.Second, "time a client has for its TLS handshake and SASL authentication")

	// Errors get one line and a pointer to --help, not the whole usage text.
	fs.SetOutput(io.Discard)
	if err := flagenv.Parse(fs, envPrefix, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.Usage()
			return nil, nil
		}
		return nil, fmt.Errorf("%w (see --help)", err)
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
	c.upstream.Files.Reload = true
	if tc, err := c.upstream.TLSConfig(); err != nil {
		return fmt.Errorf("upstream TLS: %w", err)
	} else if tc != nil {
		c.opts = append(c.opts, proxy.UpstreamTLS(tc))
	}
	if m, err := c.upstream.Mechanism(); err != nil {
		return fmt.Errorf("upstream SASL: %w", err)
	} else if m != nil {
		c.opts = append(c.opts, proxy.UpstreamSASL(m))
	}
	if c.saslUsersFile != "" && c.saslPlugin != "" {
		return errors.New("--client-sasl-users-file and --client-sasl-plugin are alternatives; give one")
	}
	if c.saslMaxFailures <= 0 || c.saslFailureWindow <= 0 {
		return errors.New("--client-sasl-max-failures and --client-sasl-failure-window must be positive")
	}
	c.opts = append(c.opts, proxy.HandshakeTimeout(c.handshakeTimeout))
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
