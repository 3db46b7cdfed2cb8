package benchutil

import (
	"context"
	"fmt"
	"io"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric names the benchmark reads from a process under test. Both the proxy and
// the forwarder export the Go collector, so both are read the same way.
const (
	metricGoroutines = "go_goroutines"
	metricHeapInuse  = "go_memstats_heap_inuse_bytes"
	metricStackInuse = "go_memstats_stack_inuse_bytes"
)

// ParseMetrics returns the value of each named unlabelled gauge, counter or
// untyped metric in a Prometheus text exposition. A name not found is an error:
// a silently missing metric would read as zero.
func ParseMetrics(r io.Reader, names ...string) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	out := make(map[string]float64, len(names))
	for _, n := range names {
		f, ok := fams[n]
		if !ok || len(f.GetMetric()) == 0 {
			return nil, fmt.Errorf("%s: %w", n, ErrMetricMissing)
		}
		m := f.GetMetric()[0]
		switch f.GetType() {
		case dto.MetricType_GAUGE:
			out[n] = m.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			out[n] = m.GetCounter().GetValue()
		case dto.MetricType_UNTYPED:
			out[n] = m.GetUntyped().GetValue()
		default:
			return nil, fmt.Errorf("%s is a %s, want a gauge or counter: %w", n, f.GetType(), ErrMetricMissing)
		}
	}
	return out, nil
}

// ScrapeMetrics fetches url (a /metrics endpoint) and returns the named values.
func ScrapeMetrics(ctx context.Context, hc *http.Client, url string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	// Ask for text: the parser reads the text format only.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %s", url, resp.Status)
	}
	m, err := ParseMetrics(resp.Body, names...)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return m, nil
}
