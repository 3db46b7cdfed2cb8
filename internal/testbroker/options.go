package testbroker

import (
	"crypto/tls"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Option configures a Broker.
type Option interface {
	apply(*config)
}

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

// SeedTopic is a topic created when the cluster starts.
type SeedTopic struct {
	Name string
	// Partitions is the partition count; 0 or less means the default partition count.
	Partitions int32
}

// SASLUser is a superuser the broker accepts.
type SASLUser struct {
	User, Pass string
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string
}

type config struct {
	nodes         int
	ports         []int
	listenHost    string
	advertiseHost string
	version       string
	dataDir       string
	syncWrites    bool
	seedTopics    []SeedTopic
	clusterID     string
	tls           *tls.Config
	saslUsers     []SASLUser
	defaultParts  int
	autoCreate    bool
	adminListen   string
	logger        *slog.Logger
	kfakeLogLevel kfake.LogLevel
	kfakeOpts     []kfake.Opt
	hostname      func() (string, error)
}

// WithNodes sets the number of broker nodes (default 1, or the number of ports given
// with WithPorts).
func WithNodes(n int) Option { return optFunc(func(c *config) { c.nodes = n }) }

// WithPorts sets the port of each node, node 0 first; 0 picks a free port. Without
// it every node gets a free port, which is what in-process tests want.
func WithPorts(ports ...int) Option {
	return optFunc(func(c *config) { c.ports = append([]int(nil), ports...) })
}

// WithListenHost sets the address the nodes bind (default 0.0.0.0).
func WithListenHost(h string) Option { return optFunc(func(c *config) { c.listenHost = h }) }

// WithAdvertiseHost sets the host the nodes advertise to clients. The default is
// the listen host when it is a specific address, else the machine's host name
// (a container's host name resolves inside its networks).
func WithAdvertiseHost(h string) Option { return optFunc(func(c *config) { c.advertiseHost = h }) }

// WithKafkaVersion limits the advertised and accepted request versions to a Kafka
// release, as named by Versions ("0.11", "2.8", "3.9", "4.0"). New fails on an
// unknown name.
func WithKafkaVersion(v string) Option { return optFunc(func(c *config) { c.version = v }) }

// WithDataDir persists the cluster in dir and reloads it from there on start.
func WithDataDir(dir string) Option { return optFunc(func(c *config) { c.dataDir = dir }) }

// WithSyncWrites fsyncs every batch; without it a kill -9 can lose unsynced
// batches, as with a one-replica Kafka.
func WithSyncWrites() Option { return optFunc(func(c *config) { c.syncWrites = true }) }

// WithSeedTopics creates topics when the cluster starts (not when it reloads a
// data dir that already holds state).
func WithSeedTopics(ts ...SeedTopic) Option {
	return optFunc(func(c *config) { c.seedTopics = append(c.seedTopics, ts...) })
}

// WithClusterID sets the cluster id returned in metadata.
func WithClusterID(id string) Option { return optFunc(func(c *config) { c.clusterID = id }) }

// WithTLS serves every node with TLS.
func WithTLS(tc *tls.Config) Option { return optFunc(func(c *config) { c.tls = tc }) }

// WithSASLUsers enables SASL and adds superusers.
func WithSASLUsers(us ...SASLUser) Option {
	return optFunc(func(c *config) { c.saslUsers = append(c.saslUsers, us...) })
}

// WithDefaultPartitions sets the partition count of auto-created topics and of
// CreateTopics with -1 partitions (kfake's default is 10).
func WithDefaultPartitions(n int) Option { return optFunc(func(c *config) { c.defaultParts = n }) }

// WithAutoTopicCreation lets metadata requests create topics.
func WithAutoTopicCreation() Option { return optFunc(func(c *config) { c.autoCreate = true }) }

// WithAdminListen serves the admin HTTP API on addr (host:port) from Run; empty
// (the default) serves none. Handler serves the same API for in-process use.
func WithAdminListen(addr string) Option { return optFunc(func(c *config) { c.adminListen = addr }) }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return optFunc(func(c *config) { c.logger = l }) }

// WithKfakeLogLevel sets how much of kfake's own logging reaches the logger
// (default warnings and errors; info logs every request).
func WithKfakeLogLevel(l kfake.LogLevel) Option {
	return optFunc(func(c *config) { c.kfakeLogLevel = l })
}

// WithKfakeOpts passes further kfake options (broker configs, ACLs, ...) through.
func WithKfakeOpts(opts ...kfake.Opt) Option {
	return optFunc(func(c *config) { c.kfakeOpts = append(c.kfakeOpts, opts...) })
}
