package testbed

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/airlock-kafka/airlock/consumer"
)

// Workload containers (issue 6): airlock-producer in the source zone and
// airlock-consumer in the target zone talk to their brokers directly with mutual
// TLS; airlock-bridge in the bridge zone reaches both clusters only through
// toxiproxy and the proxies, with TLS and SASL. The images are FROM scratch, so
// files go in by copy before the start (ContainerSpec.Files) and come out by
// copy after the exit (Container.CopyOut); /data is writable by the images' user.

// Paths inside the workload containers.
const (
	// LedgerPath is where the producer writes its ledger.
	LedgerPath = "/data/ledger.jsonl"
	// ReportPath is where the consumer writes its JSON report.
	ReportPath = "/data/report.json"
	// ledgerDir receives the ledgers the consumer checks against; not under
	// /data, whose ownership a copied parent directory entry would change.
	ledgerDir = "/ledgers"
)

// DefaultTargetPrefix prefixes the target topics of a bridge, as MirrorMaker's
// default replication policy does with the source cluster's alias.
const DefaultTargetPrefix = "source."

// BridgeHTTPPort serves the bridge's /metrics, /healthz and /readyz.
const BridgeHTTPPort = 9081

// ProducerSpec describes an airlock-producer run against the source cluster.
type ProducerSpec struct {
	// Name is the container name (default producer-<n>).
	Name string
	// Topic must exist (ClusterSpec.SeedTopics) unless Args has --create-topic.
	Topic string
	// Events to produce; Rate per second (0: as fast as possible).
	Events int64
	Rate   float64
	// Keys is the number of distinct keys (0: the producer's default).
	Keys int
	// TransactionalID, when set, produces in transactions of TxnSize events
	// (0: default) and aborts AbortFraction of them on purpose.
	TransactionalID string
	TxnSize         int
	AbortFraction   float64
	// Args are further airlock-producer flags (they win over the above).
	Args []string
}

// cmd returns the producer's flags.
func (p ProducerSpec) cmd(brokers []string, s *Secrets) []string {
	cmd := []string{
		"--brokers", strings.Join(brokers, ","),
		"--topic", p.Topic,
		"--events", strconv.FormatInt(p.Events, 10),
		"--ledger", LedgerPath,
	}
	if p.Rate > 0 {
		cmd = append(cmd, "--rate", strconv.FormatFloat(p.Rate, 'f', -1, 64))
	}
	if p.Keys > 0 {
		cmd = append(cmd, "--keys", strconv.Itoa(p.Keys))
	}
	if p.TransactionalID != "" {
		cmd = append(cmd, "--transactional-id", p.TransactionalID,
			"--abort-fraction", strconv.FormatFloat(p.AbortFraction, 'f', -1, 64))
		if p.TxnSize > 0 {
			cmd = append(cmd, "--txn-size", strconv.Itoa(p.TxnSize))
		}
	}
	cmd = append(cmd, s.BrokerClientArgs("", CertProducer)...)
	return append(cmd, p.Args...)
}

func (p ProducerSpec) validate() error {
	switch {
	case p.Topic == "":
		return fmt.Errorf("%w: producer without topic", ErrBadSpec)
	case p.Events <= 0:
		return fmt.Errorf("%w: producer needs Events > 0", ErrBadSpec)
	case p.AbortFraction < 0 || p.AbortFraction > 1:
		return fmt.Errorf("%w: producer abort fraction %v not in [0,1]", ErrBadSpec, p.AbortFraction)
	case p.AbortFraction > 0 && p.TransactionalID == "":
		return fmt.Errorf("%w: producer abort fraction needs a transactional id", ErrBadSpec)
	}
	return nil
}

// StartProducer starts airlock-producer in the source zone and returns without
// waiting: faults go in while it runs. Wait for its exit, then CopyOut
// LedgerPath (see Ledger).
func (tb *Testbed) StartProducer(ctx context.Context, p ProducerSpec) (*Container, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	side, secrets := tb.Side(Source), tb.Secrets()
	if side == nil || secrets == nil {
		return nil, fmt.Errorf("producer: source: %w", ErrNoTopology)
	}
	if p.Name == "" {
		p.Name = "producer-" + strconv.FormatInt(tb.seq.Add(1), 10)
	}
	return tb.Start(ctx, ContainerSpec{
		Name:  p.Name,
		Image: tb.images.Producer,
		Zones: []Zone{Source},
		Cmd:   p.cmd(side.Broker.Addrs(), secrets),
		Files: secrets.CertFiles(CertProducer),
	})
}

// ConsumerSpec describes an airlock-consumer run against the target cluster.
type ConsumerSpec struct {
	// Name is the container name (default consumer-<n>).
	Name string
	// Topics to read (read_committed) and check.
	Topics []string
	// Ledgers are host paths of producer ledgers to check against.
	Ledgers []string
	// Expect stops after this many records plus a second of quiet; 0 relies on
	// IdleTimeout alone.
	Expect int64
	// IdleTimeout stops when nothing arrived for this long (default 30s).
	IdleTimeout time.Duration
	// Deadline bounds the whole read (default 3m).
	Deadline time.Duration
	// Args are further airlock-consumer flags.
	Args []string
}

// ConsumerRun is the outcome of one consumer container.
type ConsumerRun struct {
	// Report is the checker's verdict, read from ReportPath.
	Report consumer.Report
	// ExitCode is 0 clean, 1 violations, 3 could not run.
	ExitCode int
	// Logs is the container's output: its progress and the verification table.
	Logs string
}

// RunConsumer runs airlock-consumer in the target zone until it exits and
// returns its report. An exit without a report is an error that carries the
// logs.
func (tb *Testbed) RunConsumer(ctx context.Context, c ConsumerSpec) (ConsumerRun, error) {
	side, secrets := tb.Side(Target), tb.Secrets()
	if side == nil || secrets == nil {
		return ConsumerRun{}, fmt.Errorf("consumer: target: %w", ErrNoTopology)
	}
	if len(c.Topics) == 0 {
		return ConsumerRun{}, fmt.Errorf("%w: consumer without topics", ErrBadSpec)
	}
	if c.Name == "" {
		c.Name = "consumer-" + strconv.FormatInt(tb.seq.Add(1), 10)
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.Deadline <= 0 {
		c.Deadline = 3 * time.Minute
	}
	files := secrets.CertFiles(CertConsumer)
	cmd := []string{
		"--brokers", strings.Join(side.Broker.Addrs(), ","),
		"--topics", strings.Join(c.Topics, ","),
		"--idle-timeout", c.IdleTimeout.String(),
		"--deadline", c.Deadline.String(),
		"--report", ReportPath,
	}
	if c.Expect > 0 {
		cmd = append(cmd, "--expect", strconv.FormatInt(c.Expect, 10), "--settle", "2s")
	}
	for i, l := range c.Ledgers {
		in := path.Join(ledgerDir, fmt.Sprintf("ledger-%d.jsonl", i))
		files = append(files, File{HostPath: l, ContainerPath: in})
		cmd = append(cmd, "--ledger", in)
	}
	cmd = append(cmd, secrets.BrokerClientArgs("", CertConsumer)...)
	cmd = append(cmd, c.Args...)
	ctr, err := tb.Start(ctx, ContainerSpec{Name: c.Name, Image: tb.images.Consumer, Zones: []Zone{Target}, Cmd: cmd, Files: files})
	if err != nil {
		return ConsumerRun{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, c.Deadline+time.Minute)
	defer cancel()
	var run ConsumerRun
	run.ExitCode, err = ctr.Wait(wctx)
	run.Logs, _ = ctr.Logs(context.WithoutCancel(ctx))
	if err != nil {
		return run, err
	}
	raw, err := ctr.CopyOut(ctx, ReportPath)
	if err != nil {
		return run, fmt.Errorf("consumer exited %d without a report: %w\n%s", run.ExitCode, err, run.Logs)
	}
	if err := json.Unmarshal(raw, &run.Report); err != nil {
		return run, fmt.Errorf("consumer report: %w", err)
	}
	return run, nil
}

// BridgeSpec describes an airlock-bridge instance in the bridge zone.
type BridgeSpec struct {
	// Name is the bridge's --name (default "e2e"); instances that share tasks
	// share it.
	Name string
	// Container is the container name (default "bridge"); give each instance
	// of a group its own.
	Container string
	// Topics are the source topics to copy.
	Topics []string
	// TargetPrefix is the --rename prefix of target topics (default
	// DefaultTargetPrefix). Distinct names keep the consumer's checker from
	// comparing target offsets with the source offsets in the ledger.
	TargetPrefix string
	// Args are further airlock-bridge flags; they win over the defaults
	// (static coordination, a 10s transaction timeout so a killed instance's
	// open transaction blocks readers briefly, 1s discovery).
	Args []string
}

// BridgeInstance is a running airlock-bridge container.
type BridgeInstance struct {
	*Container
	// Name is the bridge's --name.
	Name string

	prefix string
}

// TargetTopic returns the name the bridge gives a source topic on the target.
func (b *BridgeInstance) TargetTopic(source string) string { return b.prefix + source }

// StartBridge starts airlock-bridge in the bridge zone, pointed at both sides'
// toxiproxy addresses with TLS and SASL, and waits until /readyz answers.
func (tb *Testbed) StartBridge(ctx context.Context, b BridgeSpec) (*BridgeInstance, error) {
	src, dst, secrets := tb.Side(Source), tb.Side(Target), tb.Secrets()
	if src == nil || dst == nil || secrets == nil {
		return nil, fmt.Errorf("bridge: source and target: %w", ErrNoTopology)
	}
	if len(b.Topics) == 0 {
		return nil, fmt.Errorf("%w: bridge without topics", ErrBadSpec)
	}
	if b.Name == "" {
		b.Name = "e2e"
	}
	if b.TargetPrefix == "" {
		b.TargetPrefix = DefaultTargetPrefix
	}
	if b.Container == "" {
		b.Container = "bridge"
	}
	cmd := []string{
		"--name", b.Name,
		"--source-brokers", src.Bootstrap(),
		"--target-brokers", dst.Bootstrap(),
		"--coordination", "static",
		"--txn-timeout", "10s",
		"--discovery-interval", "1s",
		"--http-listen-address", "0.0.0.0:" + strconv.Itoa(BridgeHTTPPort),
		"--rename", b.TargetPrefix,
	}
	for _, t := range b.Topics {
		cmd = append(cmd, "--topic", t)
	}
	cmd = append(cmd, secrets.ClientArgs("source-")...)
	cmd = append(cmd, secrets.ClientArgs("target-")...)
	cmd = append(cmd, b.Args...)
	c, err := tb.Start(ctx, ContainerSpec{
		Name:      b.Container,
		Image:     tb.images.Bridge,
		Zones:     []Zone{Bridge},
		Cmd:       cmd,
		Files:     secrets.ClientFiles(),
		HostPorts: []string{strconv.Itoa(BridgeHTTPPort)},
	})
	if err != nil {
		return nil, err
	}
	br := &BridgeInstance{Container: c, Name: b.Name, prefix: b.TargetPrefix}
	return br, br.WaitReady(ctx)
}

// URL returns the bridge's HTTP base URL on the host; ask again after a
// restart, which may change the published port.
func (b *BridgeInstance) URL(ctx context.Context) (string, error) {
	addr, err := b.HostAddr(ctx, strconv.Itoa(BridgeHTTPPort))
	if err != nil {
		return "", err
	}
	return "http://" + addr, nil
}

// WaitReady polls /readyz until it answers 200, within the start timeout.
func (b *BridgeInstance) WaitReady(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, b.tb.timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		// The published port is only known once the container runs again.
		u, err := b.URL(wctx)
		if err == nil {
			if err = getOK(wctx, u+"/readyz"); err == nil {
				return nil
			}
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("bridge %s not ready: %w (last: %v)", b.DockerName, wctx.Err(), err)
		case <-tick.C:
		}
	}
}

// KillAndRestart kills the bridge with SIGKILL (no flush, no abort of its open
// transaction), starts it again and waits until it is ready.
func (b *BridgeInstance) KillAndRestart(ctx context.Context) error {
	if err := b.Kill(ctx); err != nil {
		return err
	}
	if _, err := b.Wait(ctx); err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return err
	}
	return b.WaitReady(ctx)
}

// OffsetsGroup is the target group the bridge stores source offsets in (the
// bridge's default for its name).
func (b *BridgeInstance) OffsetsGroup() string { return "airlock-bridge." + b.Name }

// Wait polls until the container has exited and returns its exit code.
func (c *Container) Wait(ctx context.Context) (int, error) {
	id, err := c.id()
	if err != nil {
		return 0, err
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		in, err := c.tb.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err == nil && in.Container.State != nil && !in.Container.State.Running && !in.Container.State.Restarting {
			return in.Container.State.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for %s to exit: %w (last error: %v)", c.DockerName, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// maxCopyOut bounds what CopyOut reads: ledgers and reports of a test run.
const maxCopyOut = 256 << 20

// CopyOut returns the content of a regular file in the container, running or
// exited (the scratch images cannot cat it).
func (c *Container) CopyOut(ctx context.Context, file string) ([]byte, error) {
	id, err := c.id()
	if err != nil {
		return nil, err
	}
	res, err := c.tb.docker.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: file})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("%s:%s: %w", c.DockerName, file, ErrNotFound)
		}
		return nil, fmt.Errorf("copy %s out of %s: %w", file, c.DockerName, err)
	}
	defer func() { _ = res.Content.Close() }()
	tr := tar.NewReader(res.Content)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:%s: %w", c.DockerName, file, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("copy %s out of %s: %w", file, c.DockerName, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, io.LimitReader(tr, maxCopyOut)); err != nil {
			return nil, fmt.Errorf("copy %s out of %s: %w", file, c.DockerName, err)
		}
		return buf.Bytes(), nil
	}
}
