package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"
)

// Metric names the standard series read. They are the bridge's and the
// proxy's (bridge/metrics.go, proxy/metrics.go).
const (
	MetricCopied        = "airlock_bridge_records_copied_total"
	MetricLag           = "airlock_bridge_replication_lag_records"
	MetricFenced        = "airlock_bridge_tasks_fenced_total"
	MetricProxyRequests = "proxy_requests_total"
)

// Names of the standard series.
const (
	SeriesCopied        = "copied"
	SeriesLag           = "lag"
	SeriesFenced        = "fenced"
	SeriesProxyRequests = "proxy_requests"
	// SeriesAcked is the workload's acknowledged events (from
	// Workload.Progress, not from a metrics endpoint).
	SeriesAcked = "acked"
)

// Sample is one labelled value of a metric family.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Exposition is one parsed scrape: the samples of every counter, gauge and
// untyped family, by family name. Histograms and summaries are left out: no
// series here needs them.
type Exposition map[string][]Sample

// ParseExposition reads the Prometheus text format (what promhttp serves to a
// client asking for text/plain).
func ParseExposition(r io.Reader) (Exposition, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("%w: parse exposition: %w", ErrMetrics, err)
	}
	out := make(Exposition, len(fams))
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				v = m.GetUntyped().GetValue()
			default:
				continue
			}
			labels := make(map[string]string, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out[name] = append(out[name], Sample{Labels: labels, Value: v})
		}
	}
	return out, nil
}

// Endpoint is a /metrics endpoint to sample.
type Endpoint struct {
	// Name identifies the process ("bridge-0", "source-proxy").
	Name string
	// Role says which series definitions read it.
	Role Role
	// URL returns the endpoint's current URL: a restarted container may be
	// published on a new host port, so it is asked again at every scrape.
	URL func(ctx context.Context) (string, error)
}

// StaticEndpoint is an Endpoint whose URL never changes.
func StaticEndpoint(name string, role Role, url string) Endpoint {
	return Endpoint{Name: name, Role: role, URL: func(context.Context) (string, error) { return url, nil }}
}

// Aggregation says how a series combines samples across endpoints and label
// sets.
type Aggregation int

const (
	// AggCounter sums a counter over every endpoint and label set, corrected
	// for resets (a restarted process counts from 0 again), so the series
	// only grows and an endpoint that went away keeps its last count.
	AggCounter Aggregation = iota
	// AggGaugeMin takes, per value of the By labels, the smallest value any
	// endpoint reports, then sums over them. Two bridge instances may both
	// report a partition during a takeover; the one behind is the stale one.
	// A tick where no endpoint of the role answered adds no point.
	AggGaugeMin
)

// SeriesDef defines a series read from endpoints of Role.
type SeriesDef struct {
	Name   string
	Role   Role
	Metric string
	Agg    Aggregation
	By     []string
}

// StandardSeries are the series a chaos run samples: records copied, lag and
// fenced tasks from the bridges, requests from the proxies.
func StandardSeries() []SeriesDef {
	return []SeriesDef{
		{Name: SeriesCopied, Role: RoleBridge, Metric: MetricCopied, Agg: AggCounter},
		{Name: SeriesLag, Role: RoleBridge, Metric: MetricLag, Agg: AggGaugeMin, By: []string{"topic", "partition"}},
		{Name: SeriesFenced, Role: RoleBridge, Metric: MetricFenced, Agg: AggCounter},
		{Name: SeriesProxyRequests, Role: RoleProxy, Metric: MetricProxyRequests, Agg: AggCounter},
	}
}

// SamplerOpt configures NewSampler.
type SamplerOpt interface{ applySampler(*Sampler) }

type samplerOpt func(*Sampler)

func (o samplerOpt) applySampler(s *Sampler) { o(s) }

// SampleInterval sets the polling interval, overriding 1s. Each scrape is
// bounded by it too, so a frozen process does not stall the ticks.
func SampleInterval(d time.Duration) SamplerOpt {
	return samplerOpt(func(s *Sampler) { s.interval = d })
}

// SampleSeries replaces StandardSeries.
func SampleSeries(defs ...SeriesDef) SamplerOpt {
	return samplerOpt(func(s *Sampler) { s.defs = defs })
}

// SampleFunc adds a series read from fn at every tick (the workload's
// counts, which have no metrics endpoint).
func SampleFunc(name string, fn func() float64) SamplerOpt {
	return samplerOpt(func(s *Sampler) { s.funcs = append(s.funcs, funcSeries{name, fn}) })
}

// SampleProbe adds a series measured by fn at every tick, within the tick's
// interval (an outside measurement, such as lag computed from the clusters'
// offsets). An error adds no point and counts as a failed scrape of name.
func SampleProbe(name string, fn func(context.Context) (float64, error)) SamplerOpt {
	return samplerOpt(func(s *Sampler) { s.probes = append(s.probes, probeSeries{name, fn}) })
}

type probeSeries struct {
	name string
	fn   func(context.Context) (float64, error)
}

// SamplerStart sets the instant point times count from, overriding the
// sampler's creation.
func SamplerStart(t time.Time) SamplerOpt { return samplerOpt(func(s *Sampler) { s.start = t }) }

// SamplerHTTPClient sets the HTTP client, overriding a plain one.
func SamplerHTTPClient(hc *http.Client) SamplerOpt {
	return samplerOpt(func(s *Sampler) { s.hc = hc })
}

type funcSeries struct {
	name string
	fn   func() float64
}

// counterState corrects one counter for resets.
type counterState struct{ last, offset float64 }

// Sampler polls metrics endpoints and keeps time series. Its methods are safe
// for concurrent use.
type Sampler struct {
	endpoints []Endpoint
	defs      []SeriesDef
	funcs     []funcSeries
	probes    []probeSeries
	interval  time.Duration
	hc        *http.Client
	start     time.Time

	mu       sync.Mutex
	series   map[string]Series
	counters map[string]map[string]*counterState // series -> endpoint+labels -> state
	failures map[string]int                      // endpoint -> failed scrapes
	lastErr  map[string]string
}

// NewSampler returns a sampler over endpoints.
func NewSampler(endpoints []Endpoint, opts ...SamplerOpt) *Sampler {
	s := &Sampler{
		endpoints: endpoints,
		defs:      StandardSeries(),
		interval:  time.Second,
		hc:        &http.Client{},
		start:     time.Now(),
		series:    map[string]Series{},
		counters:  map[string]map[string]*counterState{},
		failures:  map[string]int{},
		lastErr:   map[string]string{},
	}
	for _, o := range opts {
		o.applySampler(s)
	}
	return s
}

// Run samples every interval until ctx ends, then returns nil.
func (s *Sampler) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.Sample(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sample scrapes every endpoint once, concurrently, and appends a point to
// every series. A failed scrape is counted (ScrapeFailures), not fatal: a
// killed bridge has no endpoint, and that is the point of the run.
func (s *Sampler) Sample(ctx context.Context) {
	scrapes := make([]Exposition, len(s.endpoints))
	errs := make([]error, len(s.endpoints))
	var g errgroup.Group
	for i, ep := range s.endpoints {
		g.Go(func() error {
			sctx, cancel := context.WithTimeout(ctx, s.interval)
			defer cancel()
			scrapes[i], errs[i] = s.scrape(sctx, ep)
			return nil
		})
	}
	probed := make([]float64, len(s.probes))
	probeErrs := make([]error, len(s.probes))
	for i, p := range s.probes {
		g.Go(func() error {
			pctx, cancel := context.WithTimeout(ctx, s.interval)
			defer cancel()
			probed[i], probeErrs[i] = p.fn(pctx)
			return nil
		})
	}
	_ = g.Wait() // errors are per endpoint, in errs
	now := time.Since(s.start)

	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ep := range s.endpoints {
		if errs[i] != nil {
			s.failures[ep.Name]++
			s.lastErr[ep.Name] = errs[i].Error()
		}
	}
	for _, d := range s.defs {
		switch d.Agg {
		case AggCounter:
			s.series[d.Name] = append(s.series[d.Name], Point{T: now, V: s.counter(d, scrapes)})
		case AggGaugeMin:
			if v, ok := gaugeMin(d, s.endpoints, scrapes); ok {
				s.series[d.Name] = append(s.series[d.Name], Point{T: now, V: v})
			}
		}
	}
	for _, f := range s.funcs {
		s.series[f.name] = append(s.series[f.name], Point{T: now, V: f.fn()})
	}
	for i, p := range s.probes {
		if probeErrs[i] != nil {
			s.failures[p.name]++
			s.lastErr[p.name] = probeErrs[i].Error()
			continue
		}
		s.series[p.name] = append(s.series[p.name], Point{T: now, V: probed[i]})
	}
}

func (s *Sampler) scrape(ctx context.Context, ep Endpoint) (Exposition, error) {
	url, err := ep.URL(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: url: %w", ErrMetrics, ep.Name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMetrics, ep.Name, err)
	}
	// The parser reads the text format only.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: scrape %s: %w", ErrMetrics, ep.Name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: scrape %s: HTTP %s", ErrMetrics, ep.Name, resp.Status)
	}
	ex, err := ParseExposition(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", ep.Name, err)
	}
	return ex, nil
}

// counter folds this tick's samples into the reset-corrected total. Called
// with s.mu held.
func (s *Sampler) counter(d SeriesDef, scrapes []Exposition) float64 {
	st := s.counters[d.Name]
	if st == nil {
		st = map[string]*counterState{}
		s.counters[d.Name] = st
	}
	for i, ep := range s.endpoints {
		if ep.Role != d.Role || scrapes[i] == nil {
			continue
		}
		for _, smp := range scrapes[i][d.Metric] {
			k := ep.Name + "|" + labelKey(smp.Labels, nil)
			c := st[k]
			if c == nil {
				c = &counterState{}
				st[k] = c
			}
			if smp.Value < c.last {
				c.offset += c.last // the process restarted and counts from 0
			}
			c.last = smp.Value
		}
	}
	var sum float64
	for _, c := range st {
		sum += c.last + c.offset
	}
	return sum
}

// gaugeMin implements AggGaugeMin.
func gaugeMin(d SeriesDef, endpoints []Endpoint, scrapes []Exposition) (float64, bool) {
	answered := false
	mins := map[string]float64{}
	for i, ep := range endpoints {
		if ep.Role != d.Role || scrapes[i] == nil {
			continue
		}
		answered = true
		for _, smp := range scrapes[i][d.Metric] {
			k := labelKey(smp.Labels, d.By)
			if m, ok := mins[k]; !ok || smp.Value < m {
				mins[k] = smp.Value
			}
		}
	}
	var sum float64
	for _, v := range mins {
		sum += v
	}
	return sum, answered
}

// labelKey is a canonical string of labels: only those in by, unless by is
// nil.
func labelKey(labels map[string]string, by []string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if by == nil || slices.Contains(by, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + labels[k] + ",")
	}
	return b.String()
}

// Series returns a copy of the named series.
func (s *Sampler) Series(name string) Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.series[name])
}

// All returns a copy of every series.
func (s *Sampler) All() map[string]Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Series, len(s.series))
	for k, v := range s.series {
		out[k] = slices.Clone(v)
	}
	return out
}

// Last returns the newest point of the named series.
func (s *Sampler) Last(name string) (Point, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.series[name].Last()
}

// ScrapeFailures returns the failed scrapes per endpoint with the last error,
// as "name: count (last error)" lines in name order.
func (s *Sampler) ScrapeFailures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.failures))
	for n := range s.failures {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, fmt.Sprintf("%s: %d failed scrapes (last: %s)", n, s.failures[n], s.lastErr[n]))
	}
	return out
}
