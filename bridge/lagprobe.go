package bridge

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// startProbe asks the source every lagProbe for the stable end offsets of
// parts, for the lag metrics: fetches report the end of a partition only
// when they return its records, so a partition that goes quiet, or a source
// that stops answering, would otherwise leave the lag frozen at its last
// value. It returns the function that stops the probe and waits for it.
func (t *task) startProbe(ctx context.Context, adm *kadm.Client, parts []tp) (stop func()) {
	every := t.b.cfg.lagProbe
	if every <= 0 || len(parts) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	topics := map[string]bool{}
	for _, p := range parts {
		topics[p.topic] = true
	}
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// A short interval must not become a short timeout: a slow
			// answer still tells how far the source is.
			t.probeOnce(ctx, adm, names, parts, max(every, 5*time.Second))
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// probeOnce lists the read_committed end offsets once. A failure only logs:
// the staleness gauge is what tells an operator the source is not answering.
func (t *task) probeOnce(ctx context.Context, adm *kadm.Client, topics []string, parts []tp, limit time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	listed, err := adm.ListCommittedOffsets(pctx, topics...)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Debug("source end-offset probe failed", "err", err)
		}
		return
	}
	for _, p := range parts {
		o, ok := listed.Lookup(p.topic, p.partition)
		if !ok || o.Err != nil {
			continue
		}
		t.b.m.lag.probed(p, o.Offset)
	}
}
