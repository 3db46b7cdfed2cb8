package bridge

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "airlock_bridge"

// metrics are a bridge's Prometheus instruments. Labels stay bounded: source
// topic and partition, never record contents.
type metrics struct {
	records      *prometheus.CounterVec // by source topic
	bytes        *prometheus.CounterVec // by source topic
	skipped      *prometheus.CounterVec // by source topic, reason
	dlq          *prometheus.CounterVec // by source topic, reason class
	invalidRetry *prometheus.CounterVec // by source topic
	txns         *prometheus.CounterVec // by result
	txnSeconds   prometheus.Histogram
	fenced       prometheus.Counter
	restarts     prometheus.Counter
	fetchErrors  prometheus.Counter
	discoveryErr prometheus.Counter
	running      prometheus.Gauge
	connects     *prometheus.CounterVec // by cluster, broker, result
	lag          *lagCollector
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "records_copied_total",
			Help: "Records committed to the target, by source topic.",
		}, []string{"topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "bytes_copied_total",
			Help: "Key, value and header bytes committed to the target, by source topic.",
		}, []string{"topic"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "records_skipped_total",
			Help: "Source records deliberately not copied, by source topic and reason (cycle: the record came from the target).",
		}, []string{"topic", "reason"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "dlq_records_total",
			Help: "Records that failed validation and were committed to the dead-letter topic, by source topic and reason class (not_wire_format, unknown_schema, malformed, incompatible, not_avro, invalid).",
		}, []string{"topic", "reason"}),
		invalidRetry: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "validation_retries_total",
			Help: "Validations that failed for a reason outside the record (a schema registry outage): the transaction is aborted and retried, nothing is dead-lettered. By source topic.",
		}, []string{"topic"}),
		txns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "transactions_total",
			Help: "Target transactions (batches in at-least-once mode) by result: committed or aborted.",
		}, []string{"result"}),
		txnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "transaction_duration_seconds",
			Help:    "Time from a transaction's first record to its commit.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "tasks_fenced_total",
			Help: "Times a task found its transactional id taken over by another owner.",
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "task_restarts_total",
			Help: "Task sessions that ended in an error and were restarted from the target's offsets.",
		}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "fetch_errors_total",
			Help: "Errors reported by source fetches.",
		}),
		discoveryErr: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "discovery_errors_total",
			Help: "Failed topic discoveries (listing, renaming or creating target topics).",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "tasks_running",
			Help: "Tasks this instance runs now.",
		}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "broker_connects_total",
			Help: "Connection attempts to brokers by cluster (source, target), broker address as dialled and result (ok, error): behind a proxy every address is the proxy's.",
		}, []string{"cluster", "broker", "result"}),
		lag: newLagCollector(),
	}
	reg.MustRegister(m.records, m.bytes, m.skipped, m.dlq, m.invalidRetry, m.txns, m.txnSeconds,
		m.fenced, m.restarts, m.fetchErrors, m.discoveryErr, m.running, m.connects, m.lag)
	return m
}

// lagCollector computes replication lag per source partition at scrape time,
// so a stalled bridge shows growing lag instead of a frozen gauge.
type lagCollector struct {
	recordsDesc *prometheus.Desc
	secondsDesc *prometheus.Desc
	staleDesc   *prometheus.Desc

	mu    sync.Mutex
	parts map[tp]*lagState
	// seen outlives parts: a session that ends and starts again (a source
	// outage, a crash loop) must not make its figures look fresh.
	seen map[tp]time.Time
	now  func() time.Time
}

type lagState struct {
	end       int64     // last stable offset seen by the source fetch
	next      int64     // next offset to copy, as committed on the target
	pending   time.Time // source timestamp of the oldest fetched, uncommitted record
	committed time.Time // source timestamp of the last committed record
	seen      time.Time // when the source last reported end (a fetch or a probe)
}

func newLagCollector() *lagCollector {
	return &lagCollector{
		recordsDesc: prometheus.NewDesc(namespace+"_replication_lag_records",
			"Source records not yet committed to the target: last stable offset minus next offset to copy (trailing transaction markers count as one each).",
			[]string{"topic", "partition"}, nil),
		secondsDesc: prometheus.NewDesc(namespace+"_replication_lag_seconds",
			"Age of the oldest source record not yet committed to the target (0 when caught up).",
			[]string{"topic", "partition"}, nil),
		staleDesc: prometheus.NewDesc(namespace+"_source_staleness_seconds",
			"Seconds since the source last reported this partition's end offset (in a fetch, or to the periodic end-offset probe): how old replication_lag_records is. Grows while the source is unreachable.",
			[]string{"topic", "partition"}, nil),
		parts: map[tp]*lagState{},
		seen:  map[tp]time.Time{},
		now:   time.Now,
	}
}

func (l *lagCollector) state(t tp) *lagState {
	s, ok := l.parts[t]
	if !ok {
		s = &lagState{end: -1, next: -1, seen: l.seen[t]}
		if s.seen.IsZero() {
			s.seen = l.now() // staleness counts from when tracking began
		}
		l.parts[t] = s
	}
	return s
}

// start records where a task resumes partition t.
func (l *lagCollector) start(t tp, next int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state(t)
	s.next, s.pending = next, time.Time{}
}

// fetched records the source's stable end and the timestamp of a fetched
// record not yet committed.
func (l *lagCollector) fetched(t tp, end int64, ts time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state(t)
	l.sawEnd(t, s, end)
	if s.pending.IsZero() && !ts.IsZero() {
		s.pending = ts
	}
}

// probed records the source's stable end as the end-offset probe read it.
func (l *lagCollector) probed(t tp, end int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.parts[t]; ok {
		l.sawEnd(t, s, end)
	}
}

func (l *lagCollector) sawEnd(t tp, s *lagState, end int64) {
	if end > s.end {
		s.end = end
	}
	s.seen = l.now()
	l.seen[t] = s.seen
}

// committed records a committed position.
func (l *lagCollector) committed(t tp, next int64, lastTS time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state(t)
	s.next, s.committed, s.pending = next, lastTS, time.Time{}
}

// aborted forgets uncommitted progress: it is read again.
func (l *lagCollector) aborted(t tp) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.parts[t]; ok {
		s.pending = time.Time{}
	}
}

// drop removes partitions this instance no longer copies.
func (l *lagCollector) drop(ts []tp) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range ts {
		delete(l.parts, t)
	}
}

// Describe implements prometheus.Collector.
func (l *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.recordsDesc
	ch <- l.secondsDesc
	ch <- l.staleDesc
}

// Collect implements prometheus.Collector.
func (l *lagCollector) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for t, s := range l.parts {
		if s.next < 0 {
			continue
		}
		part := strconv.Itoa(int(t.partition))
		records := max(s.end-s.next, 0)
		var seconds float64
		if records > 0 {
			since := s.pending
			if since.IsZero() {
				since = s.committed // a lower bound until the next record is fetched
			}
			if !since.IsZero() {
				seconds = max(now.Sub(since).Seconds(), 0)
			}
		}
		ch <- prometheus.MustNewConstMetric(l.recordsDesc, prometheus.GaugeValue, float64(records), t.topic, part)
		ch <- prometheus.MustNewConstMetric(l.secondsDesc, prometheus.GaugeValue, seconds, t.topic, part)
		ch <- prometheus.MustNewConstMetric(l.staleDesc, prometheus.GaugeValue, max(now.Sub(s.seen).Seconds(), 0), t.topic, part)
	}
}
