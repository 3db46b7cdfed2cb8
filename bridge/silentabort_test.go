package bridge

import (
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSilentAbortIsNoticed: the target client's logger must see franz-go's Info
// message about turning a commit into an abort, whatever the log level, and count
// it, so the session re-reads offsets instead of taking the nil error for a commit.
func TestSilentAbortIsNoticed(t *testing.T) {
	var n atomic.Int64
	a := &slogAdapter{l: slog.New(slog.DiscardHandler), silentAborts: &n}
	if a.Level() < kgo.LogLevelInfo {
		t.Fatalf("level %v hides the Info message that reports a silent abort", a.Level())
	}
	a.Log(kgo.LogLevelInfo, "transaction ending")
	if n.Load() != 0 {
		t.Fatal("counted an unrelated message")
	}
	a.Log(kgo.LogLevelInfo, "no produce succeeded in this transaction but produces were attempted; issuing an abort to clear any server-side partition registrations")
	if n.Load() != 1 {
		t.Fatalf("silent abort counted %d times, want 1", n.Load())
	}
	plain := &slogAdapter{l: slog.New(slog.DiscardHandler)}
	if plain.Level() != kgo.LogLevelWarn {
		t.Fatalf("a non-task client logs at %v, want Warn", plain.Level())
	}
}
