// Package testbroker runs franz-go's kfake as a stand-alone Kafka test broker with
// the knobs Airlock's docker testbed needs: bind one host and advertise another (a
// container binds 0.0.0.0 and advertises its network alias), emulate a Kafka
// release, persist to a data dir, TLS and SASL, seed topics, and an admin HTTP API
// that moves leaders, adds, removes and pauses nodes while clients run.
//
// All nodes live in one process (kfake's design): "removing" a node closes its
// listener and connections, "pausing" one holds its requests. See Broker's methods
// for what each fault really does.
package testbroker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/sync/errgroup"
)

// ReadyMessage is logged once the broker listens, so a container can be waited on
// with a log strategy (scratch images have no shell to probe with).
const ReadyMessage = "testbroker ready"

// MaxPause bounds PauseNode, so a forgotten pause cannot wedge a test run.
const MaxPause = time.Hour

// Broker is a running fake Kafka cluster with its admin API.
type Broker struct {
	cfg     config
	log     *slog.Logger
	cluster *kfake.Cluster
	version string
	adminLn net.Listener

	// life guards closed. Every call into kfake holds it for reading because
	// kfake's own admin calls block forever once the cluster is closed.
	life   sync.RWMutex
	closed bool
	done   chan struct{}

	mu        sync.Mutex
	nodes     map[int32]*nodeListener // by node id, as we added and removed them
	listeners map[int]*nodeListener   // by port, filled by listenFn
	pauses    map[int32]*pause
	pauseOnce sync.Once // installs the pause control function on first use

	topics *topicSet
}

type pause struct {
	until  time.Time
	resume chan struct{} // closed when the pause ends early
}

// New starts the cluster: every node listens when New returns. Call Run to serve
// the admin API, or Close when done.
func New(opts ...Option) (*Broker, error) {
	cfg := config{
		listenHost:    "0.0.0.0",
		kfakeLogLevel: kfake.LogLevelWarn,
		hostname:      os.Hostname,
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &Broker{
		cfg:       cfg,
		log:       cfg.logger,
		done:      make(chan struct{}),
		nodes:     make(map[int32]*nodeListener),
		listeners: make(map[int]*nodeListener),
		pauses:    make(map[int32]*pause),
		topics:    newTopicSet(),
	}
	kopts, err := b.kfakeOpts()
	if err != nil {
		return nil, err
	}
	if cfg.adminListen != "" {
		if b.adminLn, err = net.Listen("tcp", cfg.adminListen); err != nil {
			return nil, fmt.Errorf("admin listen %s: %w", cfg.adminListen, err)
		}
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		if b.adminLn != nil {
			_ = b.adminLn.Close()
		}
		return nil, fmt.Errorf("start kfake cluster: %w", err)
	}
	b.cluster = c
	// kfake numbers the initial nodes 0..n-1 in listen order.
	b.mu.Lock()
	for i, addr := range c.ListenAddrs() {
		b.nodes[int32(i)] = b.listenerFor(addr)
	}
	b.mu.Unlock()
	for _, t := range cfg.seedTopics {
		b.topics.add(t.Name)
	}
	if cfg.dataDir != "" {
		names, err := persistedTopics(cfg.dataDir)
		if err != nil {
			b.log.Warn("cannot list persisted topics; /state shows only topics created from now on", "err", err)
		}
		for _, n := range names {
			b.topics.add(n)
		}
	}
	b.observeTopics()
	return b, nil
}

func (b *Broker) kfakeOpts() ([]kfake.Opt, error) {
	cfg := &b.cfg
	nodes := cfg.nodes
	switch {
	case len(cfg.ports) > 0 && nodes > 0 && nodes != len(cfg.ports):
		return nil, fmt.Errorf("%w: %d nodes but %d ports", ErrBadConfig, nodes, len(cfg.ports))
	case len(cfg.ports) > 0:
		nodes = len(cfg.ports)
	case nodes == 0:
		nodes = 1
	case nodes < 0:
		return nil, fmt.Errorf("%w: %d nodes", ErrBadConfig, nodes)
	}
	ports := cfg.ports
	if len(ports) == 0 {
		ports = make([]int, nodes) // free ports
	}
	adv := cfg.advertiseHost
	if adv == "" {
		if ip := net.ParseIP(cfg.listenHost); ip != nil && !ip.IsUnspecified() {
			adv = cfg.listenHost
		} else if h, err := cfg.hostname(); err == nil && h != "" {
			adv = h
		} else {
			return nil, fmt.Errorf("%w: no advertise host given and the host name is unknown (%v)", ErrBadConfig, err)
		}
	}
	cfg.advertiseHost = adv

	opts := []kfake.Opt{
		kfake.Ports(ports...),
		kfake.ListenFn(listenFn(cfg.listenHost, adv, b.onListen)),
		kfake.WithLogger(kfakeLogger{l: b.log, level: cfg.kfakeLogLevel}),
	}
	if cfg.version != "" {
		name, vs, err := ParseVersion(cfg.version)
		if err != nil {
			return nil, err
		}
		b.version = name
		opts = append(opts, kfake.MaxVersions(vs))
	}
	if cfg.dataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.dataDir))
	}
	if cfg.syncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	for _, t := range cfg.seedTopics {
		if t.Name == "" {
			return nil, fmt.Errorf("%w: empty name", ErrBadSeedTopic)
		}
		opts = append(opts, kfake.SeedTopics(t.Partitions, t.Name))
	}
	if cfg.clusterID != "" {
		opts = append(opts, kfake.ClusterID(cfg.clusterID))
	}
	if cfg.tls != nil {
		opts = append(opts, kfake.TLS(cfg.tls))
	}
	if len(cfg.saslUsers) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.saslUsers {
			if !slices.Contains(Mechanisms, u.Mechanism) {
				return nil, fmt.Errorf("%w: user %q: mechanism %q, want one of %v", ErrBadSASLUser, u.User, u.Mechanism, Mechanisms)
			}
			opts = append(opts, kfake.Superuser(u.Mechanism, u.User, u.Pass))
		}
	}
	if cfg.defaultParts > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(cfg.defaultParts))
	}
	if cfg.autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	return append(opts, cfg.kfakeOpts...), nil
}

func (b *Broker) onListen(l *nodeListener) {
	b.mu.Lock()
	b.listeners[l.addr.port] = l
	b.mu.Unlock()
}

// listenerFor finds the listener behind an advertised address; b.mu is held.
func (b *Broker) listenerFor(addr string) *nodeListener {
	for _, l := range b.listeners {
		if l.addr.String() == addr {
			return l
		}
	}
	return nil
}

// Cluster returns the kfake cluster, for what the admin API does not cover
// (ControlKey, Fault). Do not call it after Close.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Addrs returns the advertised address of every node, by node id.
func (b *Broker) Addrs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]int32, 0, len(b.nodes))
	for id := range b.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = b.nodes[id].addr.String()
	}
	return out
}

// AdminAddr returns the admin API's listen address, or "" when there is none.
func (b *Broker) AdminAddr() string {
	if b.adminLn == nil {
		return ""
	}
	return b.adminLn.Addr().String()
}

// Run logs ReadyMessage, serves the admin API (when configured) until ctx is done,
// then closes the broker. It returns nil after a clean shutdown.
func (b *Broker) Run(ctx context.Context) error {
	b.log.Info(ReadyMessage, "nodes", b.Addrs(), "admin", b.AdminAddr(), "version", b.versionName())
	g, ctx := errgroup.WithContext(ctx)
	if b.adminLn != nil {
		srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(b.adminLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("admin API: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	g.Go(func() error {
		<-ctx.Done()
		return nil
	})
	err := g.Wait()
	b.Close()
	b.log.Info("testbroker stopped")
	return err
}

// Close ends pauses, closes every listener and connection and, with a data dir,
// saves the cluster's state. It is safe to call more than once.
func (b *Broker) Close() {
	b.life.Lock()
	if b.closed {
		b.life.Unlock()
		return
	}
	b.closed = true
	close(b.done)
	b.life.Unlock()
	if b.adminLn != nil {
		_ = b.adminLn.Close() // harmless when Run's server already closed it
	}
	b.cluster.Close()
}

// enter guards a call into kfake; release with b.life.RUnlock.
func (b *Broker) enter() error {
	b.life.RLock()
	if b.closed {
		b.life.RUnlock()
		return ErrClosed
	}
	return nil
}

func (b *Broker) versionName() string {
	if b.version == "" {
		return "latest"
	}
	return b.version
}

// MoveLeader makes node the leader of topic/partition (bumping its epoch).
func (b *Broker) MoveLeader(topic string, partition, node int32) error {
	if err := b.enter(); err != nil {
		return err
	}
	defer b.life.RUnlock()
	if !b.hasNode(node) {
		return fmt.Errorf("%w %d", ErrUnknownNode, node)
	}
	if b.cluster.PartitionInfo(topic, partition) == nil {
		return fmt.Errorf("%w %s/%d", ErrUnknownPartition, topic, partition)
	}
	if err := b.cluster.MoveTopicPartition(topic, partition, node); err != nil {
		return fmt.Errorf("move %s/%d to node %d: %w", topic, partition, node, err)
	}
	b.log.Info("moved leader", "topic", topic, "partition", partition, "node", node)
	return nil
}

// ShuffleLeaders gives every partition a random leader (possibly the same one) and
// bumps every epoch, like a cluster-wide election.
func (b *Broker) ShuffleLeaders() error {
	if err := b.enter(); err != nil {
		return err
	}
	defer b.life.RUnlock()
	b.cluster.ShufflePartitionLeaders()
	b.log.Info("shuffled leaders")
	return nil
}

// LeaderFor returns the leader of topic/partition, or -1 when it does not exist.
func (b *Broker) LeaderFor(topic string, partition int32) (int32, error) {
	if err := b.enter(); err != nil {
		return -1, err
	}
	defer b.life.RUnlock()
	return b.cluster.LeaderFor(topic, partition), nil
}

// RemoveNode removes a node: its listener and every connection to it close, it
// leaves metadata, and its partitions move to random remaining nodes. kfake keeps
// the data (all nodes share one log), so nothing is lost, unlike a real broker.
func (b *Broker) RemoveNode(node int32) error {
	if err := b.enter(); err != nil {
		return err
	}
	defer b.life.RUnlock()
	if !b.hasNode(node) {
		return fmt.Errorf("%w %d", ErrUnknownNode, node)
	}
	if err := b.cluster.RemoveNode(node); err != nil {
		return fmt.Errorf("%w: remove node %d: %v", ErrConflict, node, err)
	}
	b.mu.Lock()
	l := b.nodes[node]
	delete(b.nodes, node)
	delete(b.listeners, l.addr.port)
	if p := b.pauses[node]; p != nil {
		close(p.resume)
		delete(b.pauses, node)
	}
	b.mu.Unlock()
	b.log.Info("removed node", "node", node, "addr", l.addr.String())
	return nil
}

// AddNode adds a node with the given id (-1: one above the highest) listening on
// port (0: a free port), and reshuffles partition leaders over all nodes, as kfake
// does. It returns the node id and its advertised address.
func (b *Broker) AddNode(node int32, port int) (int32, string, error) {
	if err := b.enter(); err != nil {
		return 0, "", err
	}
	defer b.life.RUnlock()
	if node >= 0 && b.hasNode(node) {
		return 0, "", fmt.Errorf("%w: node %d exists", ErrConflict, node)
	}
	id, p, err := b.cluster.AddNode(node, port)
	if err != nil {
		return 0, "", fmt.Errorf("%w: add node %d on port %d: %v", ErrConflict, node, port, err)
	}
	b.mu.Lock()
	l := b.listeners[p]
	b.nodes[id] = l
	b.mu.Unlock()
	if l == nil { // cannot happen: kfake listened through listenFn
		return id, "", fmt.Errorf("node %d: no listener on port %d", id, p)
	}
	b.log.Info("added node", "node", id, "addr", l.addr.String())
	return id, l.addr.String(), nil
}

func (b *Broker) hasNode(node int32) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.nodes[node]
	return ok
}

// nodeIDs returns the node ids in order; b.mu is held.
func (b *Broker) nodeIDs() []int32 {
	ids := make([]int32, 0, len(b.nodes))
	for id := range b.nodes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
