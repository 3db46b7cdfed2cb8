package benchutil

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"
)

// PathResult is one path measured in one round.
type PathResult struct {
	Path  string `json:"path"`
	Round int    `json:"round"`
	// Order is the path's position within its round (1 = first).
	Order   int   `json:"order"`
	Produce Phase `json:"produce"`
	Consume Phase `json:"consume"`
	// P50 and P99 are the produce round trip percentiles.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	// Idle is nil on the direct path, where no process is in between.
	Idle *IdleResult `json:"idle,omitempty"`
}

// CPUPerGB returns the CPU-seconds the process under test spent per GB (10^9
// bytes) it forwarded in the throughput phases, counting both directions; NaN on
// the direct path.
func (p PathResult) CPUPerGB() float64 {
	wire := p.Produce.Wire + p.Consume.Wire
	if p.Idle == nil || wire <= 0 {
		return math.NaN()
	}
	return (p.Produce.CPU + p.Consume.CPU).Seconds() / (float64(wire) / 1e9)
}

// IdleResult is what a process under test held before and after the idle
// connections were opened.
type IdleResult struct {
	Conns            int     `json:"conns"`
	RSSBefore        int64   `json:"rss_before_bytes"`
	RSSAfter         int64   `json:"rss_after_bytes"`
	GoroutinesBefore float64 `json:"goroutines_before"`
	GoroutinesAfter  float64 `json:"goroutines_after"`
	HeapBefore       float64 `json:"heap_inuse_before_bytes"`
	HeapAfter        float64 `json:"heap_inuse_after_bytes"`
	StackBefore      float64 `json:"stack_inuse_before_bytes"`
	StackAfter       float64 `json:"stack_inuse_after_bytes"`
}

// RSSPerConn returns the RSS growth per idle connection in bytes.
func (r *IdleResult) RSSPerConn() float64 {
	return float64(r.RSSAfter-r.RSSBefore) / float64(r.Conns)
}

// GoroutinesPerConn returns the goroutines added per idle connection.
func (r *IdleResult) GoroutinesPerConn() float64 {
	return (r.GoroutinesAfter - r.GoroutinesBefore) / float64(r.Conns)
}

// HeapPerConn returns the Go heap growth (in-use spans) per idle connection in
// bytes. It shows memory that RSS does not yet: a large allocation is
// untouched, so not resident, until it is first written.
func (r *IdleResult) HeapPerConn() float64 {
	return (r.HeapAfter - r.HeapBefore) / float64(r.Conns)
}

// StackPerConn returns the goroutine stack growth per idle connection in bytes.
func (r *IdleResult) StackPerConn() float64 {
	return (r.StackAfter - r.StackBefore) / float64(r.Conns)
}

// Row is one path's line of the table: each quantity over all rounds.
type Row struct {
	Path        string  `json:"path"`
	ProduceMBps Summary `json:"produce_MBps"`
	ConsumeMBps Summary `json:"consume_MBps"`
	// ProduceVsFwd and ConsumeVsFwd are per-round throughput ratios against the
	// splice forwarder of the same round.
	ProduceVsFwd Summary `json:"produce_vs_forwarder"`
	ConsumeVsFwd Summary `json:"consume_vs_forwarder"`
	CPUPerGB     Summary `json:"cpu_seconds_per_GB"`
	// P50AddedUs and P99AddedUs are the per-round latency over the direct path's.
	P50AddedUs        Summary `json:"p50_added_us"`
	P99AddedUs        Summary `json:"p99_added_us"`
	P50Us             Summary `json:"p50_us"`
	P99Us             Summary `json:"p99_us"`
	RSSPerConnKiB     Summary `json:"rss_per_idle_conn_KiB"`
	GoroutinesPerConn Summary `json:"goroutines_per_idle_conn"`
	HeapPerConnKiB    Summary `json:"heap_per_idle_conn_KiB"`
	StackPerConnKiB   Summary `json:"stack_per_idle_conn_KiB"`
}

// Target is one goal from the issue, checked against the medians.
type Target struct {
	// Path is airlock-proxy or a candidate.
	Path  string  `json:"path"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Pass  bool    `json:"pass"`
}

// Settings echoes what a run was asked to do.
type Settings struct {
	Rounds          int `json:"rounds"`
	MB              int `json:"mb"`
	LatencyRequests int `json:"latency_requests"`
	IdleConns       int `json:"idle_conns"`
	Partitions      int `json:"partitions"`
	RecordBytes     int `json:"record_bytes"`
	// CPUs is what the Go runtime saw; LoadStart and LoadEnd are the 1-minute
	// load averages when the run began and ended.
	CPUs      int     `json:"cpus"`
	LoadStart float64 `json:"load_start"`
	LoadEnd   float64 `json:"load_end"`
}

// Report is the outcome of Run.
type Report struct {
	Settings Settings     `json:"settings"`
	Rows     []Row        `json:"rows"`
	Targets  []Target     `json:"targets"`
	Results  []PathResult `json:"results"`
}

func newReport(c cfg, results []PathResult, load [2]float64) *Report {
	r := &Report{
		Settings: Settings{Rounds: c.rounds, MB: c.mb, LatencyRequests: c.latencyReqs,
			IdleConns: c.idleConns, Partitions: c.partitions, RecordBytes: recordSize,
			CPUs: runtime.NumCPU(), LoadStart: load[0], LoadEnd: load[1]},
		Results: results,
	}
	for _, p := range c.paths() {
		r.Rows = append(r.Rows, summarizePath(p, results))
	}
	for _, row := range r.Rows[len(Paths)-1:] { // airlock-proxy and candidates
		r.Targets = append(r.Targets, targets(row, r.row(PathForwarder))...)
	}
	return r
}

func (r *Report) row(path string) Row {
	for _, row := range r.Rows {
		if row.Path == path {
			return row
		}
	}
	return Row{Path: path}
}

// summarizePath folds the rounds of one path into a Row; ratios and added latency
// compare against the other paths of the same round.
func summarizePath(path string, results []PathResult) Row {
	byRound := map[int]map[string]PathResult{}
	for _, res := range results {
		if byRound[res.Round] == nil {
			byRound[res.Round] = map[string]PathResult{}
		}
		byRound[res.Round][res.Path] = res
	}
	var prod, cons, prodR, consR, cpu, p50a, p99a, p50, p99, rss, gor, heap, stack []float64
	nan := math.NaN()
	for _, res := range results {
		if res.Path != path {
			continue
		}
		round := byRound[res.Round]
		prod = append(prod, res.Produce.MBps())
		cons = append(cons, res.Consume.MBps())
		cpu = append(cpu, res.CPUPerGB())
		p50 = append(p50, us(res.P50))
		p99 = append(p99, us(res.P99))
		if fwd, ok := round[PathForwarder]; ok && path != PathForwarder {
			prodR = append(prodR, ratio(res.Produce.MBps(), fwd.Produce.MBps()))
			consR = append(consR, ratio(res.Consume.MBps(), fwd.Consume.MBps()))
		}
		if d, ok := round[PathDirect]; ok && path != PathDirect {
			p50a = append(p50a, us(res.P50-d.P50))
			p99a = append(p99a, us(res.P99-d.P99))
		}
		if res.Idle != nil {
			rss = append(rss, res.Idle.RSSPerConn()/1024)
			gor = append(gor, res.Idle.GoroutinesPerConn())
			heap = append(heap, res.Idle.HeapPerConn()/1024)
			stack = append(stack, res.Idle.StackPerConn()/1024)
		} else {
			rss, gor, heap, stack = append(rss, nan), append(gor, nan), append(heap, nan), append(stack, nan)
		}
	}
	return Row{
		Path:        path,
		ProduceMBps: Summarize(prod), ConsumeMBps: Summarize(cons),
		ProduceVsFwd: Summarize(prodR), ConsumeVsFwd: Summarize(consR),
		CPUPerGB:   Summarize(cpu),
		P50AddedUs: Summarize(p50a), P99AddedUs: Summarize(p99a),
		P50Us: Summarize(p50), P99Us: Summarize(p99),
		RSSPerConnKiB: Summarize(rss), GoroutinesPerConn: Summarize(gor),
		HeapPerConnKiB: Summarize(heap), StackPerConnKiB: Summarize(stack),
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func ratio(a, b float64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return a / b
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// The targets for airlock-proxy.
const (
	targetCPUPerGB          = 0.6
	targetThroughputVsFwd   = 0.9
	targetP50OverFwdUs      = 100
	targetRSSPerConnKiB     = 16
	targetGoroutinesPerConn = 2
)

// targets checks the proxy's medians against the goals; a quantity not
// measured fails its target.
func targets(proxy, fwd Row) []Target {
	le := func(name string, s Summary, limit float64) Target {
		return Target{Path: proxy.Path, Name: name, Value: s.Median, Limit: limit, Pass: s.N > 0 && s.Median <= limit}
	}
	ge := func(name string, s Summary, limit float64) Target {
		return Target{Path: proxy.Path, Name: name, Value: s.Median, Limit: limit, Pass: s.N > 0 && s.Median >= limit}
	}
	p50 := le("p50 added (us)", proxy.P50AddedUs, fwd.P50AddedUs.Median+targetP50OverFwdUs)
	if fwd.P50AddedUs.N == 0 {
		p50.Pass = false
	}
	return []Target{
		le("CPU-s per GB", proxy.CPUPerGB, targetCPUPerGB),
		ge("produce vs forwarder", proxy.ProduceVsFwd, targetThroughputVsFwd),
		ge("consume vs forwarder", proxy.ConsumeVsFwd, targetThroughputVsFwd),
		p50,
		le("RSS per idle conn (KiB)", proxy.RSSPerConnKiB, targetRSSPerConnKiB),
		le("goroutines per idle conn", proxy.GoroutinesPerConn, targetGoroutinesPerConn),
	}
}

// tableHeader is the column order of Render.
var tableHeader = []string{
	"path", "produce MB/s", "consume MB/s", "produce x fwd", "consume x fwd",
	"CPU-s/GB", "p50 added us", "p99 added us", "RSS KiB/conn", "goroutines/conn",
}

// TableRows returns the table body, one row per path: "median [min..max]" cells.
func (r *Report) TableRows() [][]string {
	var rows [][]string
	for _, row := range r.Rows {
		rows = append(rows, []string{
			row.Path,
			FormatSummary(row.ProduceMBps, 0),
			FormatSummary(row.ConsumeMBps, 0),
			FormatSummary(row.ProduceVsFwd, 2),
			FormatSummary(row.ConsumeVsFwd, 2),
			FormatSummary(row.CPUPerGB, 2),
			FormatSummary(row.P50AddedUs, 0),
			FormatSummary(row.P99AddedUs, 0),
			FormatSummary(row.RSSPerConnKiB, 1),
			FormatSummary(row.GoroutinesPerConn, 2),
		})
	}
	return rows
}

// Render writes the table, the direct path's absolute latency (what "added" is
// added to) and the targets.
func (r *Report) Render(w io.Writer) error {
	s := r.Settings
	var b strings.Builder
	fmt.Fprintf(&b, "%d rounds; per path and round: %d MB produced and %d MB consumed in %d B records (no compression, %d partitions), %d sequential acks=all produce round trips, %d idle connections. Cells: median [min..max].\n",
		s.Rounds, s.MB, s.MB, s.RecordBytes, s.Partitions, s.LatencyRequests, s.IdleConns)
	fmt.Fprintf(&b, "%d CPUs, load average %.1f at start, %.1f at end.\n\n", s.CPUs, s.LoadStart, s.LoadEnd)
	if err := RenderTable(&b, tableHeader, r.TableRows()); err != nil {
		return err
	}
	d := r.row(PathDirect)
	fmt.Fprintf(&b, "\ndirect produce round trip: p50 %s us, p99 %s us\n", FormatSummary(d.P50Us, 0), FormatSummary(d.P99Us, 0))
	for _, row := range r.Rows[1:] {
		fmt.Fprintf(&b, "%s per idle conn: Go heap %s KiB, goroutine stacks %s KiB\n",
			row.Path, FormatSummary(row.HeapPerConnKiB, 1), FormatSummary(row.StackPerConnKiB, 1))
	}
	last := ""
	for _, t := range r.Targets {
		if t.Path != last {
			fmt.Fprintf(&b, "\n%s targets (medians):\n", t.Path)
			last = t.Path
		}
		verdict := "ok"
		if !t.Pass {
			verdict = "MISSED"
		}
		cmp := "<="
		if strings.Contains(t.Name, "vs forwarder") {
			cmp = ">="
		}
		fmt.Fprintf(&b, "  %-26s %8.2f  %s %-8.2f %s\n", t.Name, t.Value, cmp, t.Limit, verdict)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
