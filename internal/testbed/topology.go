package testbed

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
)

// Topology is Airlock's layout (issue 6), started by StartTopology:
//
//	source zone (internal)   bridge zone                          target zone (internal)
//	source-kafka ── source-proxy ── toxiproxy ── (bridge) ── toxiproxy ── target-proxy ── target-kafka
//
// Only the proxies join two zones. Each proxy advertises toxiproxy's addresses
// (<zone>-toxi:<port>, aliases of the one toxiproxy container), and toxiproxy
// forwards each port to the same port on the proxy, so a client in the bridge
// zone (the bridge, a probe) and the test process reach the clusters only
// through toxiproxy. Node i of a cluster is port Side.Port(i): the proxy's
// bootstrap listener serves node 0 and dynamic listeners on deterministic
// ports (--dynamic-node-id-ports) the others.
//
// Security: brokers require mutual TLS (the proxies and in-zone clients present
// certificates); the proxies terminate TLS for bridge-zone clients and
// authenticate them locally with SASL (Secrets.User, Secrets.Password).
type Topology struct {
	// Source and Target are the clusters; a nil one is not started (a spec
	// about one proxy needs one side).
	Source, Target *ClusterSpec
	// User and Password are the SASL credentials of bridge-zone clients
	// (defaults "bridge" and a random password).
	User, Password string
	// ProxyArgs are further airlock-proxy flags for both proxies.
	ProxyArgs []string
}

// ClusterSpec describes one side's broker.
type ClusterSpec struct {
	// Nodes defaults to 1.
	Nodes int
	// Version is the Kafka release the test broker emulates ("" newest).
	Version string
	// SeedTopics are "name:partitions" topics created on start.
	SeedTopics []string
	// Persistent keeps the broker's data on a volume across Broker.Restart.
	Persistent bool
	// BrokerArgs are further airlock-testbroker flags.
	BrokerArgs []string
}

// Container ports of the topology.
const (
	// ProxyHTTPPort serves the proxies' /metrics, /healthz and /readyz.
	ProxyHTTPPort = 9080
	// ToxiproxyAPIPort is toxiproxy's HTTP API.
	ToxiproxyAPIPort = 8474
	// SourceBasePort and TargetBasePort are node 0's port on each side, at
	// toxiproxy and at the proxy alike; node i is base+i.
	SourceBasePort = 19092
	TargetBasePort = 29092
)

// Side is one cluster of a started topology with its proxy.
type Side struct {
	Zone   Zone
	Broker *Broker
	Proxy  *Proxy

	nodes   int
	toxi    *Toxiproxy
	secrets *Secrets
}

// basePort returns node 0's port of a zone's side.
func basePort(z Zone) int {
	if z == Target {
		return TargetBasePort
	}
	return SourceBasePort
}

// toxiAlias is the name toxiproxy answers to for a zone's side.
func toxiAlias(z Zone) string { return string(z) + "-toxi" }

// proxyName is the container (and alias) of a zone's proxy.
func proxyName(z Zone) string { return string(z) + "-proxy" }

// Port returns the port of node on this side, at toxiproxy and at the proxy.
func (s *Side) Port(node int) int { return basePort(s.Zone) + node }

// Nodes returns the number of broker nodes.
func (s *Side) Nodes() int { return s.nodes }

// BridgeAddrs returns, node 0 first, the addresses the proxy advertises:
// toxiproxy's. Clients in the bridge zone use them, the first as bootstrap.
func (s *Side) BridgeAddrs() []string {
	out := make([]string, s.nodes)
	for i := range out {
		out[i] = net.JoinHostPort(toxiAlias(s.Zone), strconv.Itoa(s.Port(i)))
	}
	return out
}

// Bootstrap returns the bootstrap address for bridge-zone clients.
func (s *Side) Bootstrap() string { return s.BridgeAddrs()[0] }

// ToxiproxyName returns the name of node's toxiproxy proxy, for toxics.
func (s *Side) ToxiproxyName(node int) string { return fmt.Sprintf("%s-kafka-%d", s.Zone, node) }

// ToxiproxyNames returns every toxiproxy proxy of this side, node 0 first.
func (s *Side) ToxiproxyNames() []string {
	out := make([]string, s.nodes)
	for i := range out {
		out[i] = s.ToxiproxyName(i)
	}
	return out
}

// MetricsURL returns the proxy's /metrics URL on the host.
func (s *Side) MetricsURL() string { return s.Proxy.MetricsURL() }

// HostKgoOpts returns what a franz-go client in the test process needs to use
// this cluster the way the bridge does, through toxiproxy and the proxy: the
// bridge addresses as seeds, a dialer that maps them to toxiproxy's published
// ports, TLS and SASL.
func (s *Side) HostKgoOpts() ([]kgo.Opt, error) {
	opts, err := s.HostDialOpts()
	if err != nil {
		return nil, err
	}
	return append(opts, s.secrets.SASL()), nil
}

// HostDialOpts is HostKgoOpts without SASL, for specs about authentication.
func (s *Side) HostDialOpts() ([]kgo.Opt, error) {
	tc, err := s.secrets.HostTLS("")
	if err != nil {
		return nil, err
	}
	addrs := s.BridgeAddrs()
	resolve := func(addr string) (string, error) {
		for i, a := range addrs {
			if a == addr {
				ctx, cancel := context.WithTimeout(context.Background(), s.toxi.tb.timeout)
				defer cancel()
				return s.toxi.HostAddr(ctx, strconv.Itoa(s.Port(i)))
			}
		}
		return "", fmt.Errorf("%w: %s side's proxy advertises %v", ErrUnknownAddr, s.Zone, addrs)
	}
	return []kgo.Opt{kgo.SeedBrokers(s.Bootstrap()), kgo.Dialer(hostDialer(resolve, tc))}, nil
}

// Side returns a side of the started topology, or nil.
func (tb *Testbed) Side(z Zone) *Side {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.sides[z]
}

// Toxiproxy returns the topology's toxiproxy, or nil.
func (tb *Testbed) Toxiproxy() *Toxiproxy {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.toxi
}

// Secrets returns the topology's TLS material and credentials, or nil.
func (tb *Testbed) Secrets() *Secrets {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.secrets
}

// sideSpec is a cluster to start in a zone.
type sideSpec struct {
	zone Zone
	spec ClusterSpec
}

// sideSpecs returns the sides to start, source first.
func (t Topology) sideSpecs() []sideSpec {
	var out []sideSpec
	if t.Source != nil {
		out = append(out, sideSpec{Source, *t.Source})
	}
	if t.Target != nil {
		out = append(out, sideSpec{Target, *t.Target})
	}
	return out
}

// StartTopology starts the topology's brokers and toxiproxy, then the proxies,
// then creates toxiproxy's proxies. A testbed has at most one topology.
func (tb *Testbed) StartTopology(ctx context.Context, t Topology) error {
	sides := t.sideSpecs()
	if len(sides) == 0 {
		return fmt.Errorf("%w: topology without clusters", ErrBadSpec)
	}
	if t.User == "" {
		t.User = "bridge"
	}
	if t.Password == "" {
		t.Password = randomHex(12)
	}
	req := secretsRequest{serverSANs: map[string][]string{}, user: t.User, password: t.Password, p12: tb.kafkaImage != ""}
	var ports []int
	for _, s := range sides {
		bs := BrokerSpec{Zone: s.zone, Nodes: s.spec.Nodes}
		if err := bs.defaults(); err != nil {
			return err
		}
		req.servers = append(req.servers, bs.Name, proxyName(s.zone))
		req.serverSANs[proxyName(s.zone)] = []string{toxiAlias(s.zone)}
		for i := range bs.Nodes {
			ports = append(ports, basePort(s.zone)+i)
		}
	}
	tb.mu.Lock()
	if tb.secrets != nil || tb.terminated {
		tb.mu.Unlock()
		return fmt.Errorf("%w: a testbed starts one topology, before Terminate", ErrBadSpec)
	}
	tb.mu.Unlock()
	secrets, err := newSecrets("", tb.prefix(), req)
	if err != nil {
		return err
	}
	tb.mu.Lock()
	tb.secrets = secrets
	tb.mu.Unlock()
	hostTLS, err := secrets.HostTLS(CertHost)
	if err != nil {
		return err
	}

	// Everything starts at once: a proxy needs only its broker's advertised
	// address, known from the spec, and waits for the broker itself in its
	// readiness check; toxiproxy resolves the proxies per connection.
	started := make([]*Side, len(sides))
	var toxi *Toxiproxy
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range sides {
		bs := tb.topologyBroker(s.zone, s.spec, secrets, hostTLS)
		side := &Side{Zone: s.zone, nodes: bs.Nodes, secrets: secrets}
		started[i] = side
		g.Go(func() error {
			b, err := tb.StartBroker(gctx, bs)
			side.Broker = b
			return err
		})
		g.Go(func() error {
			p, err := tb.startProxy(gctx, side, bs.Addrs()[0], t.ProxyArgs)
			side.Proxy = p
			return err
		})
	}
	g.Go(func() error {
		var err error
		toxi, err = tb.StartToxiproxy(gctx, []string{toxiAlias(Source), toxiAlias(Target)}, ports)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	for _, side := range started {
		side.toxi = toxi
		for i := range side.nodes {
			upstream := net.JoinHostPort(proxyName(side.Zone), strconv.Itoa(side.Port(i)))
			if _, err := toxi.CreateProxy(side.ToxiproxyName(i), side.Port(i), upstream); err != nil {
				return err
			}
		}
	}
	tb.mu.Lock()
	tb.toxi = toxi
	for _, side := range started {
		tb.sides[side.Zone] = side
	}
	tb.mu.Unlock()
	return nil
}

// topologyBroker returns the spec of a side's broker: mutual TLS, with the
// server certificate named after its alias.
func (tb *Testbed) topologyBroker(z Zone, c ClusterSpec, s *Secrets, hostTLS *tls.Config) BrokerSpec {
	bs := BrokerSpec{
		Zone:       z,
		Nodes:      c.Nodes,
		Version:    c.Version,
		SeedTopics: c.SeedTopics,
		Persistent: c.Persistent,
		HostTLS:    hostTLS,
	}
	_ = bs.defaults() // validated by StartTopology
	if tb.kafkaImage != "" {
		for _, f := range []string{bs.Name + ".p12", "truststore.p12"} {
			bs.Files = append(bs.Files, File{HostPath: path.Join(s.Dir, f), ContainerPath: path.Join(KafkaSecretsDir, f)})
		}
		bs.KafkaTLS = &KafkaTLS{
			Keystore:   path.Join(KafkaSecretsDir, bs.Name+".p12"),
			Truststore: path.Join(KafkaSecretsDir, "truststore.p12"),
			Password:   s.P12Password,
		}
		return bs
	}
	bs.Files = s.CertFiles(bs.Name)
	// Distinct cluster ids: the bridge tells clusters apart by them (kfake's
	// default is the same everywhere).
	bs.Args = append([]string{
		"--cluster-id", string(z),
		"--tls-cert-file", s.Path(bs.Name + ".crt"),
		"--tls-key-file", s.Path(bs.Name + ".key"),
		"--tls-client-ca-file", s.Path("ca.crt"),
		"--tls-client-auth", "require",
	}, c.BrokerArgs...)
	return bs
}
