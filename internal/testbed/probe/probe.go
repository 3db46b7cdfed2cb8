// Package probe checks whether addresses are reachable from where it runs. The
// testbed runs it in a container (cmd/airlock-probe) to prove network isolation: a
// container on one zone's network must not reach a broker on another's. Its
// metadata mode reports every broker address a cluster hands out (through a
// proxy: only proxy addresses may appear). It has no docker dependency so the
// probe binary stays small.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Mode is what "reachable" means.
type Mode string

const (
	// TCP: a TCP connection is established.
	TCP Mode = "tcp"
	// Kafka: the target answers an ApiVersions request, which proves a Kafka
	// listener (with the configured TLS and SASL) rather than any open port.
	Kafka Mode = "kafka"
	// Metadata: the target answers Metadata, FindCoordinator (group and
	// transaction) and, when it supports it, DescribeCluster; every broker
	// address in the answers is reported (Result.Endpoints) and must itself
	// answer ApiVersions for the result to be OK.
	Metadata Mode = "metadata"
)

// ErrUnknownMode is returned for a mode other than TCP, Kafka and Metadata.
var ErrUnknownMode = errors.New("unknown probe mode")

// Result is the outcome for one target, printed as one JSON line by the command.
type Result struct {
	Target string `json:"target"`
	Mode   Mode   `json:"mode"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	// Elapsed is in milliseconds: how long the attempt took (for debugging a
	// failing spec, never asserted on).
	Elapsed int64 `json:"elapsed_ms"`
	// Endpoints are the broker addresses the target handed out (Metadata mode).
	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// Endpoint is one broker address found in a response.
type Endpoint struct {
	// API is the response it came from: Metadata, FindCoordinator(group),
	// FindCoordinator(transaction) or DescribeCluster.
	API    string `json:"api"`
	NodeID int32  `json:"node"`
	Addr   string `json:"addr"`
	// Reachable says whether Addr answered ApiVersions with the probe's TLS
	// and SASL settings; Error says why not.
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
}

// Option configures Run.
type Option interface{ apply(*config) }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

type config struct {
	mode    Mode
	timeout time.Duration
	kgoOpts []kgo.Opt
}

// WithMode sets the mode (default TCP).
func WithMode(m Mode) Option { return optFunc(func(c *config) { c.mode = m }) }

// WithTimeout bounds each target's attempt (default 3s).
func WithTimeout(d time.Duration) Option { return optFunc(func(c *config) { c.timeout = d }) }

// WithKgoOpts adds franz-go options (TLS, SASL) for Kafka mode.
func WithKgoOpts(opts ...kgo.Opt) Option {
	return optFunc(func(c *config) { c.kgoOpts = append(c.kgoOpts, opts...) })
}

// Run probes every target (host:port) in order and returns one result each.
func Run(ctx context.Context, targets []string, opts ...Option) ([]Result, error) {
	cfg := config{mode: TCP, timeout: 3 * time.Second}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.mode != TCP && cfg.mode != Kafka && cfg.mode != Metadata {
		return nil, fmt.Errorf("%w %q (want %s, %s or %s)", ErrUnknownMode, cfg.mode, TCP, Kafka, Metadata)
	}
	out := make([]Result, 0, len(targets))
	for _, t := range targets {
		start := time.Now()
		var (
			err error
			eps []Endpoint
		)
		switch cfg.mode {
		case TCP:
			err = dialTCP(ctx, t, cfg.timeout)
		case Kafka:
			err = askKafka(ctx, t, cfg)
		case Metadata:
			eps, err = askMetadata(ctx, t, cfg)
		}
		r := Result{Target: t, Mode: cfg.mode, OK: err == nil, Elapsed: time.Since(start).Milliseconds(), Endpoints: eps}
		if err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	return out, nil
}

func dialTCP(ctx context.Context, target string, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return fmt.Errorf("dial %s: %w", target, err)
	}
	return c.Close()
}

// askKafka sends ApiVersions to target itself, not to whatever address the target
// advertises: the question is whether this address is reachable.
func askKafka(ctx context.Context, target string, cfg config) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(target),
		kgo.DialTimeout(cfg.timeout),
		kgo.RequestRetries(0),
	}, cfg.kgoOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("client for %s: %w", target, err)
	}
	defer cl.Close()
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return fmt.Errorf("no seed broker for %s", target)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if _, err := seeds[0].Request(ctx, kmsg.NewPtrApiVersionsRequest()); err != nil {
		return fmt.Errorf("ApiVersions to %s: %w", target, err)
	}
	return nil
}

// AllOK reports whether every result is OK.
func AllOK(rs []Result) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return true
}
