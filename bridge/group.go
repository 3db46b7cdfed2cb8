package bridge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// runGroup shares the tasks among instances: it joins the task group on the
// control topic and runs task k while it is assigned partition k. A revoked
// task is stopped (its transaction committed or aborted) before the
// partition is released; if a new owner is faster, its InitProducerID
// fences us anyway.
func (b *Bridge) runGroup(ctx context.Context) error {
	cfg := &b.cfg
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	var (
		mu    sync.Mutex
		tasks = map[int]*running{}
	)
	start := func(parts []int32) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range parts {
			k := int(p)
			if k >= cfg.tasks {
				// The control topic has more partitions than tasks
				// (the task count was lowered): nothing to run.
				continue
			}
			if _, ok := tasks[k]; ok || ctx.Err() != nil {
				continue
			}
			tctx, cancel := context.WithCancel(ctx)
			r := &running{cancel: cancel, done: make(chan struct{})}
			tasks[k] = r
			t := newTask(b, k)
			b.log.Info("task assigned", "task", k)
			go func() {
				defer close(r.done)
				_ = t.run(tctx) // fenced tasks retry under group coordination; run ends only with tctx
			}()
		}
	}
	stop := func(parts []int32) {
		mu.Lock()
		var wait []*running
		for _, p := range parts {
			if r, ok := tasks[int(p)]; ok {
				r.cancel()
				wait = append(wait, r)
				delete(tasks, int(p))
				b.log.Info("task released", "task", p)
			}
		}
		mu.Unlock()
		for _, r := range wait {
			<-r.done
		}
	}
	stopAll := func() {
		mu.Lock()
		var all []int32
		for k := range tasks {
			all = append(all, int32(k))
		}
		mu.Unlock()
		stop(all)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.dstSeeds...),
		kgo.ClientID("airlock-bridge-" + cfg.name + "-tasks"),
		kgo.ConsumerGroup(cfg.taskGroup),
		kgo.ConsumeTopics(cfg.controlTopic),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(cfg.groupSession),
		kgo.HeartbeatInterval(min(3*time.Second, cfg.groupSession/3)),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			start(a[cfg.controlTopic])
			b.ready.Store(true)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			stop(r[cfg.controlTopic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			stop(l[cfg.controlTopic])
		}),
		kgo.WithLogger(kgoLogger(b.log)),
	}, cfg.dstOpts...)...)
	if err != nil {
		return fmt.Errorf("task group client: %w", err)
	}
	// Stop the tasks (committing their transactions) before leaving the
	// group, so a successor does not have to fence a live owner.
	defer cl.Close()
	defer stopAll()

	for ctx.Err() == nil {
		// The control topic carries no records; polling keeps the
		// member's rebalances flowing and surfaces errors.
		fs := cl.PollFetches(ctx)
		failed := false
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				failed = true
				b.log.Warn("task group error", "topic", topic, "partition", p, "err", err)
			}
		})
		if failed {
			_ = sleepCtx(ctx, cfg.backoff) // a persistent error must not spin
		}
	}
	return nil
}
