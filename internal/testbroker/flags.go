package testbroker

import (
	"crypto/tls"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/airlock-kafka/airlock/internal/flagenv"
	"github.com/airlock-kafka/airlock/internal/tlsutil"
)

// Mechanisms lists the SASL mechanisms the broker accepts.
var Mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// ClientAuthModes lists the values of --tls-client-auth.
var ClientAuthModes = []string{"none", "request", "require-any", "verify-if-given", "require"}

// Flags are the command-line settings of airlock-testbroker; Options turns them
// into broker options.
type Flags struct {
	Nodes             int
	Ports             string
	ListenHost        string
	AdvertiseHost     string
	AsVersion         string
	DataDir           string
	SyncWrites        bool
	SeedTopics        string
	ClusterID         string
	TLSCertFile       string
	TLSKeyFile        string
	TLSKeyPassword    string
	TLSClientCAFile   string
	TLSClientAuth     string
	SASLUsers         flagenv.StringList
	DefaultPartitions int
	AutoCreateTopics  bool
	AdminListen       string
	KfakeLogLevel     string
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.IntVar(&f.Nodes, "nodes", 0, "number of broker nodes (default 1, or the number of --ports)")
	fs.StringVar(&f.Ports, "ports", "", "comma-separated port of each node (default 9092,9093,... one per node)")
	fs.StringVar(&f.ListenHost, "listen-host", "0.0.0.0", "host the nodes bind")
	fs.StringVar(&f.AdvertiseHost, "advertise-host", "", "host the nodes advertise to clients (default: the host name, which a container's networks resolve)")
	fs.StringVar(&f.AsVersion, "as-version", "", "Kafka release to emulate: "+strings.Join(Versions(), ", ")+" (default: the newest kfake knows)")
	fs.StringVar(&f.DataDir, "data-dir", "", "persist the cluster in this directory and reload it on start (default: memory only)")
	fs.BoolVar(&f.SyncWrites, "sync-writes", false, "fsync every batch (with --data-dir); without it a kill -9 can lose the last batches")
	fs.StringVar(&f.SeedTopics, "seed-topics", "", "topics to create on first start: name:partitions,... (partitions optional)")
	fs.StringVar(&f.ClusterID, "cluster-id", "", "cluster id returned in metadata (default kfake)")
	fs.StringVar(&f.TLSCertFile, "tls-cert-file", "", "PEM server certificate; enables TLS on every node")
	fs.StringVar(&f.TLSKeyFile, "tls-key-file", "", "PEM server key")
	fs.StringVar(&f.TLSKeyPassword, "tls-key-password", "", "password of an encrypted server key")
	fs.StringVar(&f.TLSClientCAFile, "tls-client-ca-file", "", "PEM CA bundle to verify client certificates")
	fs.StringVar(&f.TLSClientAuth, "tls-client-auth", "", "client certificates: "+strings.Join(ClientAuthModes, ", ")+" (default: require with --tls-client-ca-file, else none)")
	fs.Var(&f.SASLUsers, "sasl-user", "SASL superuser user:pass:MECHANISM (repeatable; mechanisms "+strings.Join(Mechanisms, ", ")+"); enables SASL")
	fs.IntVar(&f.DefaultPartitions, "default-partitions", 0, "partitions of auto-created topics and CreateTopics with -1 (default 10)")
	fs.BoolVar(&f.AutoCreateTopics, "allow-auto-topic-creation", false, "let metadata requests create topics")
	fs.StringVar(&f.AdminListen, "admin-listen", ":8080", "admin HTTP API address (empty: none)")
	fs.StringVar(&f.KfakeLogLevel, "kfake-log-level", "warn", "kfake's own logging: none, error, warn, info (every request), debug")
}

// Options validates the flags and returns the broker options they describe.
func (f *Flags) Options() ([]Option, error) {
	opts := []Option{
		WithListenHost(f.ListenHost),
		WithAdvertiseHost(f.AdvertiseHost),
		WithAdminListen(f.AdminListen),
	}
	ports, err := ParsePorts(f.Ports)
	if err != nil {
		return nil, err
	}
	nodes := f.Nodes
	switch {
	case nodes < 0:
		return nil, fmt.Errorf("%w: --nodes %d", ErrBadConfig, nodes)
	case len(ports) > 0 && nodes > 0 && nodes != len(ports):
		return nil, fmt.Errorf("%w: --nodes %d but %d --ports", ErrBadConfig, nodes, len(ports))
	case len(ports) == 0:
		if nodes == 0 {
			nodes = 1
		}
		for i := range nodes {
			ports = append(ports, 9092+i)
		}
	}
	opts = append(opts, WithPorts(ports...))

	if f.AsVersion != "" {
		if _, _, err := ParseVersion(f.AsVersion); err != nil {
			return nil, err
		}
		opts = append(opts, WithKafkaVersion(f.AsVersion))
	}
	if f.DataDir != "" {
		opts = append(opts, WithDataDir(f.DataDir))
	}
	if f.SyncWrites {
		if f.DataDir == "" {
			return nil, fmt.Errorf("%w: --sync-writes needs --data-dir", ErrBadConfig)
		}
		opts = append(opts, WithSyncWrites())
	}
	seeds, err := ParseSeedTopics(f.SeedTopics)
	if err != nil {
		return nil, err
	}
	if len(seeds) > 0 {
		opts = append(opts, WithSeedTopics(seeds...))
	}
	if f.ClusterID != "" {
		opts = append(opts, WithClusterID(f.ClusterID))
	}
	tc, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, WithTLS(tc))
	}
	for _, s := range f.SASLUsers {
		u, err := ParseSASLUser(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, WithSASLUsers(u))
	}
	if f.DefaultPartitions < 0 {
		return nil, fmt.Errorf("%w: --default-partitions %d", ErrBadConfig, f.DefaultPartitions)
	}
	if f.DefaultPartitions > 0 {
		opts = append(opts, WithDefaultPartitions(f.DefaultPartitions))
	}
	if f.AutoCreateTopics {
		opts = append(opts, WithAutoTopicCreation())
	}
	lvl, err := ParseKfakeLogLevel(f.KfakeLogLevel)
	if err != nil {
		return nil, err
	}
	return append(opts, WithKfakeLogLevel(lvl)), nil
}

func (f *Flags) tlsConfig() (*tls.Config, error) {
	if f.TLSCertFile == "" && f.TLSKeyFile == "" {
		if f.TLSClientCAFile != "" || f.TLSClientAuth != "" {
			return nil, fmt.Errorf("%w: client certificate settings need --tls-cert-file and --tls-key-file", ErrBadConfig)
		}
		return nil, nil
	}
	if f.TLSCertFile == "" || f.TLSKeyFile == "" {
		return nil, fmt.Errorf("%w: TLS needs both --tls-cert-file and --tls-key-file", ErrBadConfig)
	}
	cert, err := tlsutil.LoadKeyPair(f.TLSCertFile, f.TLSKeyFile, f.TLSKeyPassword)
	if err != nil {
		return nil, fmt.Errorf("server TLS: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	mode := f.TLSClientAuth
	if mode == "" {
		mode = "none"
		if f.TLSClientCAFile != "" {
			mode = "require"
		}
	}
	switch mode {
	case "none":
		tc.ClientAuth = tls.NoClientCert
	case "request":
		tc.ClientAuth = tls.RequestClientCert
	case "require-any":
		tc.ClientAuth = tls.RequireAnyClientCert
	case "verify-if-given":
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("%w: --tls-client-auth %q, want one of %s", ErrBadConfig, mode, strings.Join(ClientAuthModes, ", "))
	}
	verifies := tc.ClientAuth == tls.VerifyClientCertIfGiven || tc.ClientAuth == tls.RequireAndVerifyClientCert
	switch {
	case verifies && f.TLSClientCAFile == "":
		return nil, fmt.Errorf("%w: --tls-client-auth %s needs --tls-client-ca-file", ErrBadConfig, mode)
	case f.TLSClientCAFile != "":
		pool, err := tlsutil.LoadCertPool(f.TLSClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		tc.ClientCAs = pool
	}
	return tc, nil
}

// ParsePorts parses a comma-separated port list; empty gives none.
func ParsePorts(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("%w: port %q", ErrBadConfig, p)
		}
		out = append(out, n)
	}
	return out, nil
}

// ParseSeedTopics parses "name:partitions,name,..."; a missing partition count
// means the default.
func ParseSeedTopics(s string) ([]SeedTopic, error) {
	var out []SeedTopic
	for _, item := range splitList(s) {
		name, parts, hasParts := strings.Cut(item, ":")
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("%w %q: empty name", ErrBadSeedTopic, item)
		}
		t := SeedTopic{Name: name}
		if hasParts {
			n, err := strconv.ParseInt(strings.TrimSpace(parts), 10, 32)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%w %q: partitions must be a positive integer", ErrBadSeedTopic, item)
			}
			t.Partitions = int32(n)
		}
		out = append(out, t)
	}
	return out, nil
}

// ParseSASLUser parses user:pass:MECHANISM. The password may contain colons; the
// user may not.
func ParseSASLUser(s string) (SASLUser, error) {
	user, rest, ok := strings.Cut(s, ":")
	i := strings.LastIndex(rest, ":")
	if !ok || i < 0 || user == "" {
		return SASLUser{}, fmt.Errorf("%w: want user:pass:MECHANISM, got %q", ErrBadSASLUser, redact(s))
	}
	u := SASLUser{User: user, Pass: rest[:i], Mechanism: strings.ToUpper(rest[i+1:])}
	if u.Pass == "" {
		return SASLUser{}, fmt.Errorf("%w: user %q has an empty password", ErrBadSASLUser, user)
	}
	if !slices.Contains(Mechanisms, u.Mechanism) {
		return SASLUser{}, fmt.Errorf("%w: user %q: mechanism %q, want one of %s", ErrBadSASLUser, user, u.Mechanism, strings.Join(Mechanisms, ", "))
	}
	return u, nil
}

// redact keeps a malformed SASL user out of logs except for its first field.
func redact(s string) string {
	if user, _, ok := strings.Cut(s, ":"); ok {
		return user + ":***"
	}
	return "***"
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
