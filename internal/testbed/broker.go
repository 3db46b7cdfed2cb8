package testbed

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/testbroker"
)

// Container ports of a test broker: the admin API, and node i's Kafka listener on
// FirstKafkaPort+i (airlock-testbroker's default ports).
const (
	AdminPort      = 8080
	FirstKafkaPort = 9092
)

// BrokerSpec describes an airlock-testbroker container.
type BrokerSpec struct {
	// Name is the network alias the broker advertises (default "<zone>-kafka").
	Name string
	Zone Zone
	// Nodes is the number of kfake nodes (default 1).
	Nodes int
	// Version is the Kafka release to emulate ("" newest; see testbroker.Versions).
	Version string
	// SeedTopics are "name:partitions" topics created on start.
	SeedTopics []string
	// Args are further airlock-testbroker flags (TLS, SASL, ...).
	Args []string
	// NoHostAccess keeps the broker off its zone's access network: the test
	// process then reaches neither its Kafka ports nor its admin API.
	NoHostAccess bool
	// Persistent keeps the broker's data on a named volume (labelled like every
	// testbed resource), so Broker.Restart finds its records again. Writes are
	// synced, so even Kill loses nothing acknowledged.
	Persistent bool
	// Files are copied into the container (TLS material).
	Files []File
	// HostTLS is the TLS configuration of host-side clients (KgoOpts), for a
	// broker whose listeners use TLS (set by Args); nil means plaintext.
	HostTLS *tls.Config
	// KafkaTLS names the PKCS#12 files of a real Kafka broker (Options.KafkaImage);
	// airlock-testbroker takes its TLS flags in Args instead.
	KafkaTLS *KafkaTLS
}

// DataDir is where a persistent test broker keeps its data in the container.
const DataDir = "/data"

// Broker is a started test broker (or, with Options.KafkaImage, a real one).
type Broker struct {
	*Container
	Spec BrokerSpec

	ready string // the log line that says the broker serves

	mu      sync.Mutex
	hostMap map[string]string // advertised alias:port -> 127.0.0.1:mapped
	admin   string            // admin API base URL; "" for a real Kafka broker
}

func (s *BrokerSpec) defaults() error {
	if s.Zone == "" {
		return fmt.Errorf("%w: broker %q has no zone", ErrBadSpec, s.Name)
	}
	if s.Name == "" {
		s.Name = string(s.Zone) + "-kafka"
	}
	if s.Nodes == 0 {
		s.Nodes = 1
	}
	if s.Nodes < 0 || s.Nodes > 16 {
		return fmt.Errorf("%w: broker %s: %d nodes", ErrBadSpec, s.Name, s.Nodes)
	}
	if s.Version != "" {
		if _, _, err := testbroker.ParseVersion(s.Version); err != nil {
			return fmt.Errorf("%w: broker %s: %v", ErrBadSpec, s.Name, err)
		}
	}
	return nil
}

// cmd returns the airlock-testbroker command line for s.
func (s BrokerSpec) cmd() []string {
	args := []string{
		"--nodes", strconv.Itoa(s.Nodes),
		"--advertise-host", s.Name,
		"--admin-listen", ":" + strconv.Itoa(AdminPort),
	}
	if s.Version != "" {
		args = append(args, "--as-version", s.Version)
	}
	if len(s.SeedTopics) > 0 {
		args = append(args, "--seed-topics", strings.Join(s.SeedTopics, ","))
	}
	if s.Persistent {
		args = append(args, "--data-dir", DataDir, "--sync-writes")
	}
	return append(args, s.Args...)
}

// kafkaPorts returns the container port of every node.
func (s BrokerSpec) kafkaPorts() []int {
	out := make([]int, s.Nodes)
	for i := range out {
		out[i] = FirstKafkaPort + i
	}
	return out
}

// StartBroker starts a test broker and waits until it logged
// testbroker.ReadyMessage and, with host access, its admin API answers on the
// published port. With Options.KafkaImage it starts that image instead (see
// KafkaEnv) and waits until a host-side client gets an answer.
func (tb *Testbed) StartBroker(ctx context.Context, s BrokerSpec) (*Broker, error) {
	if err := s.defaults(); err != nil {
		return nil, err
	}
	cs, ready, err := tb.brokerContainer(s)
	if err != nil {
		return nil, err
	}
	if s.Persistent {
		vol, err := tb.Volume(ctx, s.Name+"-data")
		if err != nil {
			return nil, err
		}
		target := DataDir
		if tb.kafkaImage != "" {
			target = KafkaDataDir
		}
		cs.Volumes = append(cs.Volumes, VolumeMount{Volume: vol, Target: target})
	}
	if !s.NoHostAccess {
		if tb.kafkaImage == "" {
			cs.HostPorts = append(cs.HostPorts, strconv.Itoa(AdminPort))
		}
		for _, p := range s.kafkaPorts() {
			cs.HostPorts = append(cs.HostPorts, strconv.Itoa(p))
		}
	}
	c, err := tb.Start(ctx, cs)
	if err != nil {
		return nil, err
	}
	b := &Broker{Container: c, Spec: s, ready: ready}
	if !s.NoHostAccess {
		if err := b.RefreshPorts(ctx); err != nil {
			return nil, err
		}
		hctx, cancel := context.WithTimeout(ctx, tb.timeout)
		defer cancel()
		if err := b.waitHealthy(hctx); err != nil {
			return nil, err
		}
		if tb.kafkaImage != "" {
			if err := b.createTopics(hctx); err != nil {
				return nil, err
			}
		}
	}
	tb.mu.Lock()
	tb.brokers[s.Name] = b
	tb.mu.Unlock()
	return b, nil
}

// brokerContainer returns the container of a broker and the log line that
// says it is ready.
func (tb *Testbed) brokerContainer(s BrokerSpec) (ContainerSpec, string, error) {
	if tb.kafkaImage != "" {
		kc, err := KafkaEnv(s, s.KafkaTLS)
		if err != nil {
			return ContainerSpec{}, "", err
		}
		if s.Version != "" {
			tb.log.Warn("a real Kafka image does not emulate versions; ignoring", "broker", s.Name, "version", s.Version, "image", tb.kafkaImage)
		}
		cs := ContainerSpec{
			Name:    s.Name,
			Image:   tb.kafkaImage,
			Zones:   []Zone{s.Zone},
			Env:     kc.Env,
			Files:   s.Files,
			WaitFor: wait.ForLog(KafkaReadyMessage),
		}
		if s.Persistent {
			// The image's user cannot write a fresh volume's root.
			cs.User = "0:0"
		}
		return cs, KafkaReadyMessage, nil
	}
	// Ready when it logs so: it binds every listener, the admin one included,
	// before logging. The host-side check in StartBroker is separate because
	// testcontainers' wait.ForHTTP dials Host(), which inside a container guesses
	// the docker bridge gateway, while ports here are published on 127.0.0.1.
	return ContainerSpec{
		Name:    s.Name,
		Image:   tb.images.TestBroker,
		Zones:   []Zone{s.Zone},
		Cmd:     s.cmd(),
		Files:   s.Files,
		WaitFor: wait.ForLog(testbroker.ReadyMessage),
	}, testbroker.ReadyMessage, nil
}

// Restart stops the broker gracefully and starts it again, then waits until it
// serves again and the test process reaches it (published ports change). With
// Persistent its topics and records survive; without, it starts empty apart
// from its seed topics. Clients (a proxy included) see their connections close.
func (b *Broker) Restart(ctx context.Context) error {
	n, err := b.LogCount(ctx, b.ready)
	if err != nil {
		return err
	}
	if err := b.Stop(ctx, 10*time.Second); err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, b.tb.timeout)
	defer cancel()
	if err := b.WaitForLogCount(wctx, b.ready, n+1); err != nil {
		return err
	}
	if b.Spec.NoHostAccess {
		return nil
	}
	if err := b.RefreshPorts(wctx); err != nil {
		return err
	}
	return b.waitHealthy(wctx)
}

// Broker returns a started broker by name, or nil.
func (tb *Testbed) Broker(name string) *Broker {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.brokers[name]
}

// Addrs returns the addresses the broker advertises, node 0 first: what
// containers on its zone network dial.
func (b *Broker) Addrs() []string { return b.Spec.Addrs() }

// Addrs returns the addresses a broker of this (defaulted) spec advertises.
func (s BrokerSpec) Addrs() []string {
	out := make([]string, 0, s.Nodes)
	for _, p := range s.kafkaPorts() {
		out = append(out, net.JoinHostPort(s.Name, strconv.Itoa(p)))
	}
	return out
}

// RefreshPorts re-reads the published ports; call it after stopping and starting
// the container, which can change them.
func (b *Broker) RefreshPorts(ctx context.Context) error {
	m := make(map[string]string, b.Spec.Nodes)
	for i, p := range b.Spec.kafkaPorts() {
		addr, err := b.HostAddr(ctx, strconv.Itoa(p))
		if err != nil {
			return err
		}
		m[b.Addrs()[i]] = addr
	}
	admin := ""
	if b.ready == testbroker.ReadyMessage {
		a, err := b.HostAddr(ctx, strconv.Itoa(AdminPort))
		if err != nil {
			return err
		}
		admin = "http://" + a
	}
	b.mu.Lock()
	b.hostMap, b.admin = m, admin
	b.mu.Unlock()
	return nil
}

// HostDialer returns a franz-go dialer for the test process: it dials the
// published port of whichever node address the broker advertised, with
// Spec.HostTLS when set.
func (b *Broker) HostDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return hostDialer(func(addr string) (string, error) {
		b.mu.Lock()
		to, ok := b.hostMap[addr]
		b.mu.Unlock()
		if !ok {
			return "", fmt.Errorf("%w %s (it advertises %v)", ErrUnknownAddr, b.Spec.Name, b.Addrs())
		}
		return to, nil
	}, b.Spec.HostTLS)
}

// KgoOpts returns the options a host-side franz-go client needs to use the
// broker: its advertised addresses as seeds, and HostDialer.
func (b *Broker) KgoOpts() []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(b.Addrs()...), kgo.Dialer(b.HostDialer())}
}

// hostDialer returns a franz-go dialer that dials where resolve says and, with
// tc, speaks TLS verifying the name the client asked for (which the
// certificates carry) rather than 127.0.0.1. kgo refuses a Dialer together
// with DialTLSConfig, so TLS has to happen here.
func hostDialer(resolve func(addr string) (string, error), tc *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, err := resolve(addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		d := &net.Dialer{Timeout: 10 * time.Second}
		if tc == nil {
			return d.DialContext(ctx, network, to)
		}
		c := tc.Clone()
		if c.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("dial %s: %w", addr, err)
			}
			c.ServerName = host
		}
		conn, err := (&tls.Dialer{NetDialer: d, Config: c}).DialContext(ctx, network, to)
		if err != nil {
			return nil, fmt.Errorf("dial %s (at %s): %w", addr, to, err)
		}
		return conn, nil
	}
}

// AdminURL returns the base URL of the broker's admin API on the host.
func (b *Broker) AdminURL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.admin
}

// State returns the broker's GET /state.
func (b *Broker) State(ctx context.Context) (testbroker.State, error) {
	var st testbroker.State
	err := b.call(ctx, http.MethodGet, "/state", nil, &st)
	return st, err
}

// MoveLeader makes node the leader of topic/partition.
func (b *Broker) MoveLeader(ctx context.Context, topic string, partition, node int32) error {
	q := url.Values{"topic": {topic}, "partition": {itoa(partition)}, "node": {itoa(node)}}
	return b.call(ctx, http.MethodPost, "/move-leader", q, nil)
}

// ShuffleLeaders gives every partition a random leader.
func (b *Broker) ShuffleLeaders(ctx context.Context) error {
	return b.call(ctx, http.MethodPost, "/shuffle-leaders", nil, nil)
}

// RemoveNode closes a node (listener and connections).
func (b *Broker) RemoveNode(ctx context.Context, node int32) error {
	return b.call(ctx, http.MethodPost, "/remove-node", url.Values{"node": {itoa(node)}}, nil)
}

// AddNode brings a removed node back under the same id, on the container port
// it had (FirstKafkaPort+node): the proxies map node ids to fixed ports.
func (b *Broker) AddNode(ctx context.Context, node int32) error {
	q := url.Values{"node": {itoa(node)}, "port": {strconv.Itoa(FirstKafkaPort + int(node))}}
	return b.call(ctx, http.MethodPost, "/add-node", q, nil)
}

// PauseNode holds a node's requests for d (see testbroker.Broker.PauseNode).
func (b *Broker) PauseNode(ctx context.Context, node int32, d time.Duration) error {
	return b.call(ctx, http.MethodPost, "/pause-node", url.Values{"node": {itoa(node)}, "duration": {d.String()}}, nil)
}

// ResumeNode ends a pause early.
func (b *Broker) ResumeNode(ctx context.Context, node int32) error {
	return b.call(ctx, http.MethodPost, "/resume-node", url.Values{"node": {itoa(node)}}, nil)
}

// waitHealthy polls GET /healthz through the published port until it answers 200
// or ctx ends: it proves the test process can reach the broker. A real Kafka
// broker has no admin API: it must answer a Kafka request instead.
func (b *Broker) waitHealthy(ctx context.Context) error {
	check := func() error { return b.call(ctx, http.MethodGet, "/healthz", nil, nil) }
	where := "admin API"
	if b.AdminURL() == "" {
		check = func() error { return b.ping(ctx) }
		where = "Kafka port"
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker %s %s not reachable from the test process at %s (is the docker daemon local?): %w", b.Spec.Name, where, b.AdminURL(), err)
		case <-tick.C:
		}
	}
}

// ping asks the broker for its API versions through the host dialer.
func (b *Broker) ping(ctx context.Context) error {
	cl, err := kgo.NewClient(append(b.KgoOpts(), kgo.RequestRetries(0))...)
	if err != nil {
		return fmt.Errorf("client for %s: %w", b.Spec.Name, err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return cl.Ping(pctx)
}

// call sends one admin API request and decodes a JSON answer into out (if non-nil).
func (b *Broker) call(ctx context.Context, method, path string, q url.Values, out any) error {
	base := b.AdminURL()
	if base == "" {
		return fmt.Errorf("%w: broker %s has no host access or is a real Kafka broker without one", ErrAdmin, b.Spec.Name)
	}
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrAdmin, method, path, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrAdmin, method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%w: %s %s: read: %v", ErrAdmin, method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s %s: %s: %s", ErrAdmin, method, path, resp.Status, strings.TrimSpace(string(body)))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%w: %s %s: decode: %v", ErrAdmin, method, path, err)
		}
	}
	return nil
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
