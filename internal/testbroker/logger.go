package testbroker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kfakeLogger forwards kfake's printf-style logging to slog at or below level.
type kfakeLogger struct {
	l     *slog.Logger
	level kfake.LogLevel
}

func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	if level == kfake.LogLevelNone || level > k.level {
		return
	}
	sl := slog.LevelDebug
	switch level {
	case kfake.LogLevelError:
		sl = slog.LevelError
	case kfake.LogLevelWarn:
		sl = slog.LevelWarn
	case kfake.LogLevelInfo:
		sl = slog.LevelInfo
	}
	k.l.Log(context.Background(), sl, fmt.Sprintf(msg, args...), "component", "kfake")
}

// ParseKfakeLogLevel parses none, error, warn, info or debug.
func ParseKfakeLogLevel(s string) (kfake.LogLevel, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "":
		return kfake.LogLevelNone, nil
	case "error":
		return kfake.LogLevelError, nil
	case "warn", "warning":
		return kfake.LogLevelWarn, nil
	case "info":
		return kfake.LogLevelInfo, nil
	case "debug":
		return kfake.LogLevelDebug, nil
	}
	return kfake.LogLevelNone, fmt.Errorf("%w: kfake log level %q, want none, error, warn, info or debug", ErrBadConfig, s)
}
