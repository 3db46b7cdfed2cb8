package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/airlock-kafka/airlock/internal/event"
)

// Verification is the outcome of VerifyProducer.
type Verification struct {
	ConsumerRun
	// Acked is the number of events the producer's ledger says the source
	// acknowledged: what the consumer was told to expect.
	Acked int64
}

// VerifyProducer copies the ledger out of a producer container that has
// exited and runs airlock-consumer on the target topic against it, expecting
// every acknowledged event; idle bounds a read that falls short.
func (tb *Testbed) VerifyProducer(ctx context.Context, prod *Container, topic string, idle time.Duration) (Verification, error) {
	raw, err := prod.CopyOut(ctx, LedgerPath)
	if err != nil {
		return Verification{}, fmt.Errorf("producer ledger: %w", err)
	}
	dir, err := os.MkdirTemp("", "airlock-ledger-")
	if err != nil {
		return Verification{}, fmt.Errorf("ledger dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "ledger.jsonl")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return Verification{}, fmt.Errorf("write ledger: %w", err)
	}
	l, err := event.ReadLedgerFile(path)
	if err != nil {
		return Verification{}, err
	}
	var v Verification
	for _, e := range l.Entries {
		if e.Status == event.StatusAcked {
			v.Acked++
		}
	}
	v.ConsumerRun, err = tb.RunConsumer(ctx, ConsumerSpec{
		Topics: []string{topic}, Ledgers: []string{path},
		Expect: v.Acked, IdleTimeout: idle,
	})
	return v, err
}
