package benchutil

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	fixture := readFixture(t, "metrics.txt")
	tests := []struct {
		name    string
		names   []string
		want    map[string]float64
		wantErr error
	}{
		{
			name:  "gauges and counter",
			names: []string{metricGoroutines, metricHeapInuse, "process_cpu_seconds_total"},
			want:  map[string]float64{metricGoroutines: 2017, metricHeapInuse: 4718592, "process_cpu_seconds_total": 1.25},
		},
		{name: "missing", names: []string{metricStackInuse}, wantErr: ErrMetricMissing},
		{name: "histogram refused", names: []string{"proxy_request_latency_seconds"}, wantErr: ErrMetricMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMetrics(bytes.NewReader(fixture), tt.names...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestScrapeMetrics(t *testing.T) {
	fixture := readFixture(t, "metrics.txt")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(fixture)
	}))
	defer srv.Close()
	m, err := ScrapeMetrics(context.Background(), srv.Client(), srv.URL+"/metrics", metricGoroutines)
	if err != nil {
		t.Fatal(err)
	}
	if m[metricGoroutines] != 2017 {
		t.Fatalf("goroutines = %v, want 2017", m[metricGoroutines])
	}
	if _, err := ScrapeMetrics(context.Background(), srv.Client(), srv.URL+"/nope", metricGoroutines); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("scrape of a 404 = %v, want an HTTP error", err)
	}
}
