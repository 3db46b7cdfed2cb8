package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLimiter(t *testing.T) {
	type step struct {
		advance   time.Duration
		fail      string // address that fails, if any
		allow     string // address checked
		wantAllow bool
	}
	cases := []struct {
		name  string
		burst int
		per   time.Duration
		steps []step
	}{
		{"unknown address is allowed", 3, time.Second, []step{
			{allow: "1.1.1.1:1", wantAllow: true},
		}},
		{"burst failures then locked", 2, time.Second, []step{
			{fail: "1.1.1.1:1", allow: "1.1.1.1:1", wantAllow: true},
			{fail: "1.1.1.1:2", allow: "1.1.1.1:3", wantAllow: false},
			{fail: "1.1.1.1:2", allow: "1.1.1.1", wantAllow: false},
		}},
		{"ports are one client, hosts are not", 1, time.Second, []step{
			{fail: "1.1.1.1:1", allow: "1.1.1.1:9", wantAllow: false},
			{allow: "1.1.1.2:1", wantAllow: true},
			{allow: "[::1]:1", wantAllow: true},
			{fail: "[::1]:1", allow: "::1", wantAllow: false},
		}},
		{"one attempt back per interval", 2, 10 * time.Second, []step{
			{fail: "a", allow: "a", wantAllow: true},
			{fail: "a", allow: "a", wantAllow: false},
			{advance: 9 * time.Second, allow: "a", wantAllow: false},
			{advance: time.Second, allow: "a", wantAllow: true},
			{fail: "a", allow: "a", wantAllow: false},
			{advance: 30 * time.Second, allow: "a", wantAllow: true},
			{fail: "a", allow: "a", wantAllow: true}, // refilled to burst, not beyond
			{fail: "a", allow: "a", wantAllow: false},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(0, 0)}
			l, err := NewLimiter(tc.burst, tc.per, WithClock(clock.now))
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				clock.advance(st.advance)
				if st.fail != "" {
					l.Fail(st.fail)
				}
				if got := l.Allow(st.allow); got != st.wantAllow {
					t.Fatalf("step %d: Allow(%q) = %v, want %v", i, st.allow, got, st.wantAllow)
				}
			}
		})
	}
}

func TestLimiterMemoryBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	l, err := NewLimiter(1, time.Minute, WithClock(clock.now), WithMaxAddresses(100))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		l.Fail(fmt.Sprintf("10.0.%d.%d:1", i/256, i%256))
		if l.Len() > 100 {
			t.Fatalf("after %d addresses the limiter holds %d", i+1, l.Len())
		}
	}
	// The most recent failures are remembered, the oldest forgotten.
	if l.Allow("10.0.3.231") || !l.Allow("10.0.0.0") {
		t.Fatal("eviction did not keep the most recent addresses")
	}
	// Refilled buckets are forgotten.
	clock.advance(time.Minute)
	l.Fail("192.168.0.1")
	if l.Len() != 1 {
		t.Fatalf("refilled entries kept: %d", l.Len())
	}
	if l.Allow("192.168.0.1") {
		t.Fatal("fresh failure forgotten")
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l, err := NewLimiter(5, time.Hour, WithMaxAddresses(50))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				addr := fmt.Sprintf("10.%d.0.%d", g, i%60)
				l.Allow(addr)
				l.Fail(addr)
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n == 0 || n > 50 {
		t.Fatalf("Len() = %d", n)
	}
}

func TestNewLimiterRejectsBadSettings(t *testing.T) {
	for _, tc := range []struct {
		burst int
		per   time.Duration
	}{{0, time.Second}, {1, 0}, {-1, -time.Second}} {
		if _, err := NewLimiter(tc.burst, tc.per); err == nil {
			t.Fatalf("NewLimiter(%d, %v) accepted", tc.burst, tc.per)
		}
	}
}
