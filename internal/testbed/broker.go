package testbed

import (
	"context"
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
}

// Broker is a started test broker.
type Broker struct {
	*Container
	Spec BrokerSpec

	mu      sync.Mutex
	hostMap map[string]string // advertised alias:port -> 127.0.0.1:mapped
	admin   string            // admin API base URL
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
// published port.
func (tb *Testbed) StartBroker(ctx context.Context, s BrokerSpec) (*Broker, error) {
	if err := s.defaults(); err != nil {
		return nil, err
	}
	// Ready when it logs so: it binds every listener, the admin one included,
	// before logging. The host-side check below is separate because
	// testcontainers' wait.ForHTTP dials Host(), which inside a container guesses
	// the docker bridge gateway, while ports here are published on 127.0.0.1.
	cs := ContainerSpec{
		Name:    s.Name,
		Image:   tb.images.TestBroker,
		Zones:   []Zone{s.Zone},
		Cmd:     s.cmd(),
		WaitFor: wait.ForLog(testbroker.ReadyMessage),
	}
	if !s.NoHostAccess {
		cs.HostPorts = append(cs.HostPorts, strconv.Itoa(AdminPort))
		for _, p := range s.kafkaPorts() {
			cs.HostPorts = append(cs.HostPorts, strconv.Itoa(p))
		}
	}
	c, err := tb.Start(ctx, cs)
	if err != nil {
		return nil, err
	}
	b := &Broker{Container: c, Spec: s}
	if !s.NoHostAccess {
		if err := b.RefreshPorts(ctx); err != nil {
			return nil, err
		}
		hctx, cancel := context.WithTimeout(ctx, tb.timeout)
		defer cancel()
		if err := b.waitHealthy(hctx); err != nil {
			return nil, err
		}
	}
	tb.mu.Lock()
	tb.brokers[s.Name] = b
	tb.mu.Unlock()
	return b, nil
}

// Broker returns a started broker by name, or nil.
func (tb *Testbed) Broker(name string) *Broker {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.brokers[name]
}

// Addrs returns the addresses the broker advertises, node 0 first: what
// containers on its zone network dial.
func (b *Broker) Addrs() []string {
	out := make([]string, 0, b.Spec.Nodes)
	for _, p := range b.Spec.kafkaPorts() {
		out = append(out, net.JoinHostPort(b.Spec.Name, strconv.Itoa(p)))
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
	admin, err := b.HostAddr(ctx, strconv.Itoa(AdminPort))
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.hostMap, b.admin = m, "http://"+admin
	b.mu.Unlock()
	return nil
}

// HostDialer returns a franz-go dialer for the test process: it dials the
// published port of whichever node address the broker advertised.
func (b *Broker) HostDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		b.mu.Lock()
		to, ok := b.hostMap[addr]
		b.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("dial %s: %w %s (it advertises %v)", addr, ErrUnknownAddr, b.Spec.Name, b.Addrs())
		}
		d := net.Dialer{Timeout: 10 * time.Second}
		return d.DialContext(ctx, network, to)
	}
}

// KgoOpts returns the options a host-side franz-go client needs to use the
// broker: its advertised addresses as seeds, and HostDialer.
func (b *Broker) KgoOpts() []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(b.Addrs()...), kgo.Dialer(b.HostDialer())}
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

// PauseNode holds a node's requests for d (see testbroker.Broker.PauseNode).
func (b *Broker) PauseNode(ctx context.Context, node int32, d time.Duration) error {
	return b.call(ctx, http.MethodPost, "/pause-node", url.Values{"node": {itoa(node)}, "duration": {d.String()}}, nil)
}

// ResumeNode ends a pause early.
func (b *Broker) ResumeNode(ctx context.Context, node int32) error {
	return b.call(ctx, http.MethodPost, "/resume-node", url.Values{"node": {itoa(node)}}, nil)
}

// waitHealthy polls GET /healthz through the published port until it answers 200
// or ctx ends: it proves the test process can reach the broker.
func (b *Broker) waitHealthy(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := b.call(ctx, http.MethodGet, "/healthz", nil, nil)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker %s admin API not reachable from the test process at %s (is the docker daemon local?): %w", b.Spec.Name, b.AdminURL(), err)
		case <-tick.C:
		}
	}
}

// call sends one admin API request and decodes a JSON answer into out (if non-nil).
func (b *Broker) call(ctx context.Context, method, path string, q url.Values, out any) error {
	base := b.AdminURL()
	if base == "" {
		return fmt.Errorf("%w: broker %s has no host access", ErrAdmin, b.Spec.Name)
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
