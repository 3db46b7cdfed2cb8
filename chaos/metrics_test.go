package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseExposition(t *testing.T) {
	f, err := os.Open("testdata/bridge-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	ex, err := ParseExposition(f)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want []Sample
	}{
		{MetricCopied, []Sample{{map[string]string{"topic": "orders"}, 1200}, {map[string]string{"topic": "payments"}, 34}}},
		{MetricLag, []Sample{{map[string]string{"partition": "0", "topic": "orders"}, 12}, {map[string]string{"partition": "1", "topic": "orders"}, 0}}},
		{MetricFenced, []Sample{{map[string]string{}, 1}}},
		{"legacy_value", []Sample{{map[string]string{}, 7.5}}},
		{"airlock_bridge_transaction_duration_seconds", nil}, // histograms are left out
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ex[tc.name]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s = %+v, want %+v", tc.name, got, tc.want)
			}
		})
	}
}

func TestParseExpositionBad(t *testing.T) {
	for _, in := range []string{
		"metric{unclosed=\"x\" 1\n",
		"# TYPE x counter\nx not-a-number\n",
	} {
		if _, err := ParseExposition(strings.NewReader(in)); !errors.Is(err, ErrMetrics) {
			t.Errorf("ParseExposition(%q) = %v, want ErrMetrics", in, err)
		}
	}
}

// fakeMetrics serves a settable exposition; an empty body answers 503.
type fakeMetrics struct {
	mu   sync.Mutex
	body string
}

func (f *fakeMetrics) set(lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.body = strings.Join(lines, "\n") + "\n"
	if len(lines) == 0 {
		f.body = ""
	}
}

func (f *fakeMetrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.body == "" {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = fmt.Fprint(w, f.body)
}

func serveMetrics(t *testing.T) (*fakeMetrics, string) {
	t.Helper()
	fm := &fakeMetrics{}
	srv := httptest.NewServer(fm)
	t.Cleanup(srv.Close)
	return fm, srv.URL + "/metrics"
}

func copiedLine(topic string, v float64) string {
	return fmt.Sprintf("airlock_bridge_records_copied_total{topic=%q} %v", topic, v)
}

func lagLine(topic string, part int, v float64) string {
	return fmt.Sprintf("airlock_bridge_replication_lag_records{topic=%q,partition=\"%d\"} %v", topic, part, v)
}

func values(s Series) []float64 {
	out := make([]float64, len(s))
	for i, p := range s {
		out[i] = p.V
	}
	return out
}

func TestSampler(t *testing.T) {
	b0, u0 := serveMetrics(t)
	b1, u1 := serveMetrics(t)
	px, up := serveMetrics(t)
	var acked float64
	s := NewSampler([]Endpoint{
		StaticEndpoint("bridge-0", RoleBridge, u0),
		StaticEndpoint("bridge-1", RoleBridge, u1),
		StaticEndpoint("source-proxy", RoleProxy, up),
		{Name: "lost", Role: RoleProxy, URL: func(context.Context) (string, error) { return "", errors.New("no port yet") }},
	}, SampleFunc(SeriesAcked, func() float64 { return acked }), SampleInterval(5*time.Second))
	ctx := context.Background()
	px.set(`proxy_requests_total{broker="0",api_key="0",version="9"} 100`)

	// Tick 1: bridge-1 is taking over partition 0 and already ahead.
	b0.set(copiedLine("a", 10), copiedLine("b", 5), lagLine("a", 0, 4), lagLine("a", 1, 2))
	b1.set(copiedLine("a", 3), lagLine("a", 0, 1))
	acked = 50
	s.Sample(ctx)

	// Tick 2: bridge-0 restarted (counts from 0, has not seen topic b yet).
	b0.set(copiedLine("a", 2), lagLine("a", 0, 9), lagLine("a", 1, 0))
	b1.set(copiedLine("a", 7), lagLine("a", 0, 0))
	px.set(`proxy_requests_total{broker="0",api_key="0",version="9"} 130`)
	acked = 60
	s.Sample(ctx)

	// Tick 3: bridge-0 is down.
	b0.set()
	b1.set(copiedLine("a", 9), lagLine("a", 0, 5))
	s.Sample(ctx)

	// Tick 4: every bridge is down: no lag point, counters hold.
	b1.set()
	s.Sample(ctx)

	if got, want := values(s.Series(SeriesCopied)), []float64{18, 24, 26, 26}; !reflect.DeepEqual(got, want) {
		t.Errorf("copied %v, want %v", got, want)
	}
	if got, want := values(s.Series(SeriesLag)), []float64{3, 0, 5}; !reflect.DeepEqual(got, want) {
		t.Errorf("lag %v, want %v", got, want)
	}
	if got, want := values(s.Series(SeriesProxyRequests)), []float64{100, 130, 130, 130}; !reflect.DeepEqual(got, want) {
		t.Errorf("proxy requests %v, want %v", got, want)
	}
	if got, want := values(s.Series(SeriesAcked)), []float64{50, 60, 60, 60}; !reflect.DeepEqual(got, want) {
		t.Errorf("acked %v, want %v", got, want)
	}
	if got := values(s.Series(SeriesFenced)); !reflect.DeepEqual(got, []float64{0, 0, 0, 0}) {
		t.Errorf("fenced %v", got)
	}
	fails := s.ScrapeFailures()
	if len(fails) != 3 || !strings.HasPrefix(fails[0], "bridge-0: 2 failed") || !strings.HasPrefix(fails[1], "bridge-1: 1 failed") ||
		!strings.Contains(fails[2], "lost: 4 failed scrapes (last: metrics: lost: url: no port yet)") {
		t.Errorf("scrape failures %q", fails)
	}
	pts := s.Series(SeriesCopied)
	for i := 1; i < len(pts); i++ {
		if pts[i].T < pts[i-1].T {
			t.Errorf("time went back: %v", pts)
		}
	}
}

func TestSamplerRunStopsWithContext(t *testing.T) {
	b0, u0 := serveMetrics(t)
	b0.set(copiedLine("a", 1), lagLine("a", 0, 0))
	s := NewSampler([]Endpoint{StaticEndpoint("bridge-0", RoleBridge, u0)}, SampleInterval(5*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Series(SeriesLag)) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	if n := len(s.Series(SeriesLag)); n < 3 {
		t.Errorf("%d lag samples in 10s at 5ms", n)
	}
}

func TestSampleProbe(t *testing.T) {
	calls := 0
	probe := func(ctx context.Context) (float64, error) {
		calls++
		if calls == 2 {
			return 0, errors.New("source unreachable")
		}
		return float64(10 * calls), nil
	}
	s := NewSampler(nil, SampleSeries(), SampleProbe("lag", probe))
	for range 3 {
		s.Sample(context.Background())
	}
	got := s.Series("lag")
	if len(got) != 2 || got[0].V != 10 || got[1].V != 30 {
		t.Errorf("lag series %+v, want points 10 and 30 (the failed probe adds none)", got)
	}
	if fails := s.ScrapeFailures(); len(fails) != 1 || !strings.Contains(fails[0], "source unreachable") {
		t.Errorf("failures %q, want the probe's error once", fails)
	}
}
