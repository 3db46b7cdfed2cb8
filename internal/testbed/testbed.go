// Package testbed builds Airlock's docker topologies for the e2e suite with
// testcontainers-go: per-testbed networks for the three zones (source and target
// internal, bridge routable), test brokers in them, and the means to reach, probe,
// inspect and tear them down. Nothing is pulled: images are built locally (`make
// images`) and checked with CheckImages; Ryuk is not used, cleanup is by label.
//
// Reaching brokers from the test process: a zone's internal network has no route
// to the host, so a container with published ports (ContainerSpec.HostPorts) also
// joins its zone's "access" network, a plain bridge network of its own, and
// publishes on 127.0.0.1 only (other containers cannot reach ports published
// there). kfake has one listener per node and so advertises one address per node;
// brokers advertise their network alias, which is right for every container, and
// host-side clients use Broker.KgoOpts, whose dialer maps alias:port to the
// published port (split-horizon DNS in a function). Host-side third-party clients
// go through airlock-proxy, which rewrites addresses.
package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Zone is one of the isolated networks of a topology.
type Zone string

// The zones of Airlock's topology: the bridge is the only zone that may talk to
// both others (through the airlock components attached to it).
const (
	Source Zone = "source"
	Bridge Zone = "bridge"
	Target Zone = "target"
)

// Zones lists every zone.
var Zones = []Zone{Source, Bridge, Target}

// internal reports whether the zone's network is internal (no route out).
func (z Zone) internal() bool { return z != Bridge }

// Options describe a testbed.
type Options struct {
	// RunID groups the testbeds of one suite run for cleanup (see RemoveRun);
	// empty means a new one.
	RunID string
	// Name distinguishes testbeds within a run (default: random). It appears in
	// container and network names, so keep it short.
	Name string
	// Images defaults to DefaultImages.
	Images Images
	// Brokers are started by New, in order.
	Brokers []BrokerSpec
	// Logger receives progress and testcontainers' own logging (default: discard).
	Logger *slog.Logger
	// StartTimeout bounds each container's start and readiness (default 90s).
	StartTimeout time.Duration
	// FailureLogDir, when set, receives the container logs of a New that fails,
	// before its cleanup removes them.
	FailureLogDir string
	// Topology, when set, is started by New after Brokers.
	Topology *Topology
	// KafkaImage, when set (e.g. "apache/kafka:4.0.0"), runs every broker as
	// that real Kafka image instead of airlock-testbroker: one node each, no
	// version emulation, no admin API (see KafkaEnv). Unlike the testbed's own
	// images it may be pulled.
	KafkaImage string
}

// Testbed is a running topology. Its methods are safe for concurrent use.
type Testbed struct {
	run, name string
	images    Images
	log       *slog.Logger
	tcLog     printfLogger
	timeout   time.Duration
	docker    *testcontainers.DockerClient

	kafkaImage string

	mu         sync.Mutex
	networks   map[string]string // network key (zone, zone+"-access") -> docker name
	volumes    map[string]string // volume key -> docker name
	containers []*Container      // in start order
	brokers    map[string]*Broker
	terminated bool
	secrets    *Secrets
	sides      map[Zone]*Side
	toxi       *Toxiproxy

	// seq numbers the containers started under default names (workloads).
	seq atomic.Int64
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,40}$`)

// NewRunID returns a short random id for a suite run.
func NewRunID() string { return randomHex(4) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b)
}

// New creates the zone networks and starts the brokers. On error everything
// already created is removed.
func New(ctx context.Context, o Options) (*Testbed, error) {
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	if o.Name == "" {
		o.Name = randomHex(3)
	}
	if !nameRE.MatchString(o.RunID) || !nameRE.MatchString(o.Name) {
		return nil, fmt.Errorf("%w: run id %q and name %q must be lower-case letters, digits and dashes", ErrBadSpec, o.RunID, o.Name)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 90 * time.Second
	}
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	tb := &Testbed{
		run:        o.RunID,
		name:       o.Name,
		images:     o.Images.withDefaults(),
		log:        o.Logger.With("testbed", o.RunID+"-"+o.Name),
		tcLog:      printfLogger{o.Logger.With("component", "testcontainers")},
		timeout:    o.StartTimeout,
		docker:     docker,
		networks:   make(map[string]string),
		volumes:    make(map[string]string),
		brokers:    make(map[string]*Broker),
		sides:      make(map[Zone]*Side),
		kafkaImage: o.KafkaImage,
	}
	if err := tb.setup(ctx, o); err != nil {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if o.FailureLogDir != "" {
			err = errors.Join(err, tb.CollectLogs(tctx, o.FailureLogDir))
		}
		return nil, errors.Join(err, tb.Terminate(tctx))
	}
	return tb, nil
}

func (tb *Testbed) setup(ctx context.Context, o Options) error {
	for _, z := range Zones {
		if _, err := tb.network(ctx, string(z), z.internal()); err != nil {
			return err
		}
	}
	for _, bs := range o.Brokers {
		if _, err := tb.StartBroker(ctx, bs); err != nil {
			return err
		}
	}
	if o.Topology != nil {
		return tb.StartTopology(ctx, *o.Topology)
	}
	return nil
}

// RunID returns the run id the testbed's resources are labelled with.
func (tb *Testbed) RunID() string { return tb.run }

// Images returns the image names the testbed uses.
func (tb *Testbed) Images() Images { return tb.images }

// Docker returns the Docker client, for what the testbed does not wrap
// (NetworkDisconnect/Connect for partitions, Stop/Start).
func (tb *Testbed) Docker() *testcontainers.DockerClient { return tb.docker }

// prefix is the start of every docker name of this testbed.
func (tb *Testbed) prefix() string { return "airlock-e2e-" + tb.run + "-" + tb.name }

// Network returns the docker name of a zone's network.
func (tb *Testbed) Network(z Zone) string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.networks[string(z)]
}

// AccessNetwork returns the docker name of a zone's access network ("" until a
// container of the zone publishes ports). The bridge zone needs none.
func (tb *Testbed) AccessNetwork(z Zone) string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.networks[string(z)+"-access"]
}

// network returns the docker name of a network, creating it on first use.
func (tb *Testbed) network(ctx context.Context, key string, internal bool) (string, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.terminated {
		return "", fmt.Errorf("%w: testbed terminated", ErrBadSpec)
	}
	if n, ok := tb.networks[key]; ok {
		return n, nil
	}
	name := tb.prefix() + "-" + key
	_, err := tb.docker.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver:   "bridge",
		Internal: internal,
		Labels:   resourceLabels(tb.run, tb.name),
	})
	if err != nil {
		return "", fmt.Errorf("create network %s: %w", name, err)
	}
	tb.networks[key] = name
	tb.log.Debug("created network", "name", name, "internal", internal)
	return name, nil
}

// Volume returns the docker name of one of the testbed's named volumes, creating
// it on first use. It carries the testbed's labels, so Terminate and RemoveRun
// remove it with the containers: docker keeps named volumes otherwise.
func (tb *Testbed) Volume(ctx context.Context, key string) (string, error) {
	if !nameRE.MatchString(key) {
		return "", fmt.Errorf("%w: volume key %q", ErrBadSpec, key)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.terminated {
		return "", fmt.Errorf("%w: testbed terminated", ErrBadSpec)
	}
	if v, ok := tb.volumes[key]; ok {
		return v, nil
	}
	name := tb.prefix() + "-" + key
	if _, err := tb.docker.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: resourceLabels(tb.run, tb.name)}); err != nil {
		return "", fmt.Errorf("create volume %s: %w", name, err)
	}
	tb.volumes[key] = name
	tb.log.Debug("created volume", "name", name)
	return name, nil
}

// Containers returns every container started so far, in start order (probes
// included).
func (tb *Testbed) Containers() []*Container {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]*Container(nil), tb.containers...)
}

// Container returns the container started under name (the spec's name, its
// network alias), or nil.
func (tb *Testbed) Container(name string) *Container {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, c := range tb.containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// CollectLogs writes each container's log to dir/<container>.log. It keeps going
// past errors and returns them joined.
func (tb *Testbed) CollectLogs(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("log dir: %w", err)
	}
	tb.mu.Lock()
	cs := append([]*Container(nil), tb.containers...)
	tb.mu.Unlock()
	var errs []error
	for _, c := range cs {
		logs, err := c.Logs(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		path := filepath.Join(dir, c.Name+".log")
		if err := os.WriteFile(path, []byte(logs), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", path, err))
		}
	}
	return errors.Join(errs...)
}

// Terminate removes the testbed's containers, then its networks, by label, so
// nothing is left even for containers whose start failed half-way. It is safe to
// call more than once.
func (tb *Testbed) Terminate(ctx context.Context) error {
	tb.mu.Lock()
	if tb.terminated {
		tb.mu.Unlock()
		return nil
	}
	tb.terminated = true
	secrets := tb.secrets
	tb.mu.Unlock()
	rs, err := list(ctx, tb.docker, map[string]string{LabelE2E: "1", LabelRun: tb.run, LabelTestbed: tb.name})
	if err == nil {
		err = remove(ctx, tb.docker, rs)
	}
	var rmErr error
	if secrets != nil {
		if e := os.RemoveAll(secrets.Dir); e != nil {
			rmErr = fmt.Errorf("remove secrets: %w", e)
		}
	}
	return errors.Join(err, rmErr, tb.docker.Close())
}

// printfLogger adapts slog to testcontainers' Printf logger.
type printfLogger struct{ l *slog.Logger }

func (p printfLogger) Printf(format string, v ...any) { p.l.Debug(fmt.Sprintf(format, v...)) }
