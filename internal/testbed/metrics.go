package testbed

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one scrape of a Prometheus /metrics endpoint, by family name.
type Metrics map[string]*dto.MetricFamily

// Sample is one labelled value of a family.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// ParseMetrics reads the Prometheus text format.
func ParseMetrics(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return Metrics(fams), nil
}

// Samples returns every sample of a counter, gauge or untyped family whose
// labels include match (nil matches all), in a stable order.
func (m Metrics) Samples(name string, match map[string]string) []Sample {
	f, ok := m[name]
	if !ok {
		return nil
	}
	var out []Sample
	for _, mt := range f.GetMetric() {
		labels := make(map[string]string, len(mt.GetLabel()))
		for _, lp := range mt.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		if !includes(labels, match) {
			continue
		}
		var v float64
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			v = mt.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v = mt.GetGauge().GetValue()
		case dto.MetricType_UNTYPED:
			v = mt.GetUntyped().GetValue()
		default:
			continue // histograms and summaries have no single value
		}
		out = append(out, Sample{Labels: labels, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return labelString(out[i].Labels) < labelString(out[j].Labels) })
	return out
}

// Sum adds up the samples Samples returns: a family that is missing (a counter
// vector nothing incremented yet) sums to 0.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	var sum float64
	for _, s := range m.Samples(name, match) {
		sum += s.Value
	}
	return sum
}

func includes(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func labelString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + l[k] + ",")
	}
	return b.String()
}

// ScrapeMetrics fetches and parses a /metrics URL.
func ScrapeMetrics(ctx context.Context, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	// The parser reads the text format only.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	m, err := ParseMetrics(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return m, nil
}
