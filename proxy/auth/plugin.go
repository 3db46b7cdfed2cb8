package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/rpc"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/airlock-kafka/airlock/proxy/auth/internal/wire"
)

// Handshake is the go-plugin handshake between airlock-proxy and an auth plugin. The
// cookie only tells a plugin binary it was started by the proxy (it is not a secret);
// ProtocolVersion changes when the wire messages do.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "AIRLOCK_AUTH_PLUGIN",
	MagicCookieValue: "7f3c1e0a-airlock-auth-verifier",
}

// pluginName is the name the verifier is dispensed under.
const pluginName = "verifier"

// Plugin defaults.
const (
	DefaultPluginStartTimeout = 30 * time.Second
	DefaultPluginCallTimeout  = 10 * time.Second
	DefaultPluginRestartDelay = time.Second
)

// verifierPlugin is the go-plugin glue on both sides: impl is set in the plugin.
type verifierPlugin struct {
	impl Verifier
	base context.Context
}

func (p *verifierPlugin) Server(*plugin.MuxBroker) (any, error) {
	return &rpcServer{impl: p.impl, base: p.base}, nil
}

func (p *verifierPlugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) {
	return &rpcClient{c: c}, nil
}

// rpcServer runs in the plugin and answers the host's calls with a Verifier.
type rpcServer struct {
	impl Verifier
	base context.Context
}

func (s *rpcServer) ctx(deadline time.Time) (context.Context, context.CancelFunc) {
	if deadline.IsZero() {
		return context.WithCancel(s.base)
	}
	return context.WithDeadline(s.base, deadline)
}

// VerifyPlain is the RPC method behind Verifier.VerifyPlain.
func (s *rpcServer) VerifyPlain(args wire.PlainArgs, reply *wire.PlainReply) error {
	ctx, cancel := s.ctx(args.Deadline)
	defer cancel()
	p, err := s.impl.VerifyPlain(ctx, args.User, args.Pass)
	reply.Principal = p
	reply.Kind, reply.Message = errorKind(err)
	return nil
}

// SCRAMCredentials is the RPC method behind Verifier.SCRAMCredentials.
func (s *rpcServer) SCRAMCredentials(args wire.SCRAMArgs, reply *wire.SCRAMReply) error {
	ctx, cancel := s.ctx(args.Deadline)
	defer cancel()
	c, err := s.impl.SCRAMCredentials(ctx, args.Mechanism, args.User)
	*reply = wire.SCRAMReply{Salt: c.Salt, Iterations: c.Iterations, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Principal: c.Principal}
	reply.Kind, reply.Message = errorKind(err)
	return nil
}

func errorKind(err error) (kind, msg string) {
	switch {
	case err == nil:
		return wire.KindNone, ""
	case errors.Is(err, ErrNoCredential):
		kind = wire.KindNoCredential
	case errors.Is(err, ErrUnknownUser):
		kind = wire.KindUnknownUser
	case errors.Is(err, ErrAuthFailed):
		kind = wire.KindAuthFailed
	case errors.Is(err, ErrUnavailable):
		kind = wire.KindUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		kind = wire.KindCanceled
	default:
		kind = wire.KindOther
	}
	return kind, err.Error()
}

// kindToError rebuilds a plugin's error on the host, keeping its kind for Reason.
func kindToError(kind, msg string) error {
	var sentinel error
	switch kind {
	case wire.KindNone:
		return nil
	case wire.KindNoCredential:
		sentinel = ErrNoCredential
	case wire.KindUnknownUser:
		sentinel = ErrUnknownUser
	case wire.KindAuthFailed:
		sentinel = ErrAuthFailed
	case wire.KindCanceled:
		sentinel = context.DeadlineExceeded
	default:
		sentinel = ErrUnavailable
	}
	return fmt.Errorf("plugin: %s: %w", msg, sentinel)
}

// rpcClient is the host's view of one plugin process.
type rpcClient struct{ c *rpc.Client }

// call runs method and gives up when ctx ends; net/rpc has no cancellation, so an
// abandoned call finishes in the background and its reply is dropped.
func (c *rpcClient) call(ctx context.Context, method string, args, reply any) error {
	call := c.c.Go(method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		return call.Error
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PluginOption configures NewPluginVerifier.
type PluginOption func(*pluginVerifier)

// WithPluginLogger receives the plugin's stderr (one record per line) and the plugin
// host's warnings (default: discarded).
func WithPluginLogger(l *slog.Logger) PluginOption {
	return func(p *pluginVerifier) { p.logger = l }
}

// WithPluginStartTimeout bounds how long the plugin may take to start and answer the
// handshake (default DefaultPluginStartTimeout).
func WithPluginStartTimeout(d time.Duration) PluginOption {
	return func(p *pluginVerifier) {
		if d > 0 {
			p.startTimeout = d
		}
	}
}

// WithPluginCallTimeout bounds a call whose context has no deadline (default
// DefaultPluginCallTimeout), so a hung plugin cannot hang a client connection.
func WithPluginCallTimeout(d time.Duration) PluginOption {
	return func(p *pluginVerifier) {
		if d > 0 {
			p.callTimeout = d
		}
	}
}

// WithPluginRestartDelay sets how long after a plugin exits the verifier waits before
// starting it again on the next call (default DefaultPluginRestartDelay); calls in
// between fail with ErrUnavailable. A negative delay never restarts: every call after
// an exit fails.
func WithPluginRestartDelay(d time.Duration) PluginOption {
	return func(p *pluginVerifier) { p.restartDelay = d }
}

// pluginVerifier is a Verifier backed by a plugin process it starts, and restarts
// after a crash.
type pluginVerifier struct {
	path         string
	args         []string
	logger       *slog.Logger
	startTimeout time.Duration
	callTimeout  time.Duration
	restartDelay time.Duration

	mu       sync.Mutex
	client   *plugin.Client
	rpc      *rpcClient
	exitedAt time.Time
	lastErr  error
	closed   bool
}

// NewPluginVerifier starts the auth plugin at path with args and returns it as a
// Verifier, plus the Closer that stops it (call it on shutdown). The plugin inherits
// the environment. ctx bounds the start only; every call has its own context. A
// missing binary, a binary that is not an airlock auth plugin, or one that does not
// answer the handshake in time is an error here, not at the first login.
func NewPluginVerifier(ctx context.Context, path string, args []string, opts ...PluginOption) (Verifier, io.Closer, error) {
	p := &pluginVerifier{
		path:         path,
		args:         args,
		logger:       slog.New(slog.DiscardHandler),
		startTimeout: DefaultPluginStartTimeout,
		callTimeout:  DefaultPluginCallTimeout,
		restartDelay: DefaultPluginRestartDelay,
	}
	for _, o := range opts {
		o(p)
	}
	if _, err := exec.LookPath(path); err != nil {
		return nil, nil, fmt.Errorf("auth plugin %s: %w", path, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.start(ctx); err != nil {
		return nil, nil, err
	}
	return p, p, nil
}

// start launches the plugin; callers hold p.mu.
func (p *pluginVerifier) start(ctx context.Context) error {
	// go-plugin gets a little longer than ctx, so that ctx ending reports as such and
	// a hung plugin is still killed soon after.
	timeout := p.startTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl)+time.Second < timeout {
		timeout = max(time.Until(dl), 0) + time.Second
	}
	stderr := &lineLogger{logger: p.logger, level: slog.LevelInfo, msg: "auth plugin output", attrs: []any{"plugin", p.path}}
	hostLog := &lineLogger{logger: p.logger, level: slog.LevelWarn, msg: "auth plugin host", attrs: []any{"plugin", p.path}}
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          plugin.PluginSet{pluginName: &verifierPlugin{}},
		Cmd:              exec.Command(p.path, p.args...),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolNetRPC},
		StartTimeout:     timeout,
		Stderr:           stderr,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "auth-plugin", Level: hclog.Warn, Output: hostLog, DisableTime: true,
		}),
	})

	// go-plugin's start takes no context and holds its lock until the handshake or
	// the start timeout, so when ctx ends first the cleanup is left to a goroutine
	// that lives at most until that timeout.
	type result struct {
		rpc *rpcClient
		err error
	}
	done := make(chan result, 1)
	go func() {
		proto, err := c.Client()
		if err != nil {
			done <- result{err: err}
			return
		}
		raw, err := proto.Dispense(pluginName)
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{rpc: raw.(*rpcClient)}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		go func() {
			<-done
			c.Kill()
		}()
		return fmt.Errorf("start auth plugin %s: %w: %w", p.path, ErrUnavailable, ctx.Err())
	}
	if r.err != nil {
		c.Kill() // also waits for the stderr copy, so the tail below is complete
		if tail := stderr.tail(); tail != "" {
			// go-plugin's own message is generic; what the plugin said is the news.
			return fmt.Errorf("start auth plugin %s: %w: plugin stderr: %s: %w", p.path, ErrUnavailable, tail, r.err)
		}
		return fmt.Errorf("start auth plugin %s: %w: %w", p.path, ErrUnavailable, r.err)
	}
	p.client, p.rpc = c, r.rpc
	p.logger.Info("auth plugin started", "plugin", p.path, "pid", c.ReattachConfig().Pid)
	return nil
}

// conn returns the running plugin, restarting it when it exited and the restart
// delay has passed.
func (p *pluginVerifier) conn(ctx context.Context) (*rpcClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("auth plugin %s: closed: %w", p.path, ErrUnavailable)
	}
	if p.client != nil && !p.client.Exited() {
		return p.rpc, nil
	}
	if p.client != nil {
		p.client.Kill() // reap and clean up the socket directory
		p.client, p.rpc = nil, nil
		p.exitedAt = time.Now()
		p.lastErr = fmt.Errorf("auth plugin %s exited: %w", p.path, ErrUnavailable)
		p.logger.Error("auth plugin exited", "plugin", p.path, "restart_delay", p.restartDelay)
	}
	if p.restartDelay < 0 || time.Since(p.exitedAt) < p.restartDelay {
		return nil, p.lastErr
	}
	if err := p.start(ctx); err != nil {
		p.exitedAt, p.lastErr = time.Now(), err
		return nil, err
	}
	return p.rpc, nil
}

func (p *pluginVerifier) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, p.callTimeout)
}

// transportError wraps a failed call: the plugin died or hung, nothing is known about
// the user.
func (p *pluginVerifier) transportError(method string, err error) error {
	return fmt.Errorf("auth plugin %s: %s: %w: %w", p.path, method, ErrUnavailable, err)
}

// VerifyPlain implements Verifier.
func (p *pluginVerifier) VerifyPlain(ctx context.Context, user, pass string) (string, error) {
	ctx, cancel := p.callCtx(ctx)
	defer cancel()
	c, err := p.conn(ctx)
	if err != nil {
		return "", err
	}
	return p.callPlain(ctx, c, user, pass)
}

func (p *pluginVerifier) callPlain(ctx context.Context, c *rpcClient, user, pass string) (string, error) {
	dl, _ := ctx.Deadline()
	var reply wire.PlainReply
	if err := c.call(ctx, "Plugin.VerifyPlain", wire.PlainArgs{User: user, Pass: pass, Deadline: dl}, &reply); err != nil {
		return "", p.transportError("VerifyPlain", err)
	}
	if err := kindToError(reply.Kind, reply.Message); err != nil {
		return "", err
	}
	return reply.Principal, nil
}

// SCRAMCredentials implements Verifier.
func (p *pluginVerifier) SCRAMCredentials(ctx context.Context, mechanism, user string) (SCRAMCredential, error) {
	ctx, cancel := p.callCtx(ctx)
	defer cancel()
	c, err := p.conn(ctx)
	if err != nil {
		return SCRAMCredential{}, err
	}
	return p.callSCRAM(ctx, c, mechanism, user)
}

func (p *pluginVerifier) callSCRAM(ctx context.Context, c *rpcClient, mechanism, user string) (SCRAMCredential, error) {
	dl, _ := ctx.Deadline()
	var reply wire.SCRAMReply
	if err := c.call(ctx, "Plugin.SCRAMCredentials", wire.SCRAMArgs{Mechanism: mechanism, User: user, Deadline: dl}, &reply); err != nil {
		return SCRAMCredential{}, p.transportError("SCRAMCredentials", err)
	}
	if err := kindToError(reply.Kind, reply.Message); err != nil {
		return SCRAMCredential{}, err
	}
	return SCRAMCredential{
		Salt: reply.Salt, Iterations: reply.Iterations,
		StoredKey: reply.StoredKey, ServerKey: reply.ServerKey, Principal: reply.Principal,
	}, nil
}

// Close stops the plugin process and waits for it to exit. Later calls fail with
// ErrUnavailable.
func (p *pluginVerifier) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.client != nil {
		p.client.Kill()
		p.client, p.rpc = nil, nil
	}
	return nil
}

// ServeOption configures ServePlugin.
type ServeOption func(*serveConfig)

type serveConfig struct {
	logger hclog.Logger
}

// WithServeLogLevel sets the level of go-plugin's own log lines, written to stderr
// where the host picks them up (default warn). Levels: trace, debug, info, warn, error.
func WithServeLogLevel(level string) ServeOption {
	return func(c *serveConfig) {
		c.logger = hclog.New(&hclog.LoggerOptions{Name: "airlock-auth", Level: hclog.LevelFromString(level), Output: os.Stderr})
	}
}

// ServePlugin serves v to the airlock-proxy that started this process and returns
// when the proxy stops it or ctx ends. It returns ErrNotPlugin at once when the
// process was not started by a proxy. Call it last in a plugin's main: go-plugin
// takes over stdout for the handshake, so nothing else may write to stdout; log to
// stderr, which the proxy forwards to its own log. ctx is also the parent of every
// call's context.
func ServePlugin(ctx context.Context, v Verifier, opts ...ServeOption) error {
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		return fmt.Errorf("%w: run it through airlock-proxy (env %s is not set)", ErrNotPlugin, Handshake.MagicCookieKey)
	}
	cfg := serveConfig{}
	WithServeLogLevel("warn")(&cfg)
	for _, o := range opts {
		o(&cfg)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: Handshake,
			Plugins:         plugin.PluginSet{pluginName: &verifierPlugin{impl: v, base: ctx}},
			Logger:          cfg.logger,
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// lineLogger turns a byte stream into one slog record per line.
type lineLogger struct {
	logger *slog.Logger
	level  slog.Level
	msg    string
	attrs  []any

	mu   sync.Mutex
	buf  bytes.Buffer
	last []string // the last few lines, for start errors
}

// tailLines is how many plugin stderr lines a start error quotes.
const tailLines = 3

// tail returns the last lines written, joined with " | ".
func (l *lineLogger) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, " | ")
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil { // no full line yet: keep the rest
			l.buf.Reset()
			l.buf.WriteString(line)
			if l.buf.Len() > 64<<10 { // a runaway line is cut, not buffered forever
				l.emit(l.buf.String())
				l.buf.Reset()
			}
			return len(b), nil
		}
		l.emit(line)
	}
}

func (l *lineLogger) emit(line string) {
	if line = strings.TrimRight(line, "\r\n"); line != "" {
		l.logger.Log(context.Background(), l.level, l.msg, append([]any{"line", line}, l.attrs...)...)
		if len(l.last) == tailLines {
			l.last = l.last[1:]
		}
		l.last = append(l.last, line)
	}
}
