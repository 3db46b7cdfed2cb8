package producer

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// silentAbortMsg starts the message franz-go logs when EndTransaction(TryCommit)
// decides to abort instead, because it believes no produce of the transaction
// succeeded. It then returns nil, so the caller cannot tell the commit from the
// abort. franz-go v1.22.2 takes this path under load even when records were
// acknowledged (seen with kfake: records acked with offsets, EndTxn sent with
// commit=false), which would ledger aborted events as acked.
const silentAbortMsg = "no produce succeeded in this transaction"

// kgoLogger forwards franz-go's warnings and errors to slog and watches for the
// silent abort.
type kgoLogger struct {
	l            *slog.Logger
	silentAborts atomic.Int64
}

func (k *kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (k *kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if strings.HasPrefix(msg, silentAbortMsg) {
		k.silentAborts.Add(1)
	}
	var lv slog.Level
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	default:
		lv = slog.LevelDebug
	}
	k.l.Log(context.Background(), lv, "kgo: "+msg, keyvals...)
}
