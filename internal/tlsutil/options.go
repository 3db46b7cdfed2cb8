package tlsutil

import (
	"log/slog"
	"time"
)

// DefaultCheckInterval is how often, at most, a handshake re-reads the certificate
// files to look for a rotation. Reading a few small files once a second costs
// nothing next to the handshakes and keeps rotation delays short.
const DefaultCheckInterval = time.Second

// Opt configures NewServer and ClientConfig.
type Opt func(*options)

type options struct {
	logger        *slog.Logger
	onReloadError func(error)
	onReload      func(what string)
	interval      time.Duration
}

func newOptions(opts []Opt) *options {
	o := &options{logger: slog.Default(), interval: DefaultCheckInterval}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithLogger sets the logger for reloads and reload failures (default slog.Default()).
func WithLogger(l *slog.Logger) Opt { return func(o *options) { o.logger = l } }

// OnReloadError is called when changed files cannot be loaded (the previous
// certificate or CA stays in use), e.g. to count failures in a metric. It runs on a
// handshake's goroutine, so it must be quick.
func OnReloadError(f func(error)) Opt { return func(o *options) { o.onReloadError = f } }

// OnReload is called after changed files were loaded; what names them ("server
// certificate", "client CA", "client certificate").
func OnReload(f func(what string)) Opt { return func(o *options) { o.onReload = f } }

// CheckInterval sets how often, at most, handshakes check the files for changes
// (default DefaultCheckInterval); 0 checks on every handshake.
func CheckInterval(d time.Duration) Opt { return func(o *options) { o.interval = max(d, 0) } }
