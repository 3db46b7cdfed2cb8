// Package dockerenv runs chaos scenarios on the docker testbed
// (internal/testbed): it builds the topology a scenario needs, gives the
// fault specs the testbed's containers, toxiproxy and broker admin API to act
// on, and runs the workload (airlock-producer in the source zone, bridge
// instances in the bridge zone, airlock-consumer's checker in the target
// zone at the end).
package dockerenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/airlock-kafka/airlock/chaos"
	"github.com/airlock-kafka/airlock/internal/testbed"
)

// Topic is the workload's source topic.
const Topic = "chaos-events"

// BridgeName is the bridge's --name: every instance shares it, and with it the
// task group, the transactional ids and the offsets group.
const BridgeName = "chaos"

// ErrWorkload means a workload container did not do its job (the producer
// exited with an error, the consumer produced no report).
var ErrWorkload = errors.New("chaos workload failed")

// Option configures the environments a Factory builds.
type Option func(*config)

type config struct {
	runID, name  string
	images       testbed.Images
	log          *slog.Logger
	version      string
	logDir       string
	startTimeout time.Duration
	kafkaImage   string
	bridgeArgs   []string
}

// RunID labels the environments' docker resources with run id (default: a new
// one per environment), so a caller's cleanup by run finds them.
func RunID(id string) Option { return func(c *config) { c.runID = id } }

// Name sets the testbed name prefix (default "chaos"); the scenario's name is
// appended.
func Name(n string) Option { return func(c *config) { c.name = n } }

// Images overrides the image names (default testbed.DefaultImages).
func Images(im testbed.Images) Option { return func(c *config) { c.images = im } }

// Logger receives the testbed's progress (default: discard).
func Logger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// KafkaVersion makes both clusters' test brokers emulate a Kafka release
// ("" the newest).
func KafkaVersion(v string) Option { return func(c *config) { c.version = v } }

// FailureLogDir receives the container logs of a testbed that fails to
// start, before it is torn down. After a run, see Env.CollectLogs.
func FailureLogDir(dir string) Option { return func(c *config) { c.logDir = dir } }

// StartTimeout bounds each container's start (default 90s).
func StartTimeout(d time.Duration) Option { return func(c *config) { c.startTimeout = d } }

// KafkaImage runs real Kafka brokers (e.g. "apache/kafka:4.0.0") instead of
// the test broker; broker faults are then unsupported. Untested here.
func KafkaImage(image string) Option { return func(c *config) { c.kafkaImage = image } }

// BridgeArgs are further airlock-bridge flags for every instance (they win
// over the environment's own), e.g. "--log-level=debug" to see why a
// scenario failed.
func BridgeArgs(args ...string) Option {
	return func(c *config) { c.bridgeArgs = append(c.bridgeArgs, args...) }
}

// Factory returns a chaos.EnvironmentFactory that starts a testbed per
// scenario.
func Factory(opts ...Option) chaos.EnvironmentFactory {
	c := config{name: "chaos", log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&c)
	}
	return func(ctx context.Context, needs chaos.Needs) (chaos.Environment, error) {
		return newEnv(ctx, c, needs)
	}
}

// Env is a running testbed shaped for one scenario. It implements
// chaos.Environment.
type Env struct {
	tb     *testbed.Testbed
	cfg    config
	needs  chaos.Needs
	topo   chaos.Topology
	zones  map[string]testbed.Zone // docker network -> zone
	log    *slog.Logger
	closed bool
}

var _ chaos.Environment = (*Env)(nil)

// topologySpec returns the testbed topology for needs.
func topologySpec(needs chaos.Needs, version string) (testbed.Topology, error) {
	if needs.ProxiesPerSide > 1 {
		return testbed.Topology{}, fmt.Errorf("%w: %d proxies per side (the testbed runs one per side)", chaos.ErrUnsupported, needs.ProxiesPerSide)
	}
	parts := needs.Partitions
	if parts <= 0 {
		parts = 6
	}
	cluster := func(nodes int, seeds ...string) *testbed.ClusterSpec {
		return &testbed.ClusterSpec{Nodes: max(nodes, 1), Version: version, Persistent: needs.Persistent, SeedTopics: seeds}
	}
	return testbed.Topology{
		Source: cluster(needs.SourceNodes, Topic+":"+strconv.Itoa(parts)),
		Target: cluster(needs.TargetNodes),
	}, nil
}

func newEnv(ctx context.Context, c config, needs chaos.Needs) (*Env, error) {
	spec, err := topologySpec(needs, c.version)
	if err != nil {
		return nil, err
	}
	tb, err := testbed.New(ctx, testbed.Options{
		RunID:         c.runID,
		Name:          c.name,
		Images:        c.images,
		Logger:        c.log,
		StartTimeout:  c.startTimeout,
		Topology:      &spec,
		KafkaImage:    c.kafkaImage,
		FailureLogDir: c.logDir,
	})
	if err != nil {
		return nil, fmt.Errorf("start testbed: %w", err)
	}
	e := &Env{tb: tb, cfg: c, needs: needs, log: c.log, zones: map[string]testbed.Zone{}}
	for _, z := range testbed.Zones {
		e.zones[tb.Network(z)] = z
	}
	e.topo = e.topology(needs)
	return e, nil
}

// Testbed returns the testbed, for what the chaos interfaces do not cover.
func (e *Env) Testbed() *testbed.Testbed { return e.tb }

// bridgeContainer names bridge instance i.
func bridgeContainer(i int) string { return "bridge-" + strconv.Itoa(i) }

// topology names what faults can hit.
func (e *Env) topology(needs chaos.Needs) chaos.Topology {
	t := chaos.Topology{
		ToxiproxyProxies: map[chaos.Side][]string{},
		Proxies:          map[chaos.Side][]string{},
		Brokers:          map[chaos.Side]string{},
		Networks:         map[chaos.Zone]string{},
		Aliases:          map[string][]string{},
		Nodes:            map[chaos.Side]int{},
		Topic:            Topic,
		TargetTopic:      testbed.DefaultTargetPrefix + Topic,
		Partitions:       max(needs.Partitions, 1),
	}
	for _, pair := range []struct {
		side chaos.Side
		zone testbed.Zone
	}{{chaos.Source, testbed.Source}, {chaos.Target, testbed.Target}} {
		s := e.tb.Side(pair.zone)
		t.ToxiproxyProxies[pair.side] = s.ToxiproxyNames()
		t.Proxies[pair.side] = []string{s.Proxy.Name}
		t.Brokers[pair.side] = s.Broker.Name
		t.Nodes[pair.side] = s.Nodes()
		t.ProxyAddresses = append(t.ProxyAddresses, s.BridgeAddrs()...)
		t.Metrics = append(t.Metrics, chaos.Endpoint{
			Name: s.Proxy.Name, Role: chaos.RoleProxy,
			URL: containerURL(s.Proxy.Container, testbed.ProxyHTTPPort, "/metrics"),
		})
	}
	for i := range max(needs.Bridges, 1) {
		name := bridgeContainer(i)
		t.Bridges = append(t.Bridges, name)
		t.Metrics = append(t.Metrics, chaos.Endpoint{Name: name, Role: chaos.RoleBridge, URL: e.bridgeURL(name)})
	}
	if tx := e.tb.Toxiproxy(); tx != nil {
		t.Toxiproxy = tx.Name
	}
	for z, n := range map[chaos.Zone]testbed.Zone{chaos.ZoneSource: testbed.Source, chaos.ZoneBridge: testbed.Bridge, chaos.ZoneTarget: testbed.Target} {
		t.Networks[z] = e.tb.Network(n)
	}
	for _, c := range e.tb.Containers() {
		t.Aliases[c.Name] = append([]string{c.Name}, c.Spec.Aliases...)
	}
	return t
}

// containerURL asks docker for the published port at every call: a stopped
// and started container is published on a new one.
func containerURL(c *testbed.Container, port int, path string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		a, err := c.HostAddr(ctx, strconv.Itoa(port))
		if err != nil {
			return "", err
		}
		return "http://" + a + path, nil
	}
}

// bridgeURL is the metrics URL of bridge container name, which exists once
// the workload started.
func (e *Env) bridgeURL(name string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		c := e.tb.Container(name)
		if c == nil {
			return "", fmt.Errorf("%s not started yet", name)
		}
		return containerURL(c, testbed.BridgeHTTPPort, "/metrics")(ctx)
	}
}

// Topology implements chaos.Targets.
func (e *Env) Topology() chaos.Topology { return e.topo }

// Toxics implements chaos.Targets.
func (e *Env) Toxics() (chaos.Toxics, error) {
	tx := e.tb.Toxiproxy()
	if tx == nil {
		return nil, fmt.Errorf("%w: no toxiproxy", chaos.ErrUnsupported)
	}
	return tx.Client, nil
}

// Containers implements chaos.Targets.
func (e *Env) Containers() (chaos.Containers, error) { return containers{e}, nil }

// BrokerAdmin implements chaos.Targets.
func (e *Env) BrokerAdmin(side chaos.Side) (chaos.BrokerAdmin, error) {
	if e.cfg.kafkaImage != "" {
		return nil, fmt.Errorf("%w: real Kafka brokers (%s) have no admin API", chaos.ErrUnsupported, e.cfg.kafkaImage)
	}
	z := testbed.Source
	if side == chaos.Target {
		z = testbed.Target
	}
	s := e.tb.Side(z)
	if s == nil {
		return nil, fmt.Errorf("%w: no %s cluster", chaos.ErrNoTarget, side)
	}
	return brokerAdmin{s.Broker}, nil
}

// CollectLogs writes every container's log to dir/<container>.log: call it
// before Close, so a run's evidence outlives its containers.
func (e *Env) CollectLogs(ctx context.Context, dir string) error {
	if err := e.tb.CollectLogs(ctx, dir); err != nil {
		return fmt.Errorf("collect logs: %w", err)
	}
	return nil
}

// Close removes every container, network and volume of the testbed. It is
// safe to call twice.
func (e *Env) Close(ctx context.Context) error {
	if e.closed {
		return nil
	}
	e.closed = true
	return e.tb.Terminate(ctx)
}
