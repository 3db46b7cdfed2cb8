package testbroker

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kfake cannot stop one node of its in-process cluster. A pause is emulated with a
// control function that puts every request the node receives to sleep
// (SleepControl) until the pause ends, then lets kfake answer it as usual. That is
// what a SIGSTOPped or `docker pause`d broker looks like from outside: connections
// are accepted (the kernel completes handshakes) and stay open, requests get no
// answer, and later ones on the same connection queue behind the first. Requests
// kfake already handles (a fetch parked waiting for data) are not held.

// PauseNode holds every request node receives for d (at most MaxPause); pausing a
// paused node sets a new end. It returns the time the pause ends.
func (b *Broker) PauseNode(node int32, d time.Duration) (time.Time, error) {
	if d <= 0 || d > MaxPause {
		return time.Time{}, fmt.Errorf("%w: pause duration %v, want more than 0 and at most %v", ErrBadArgument, d, MaxPause)
	}
	if err := b.enter(); err != nil {
		return time.Time{}, err
	}
	defer b.life.RUnlock()
	b.pauseOnce.Do(func() { b.cluster.Control(b.holdIfPaused) })

	until := time.Now().Add(d)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.nodes[node]; !ok {
		return time.Time{}, fmt.Errorf("%w %d", ErrUnknownNode, node)
	}
	if old := b.pauses[node]; old != nil {
		close(old.resume) // sleepers re-check and find the new pause
	}
	b.pauses[node] = &pause{until: until, resume: make(chan struct{})}
	b.log.Info("paused node", "node", node, "until", until.Format(time.RFC3339Nano))
	return until, nil
}

// ResumeNode ends a pause early; the held requests are answered. Resuming a node
// that is not paused is not an error.
func (b *Broker) ResumeNode(node int32) error {
	if err := b.enter(); err != nil {
		return err
	}
	defer b.life.RUnlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.nodes[node]; !ok {
		return fmt.Errorf("%w %d", ErrUnknownNode, node)
	}
	if p := b.pauses[node]; p != nil {
		close(p.resume)
		delete(b.pauses, node)
		b.log.Info("resumed node", "node", node)
	}
	return nil
}

// activePause returns node's pause if it has not ended yet.
func (b *Broker) activePause(node int32) *pause {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pauses[node]
	if p == nil {
		return nil
	}
	if !time.Now().Before(p.until) {
		delete(b.pauses, node)
		return nil
	}
	return p
}

// holdIfPaused is the kfake control function behind PauseNode. It never handles
// a request: after sleeping, kfake processes it normally.
func (b *Broker) holdIfPaused(kmsg.Request) (kmsg.Response, error, bool) {
	node := b.cluster.CurrentNode()
	if b.activePause(node) == nil {
		return nil, nil, false
	}
	b.cluster.SleepControl(func() { b.waitPause(node) })
	return nil, nil, false
}

// waitPause blocks until node has no active pause or the broker closes.
func (b *Broker) waitPause(node int32) {
	for {
		p := b.activePause(node)
		if p == nil {
			return
		}
		t := time.NewTimer(time.Until(p.until))
		select {
		case <-t.C:
		case <-p.resume:
		case <-b.done:
			t.Stop()
			return
		}
		t.Stop()
	}
}
