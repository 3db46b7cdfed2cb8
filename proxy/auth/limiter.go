package auth

import (
	"container/list"
	"errors"
	"net"
	"sync"
	"time"
)

// DefaultMaxAddresses bounds how many client addresses a Limiter remembers.
const DefaultMaxAddresses = 10000

// Limiter limits failed authentication attempts per client address with a token
// bucket: an address may fail burst times in a row, then one more attempt is allowed
// every per. Only failures spend tokens, so a client that logs in correctly is never
// slowed down. It is safe for concurrent use.
//
// Memory is bounded: an address whose bucket is full again is forgotten, and when
// more than the maximum number of addresses are failing at once the one that failed
// least recently is forgotten (so a flood of addresses can make the limiter forget a
// host, never grow without bound).
type Limiter struct {
	burst float64
	per   time.Duration
	max   int
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     *list.List // of *limitEntry, front = failed most recently
}

type limitEntry struct {
	key    string
	tokens float64
	at     time.Time
}

// LimiterOption configures a Limiter.
type LimiterOption func(*Limiter)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) LimiterOption {
	return func(l *Limiter) { l.now = now }
}

// WithMaxAddresses bounds the remembered addresses (default DefaultMaxAddresses).
func WithMaxAddresses(n int) LimiterOption {
	return func(l *Limiter) {
		if n > 0 {
			l.max = n
		}
	}
}

// NewLimiter returns a Limiter that allows burst failures per address and refills one
// attempt every per.
func NewLimiter(burst int, per time.Duration, opts ...LimiterOption) (*Limiter, error) {
	if burst < 1 || per <= 0 {
		return nil, errors.New("limiter: burst must be at least 1 and per positive")
	}
	l := &Limiter{
		burst:   float64(burst),
		per:     per,
		max:     DefaultMaxAddresses,
		now:     time.Now,
		entries: map[string]*list.Element{},
		lru:     list.New(),
	}
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// limiterKey drops the port: a client reconnecting from a new port is the same client.
func limiterKey(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// refill brings e up to now and reports whether its bucket is full (e is forgettable).
func (l *Limiter) refill(e *limitEntry, now time.Time) bool {
	if d := now.Sub(e.at); d > 0 {
		e.tokens += float64(d) / float64(l.per)
		e.at = now
	}
	if e.tokens >= l.burst {
		e.tokens = l.burst
		return true
	}
	return false
}

// Allow reports whether addr may attempt to authenticate now. It spends nothing.
func (l *Limiter) Allow(addr string) bool {
	key := limiterKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.entries[key]
	if !ok {
		return true
	}
	e := el.Value.(*limitEntry)
	if l.refill(e, l.now()) {
		l.remove(el)
		return true
	}
	return e.tokens >= 1
}

// Fail records a failed attempt from addr.
func (l *Limiter) Fail(addr string) {
	key := limiterKey(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.entries[key]
	if !ok {
		l.evict(now)
		el = l.lru.PushFront(&limitEntry{key: key, tokens: l.burst, at: now})
		l.entries[key] = el
	}
	e := el.Value.(*limitEntry)
	l.refill(e, now)
	e.tokens = max(e.tokens-1, 0)
	l.lru.MoveToFront(el)
}

// evict makes room for one entry: full buckets go first (they sit at the back, having
// failed longest ago), then the least recently failed address.
func (l *Limiter) evict(now time.Time) {
	for l.lru.Len() > 0 {
		back := l.lru.Back()
		if l.refill(back.Value.(*limitEntry), now) {
			l.remove(back)
			continue
		}
		if l.lru.Len() >= l.max {
			l.remove(back)
			continue
		}
		return
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.entries, el.Value.(*limitEntry).key)
	l.lru.Remove(el)
}

// Len returns how many addresses the limiter currently remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
