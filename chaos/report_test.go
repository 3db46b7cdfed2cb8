package chaos

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func sec(f float64) Seconds { return Seconds(time.Duration(f * float64(time.Second))) }

func psec(f float64) *Seconds { s := sec(f); return &s }

// blackholeReport is a passing run as Run would report it: the source goes
// dark from 7.5s to 16.5s, its proxy is down from 19.5s to 24s.
func blackholeReport() *Report {
	r := &Report{
		Scenario:      "source-blackhole",
		Description:   "the source goes silent both ways with connections left half-open, later its toxiproxy listeners go down",
		Form:          Short,
		Seed:          0,
		Started:       time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Elapsed:       sec(41.2),
		FaultPhase:    sec(30),
		RecoveryBound: sec(30),
		LastHeal:      sec(24.1),
		Faults: []FaultRecord{
			{Step: "w01", Fault: "blackhole downstream on source (all nodes)", At: sec(7.5), For: sec(9), Applied: psec(7.512), Healed: psec(16.508)},
			{Step: "w02", Fault: "blackhole upstream on source (all nodes)", At: sec(7.5), For: sec(9), Applied: psec(7.52), Healed: psec(16.515)},
			{Step: "w03", Fault: "proxy down on source (all nodes)", At: sec(19.5), For: sec(4.5), Applied: psec(19.51), Healed: psec(24.1)},
		},
		Series: map[string]Series{},
	}
	var acked, copied, lag Series
	var a, c float64
	for i := 0; i <= 41; i++ {
		t := float64(i)
		if t <= 30 {
			a = 100 * t
		}
		dark := (t >= 8 && t <= 16) || (t >= 20 && t <= 24)
		if !dark {
			c = math.Min(a, c+400) // catching up at 400/s
		}
		at := time.Duration(i) * time.Second
		acked = append(acked, Point{at, a})
		copied = append(copied, Point{at, c})
		lag = append(lag, Point{at, a - c})
	}
	r.Series[SeriesAcked], r.Series[SeriesCopied], r.Series[SeriesLag] = acked, copied, lag
	r.Series[SeriesFenced] = Series{{0, 0}, {41 * time.Second, 0}}
	check := cleanCheck()
	check.Stats = CheckStats{Ledgers: []string{"p-chaos"}, LedgerEvents: 3000, Acked: 3000, Records: 3000, Decoded: 3000, DistinctEvents: 3000, AckedSeen: 3000}
	r.Check = check
	p := Plan{Invariants: DefaultInvariants(), Recovery: 30 * time.Second, CaughtUpLag: 100}
	r.fill(p, Progress{Produced: 3000, Acked: 3000}, []string{"source-toxi:19092", "target-toxi:29092"}, []string{"source-toxi:19092", "target-toxi:29092"}, nil)
	return r
}

// crashLoopReport is a failing run: lost events, a duplicate, a fault that
// could not be healed on schedule, and a bridge that never caught up.
func crashLoopReport() *Report {
	r := &Report{
		Scenario:      "bridge-crash-loop",
		Form:          Long,
		Seed:          7,
		Started:       time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Elapsed:       sec(20),
		FaultPhase:    sec(16),
		RecoveryBound: sec(2),
		LastHeal:      sec(14),
		Faults: []FaultRecord{
			{Step: "w01", Fault: "kill -9 bridge 0", At: sec(2), For: sec(1), Applied: psec(2), Healed: psec(3)},
			{Step: "w02", Fault: "shuffle leaders on source", At: sec(5), Applied: psec(5), Healed: psec(5)},
			{Step: "w03", Fault: "kill -9 bridge 0", At: sec(8), For: sec(1), Applied: psec(8),
				Errors: []string{"heal: start bridge-0: container is marked for removal"}},
			{Step: "w04", Fault: "pause bridge 1", At: sec(11), For: sec(3), Applied: psec(11), Healed: psec(14), Cleanup: true},
		},
		Series: map[string]Series{
			SeriesAcked:  secs(0, 0, 4, 400, 8, 800, 12, 1200, 16, 1600, 20, 1600),
			SeriesCopied: secs(0, 0, 4, 300, 8, 700, 12, 700, 16, 900, 20, 1000),
			SeriesLag:    secs(0, 0, 4, 100, 8, 100, 12, 500, 16, 700, 20, 600),
		},
	}
	check := cleanCheck()
	check.Stats = CheckStats{LedgerEvents: 1600, Acked: 1590, Uncertain: 10, Records: 1001, Decoded: 1001, DistinctEvents: 1000, AckedSeen: 995}
	withClass(check, ClassLost, 595,
		CheckExample{Event: "p-chaos/1005", Key: "key-21", Where: []string{"orders/3@167"}, Detail: "acked at orders/3@167, never seen"},
		CheckExample{Event: "p-chaos/1006", Key: "key-22", Where: []string{"orders/4@170"}, Detail: "acked at orders/4@170, never seen"})
	withClass(check, ClassDuplicate, 1, CheckExample{Event: "p-chaos/17", Key: "key-17", Where: []string{"orders/1@3", "orders/1@9"}, Detail: "seen 2 times"})
	r.Check = check
	p := Plan{Invariants: DefaultInvariants(), Recovery: 2 * time.Second}
	r.fill(p, Progress{Produced: 1600, Acked: 1590}, []string{"source-toxi:19092", "source-kafka:9092"}, []string{"source-toxi:19092"},
		[]error{errors.New("fault failed: heal w03 (kill -9 bridge 0): start bridge-0: container is marked for removal")})
	r.Notes = []string{"bridge-0: 3 failed scrapes (last: connection refused)"}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func TestReportGolden(t *testing.T) {
	reports := map[string]*Report{"blackhole": blackholeReport(), "crashloop": crashLoopReport()}
	for name, r := range reports {
		t.Run(name, func(t *testing.T) {
			for _, f := range []struct {
				ext   string
				write func(*bytes.Buffer) error
			}{
				{"txt", func(b *bytes.Buffer) error { return r.WriteText(b) }},
				{"json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }},
				{"svg", func(b *bytes.Buffer) error { return r.WriteSVG(b) }},
			} {
				var b bytes.Buffer
				if err := f.write(&b); err != nil {
					t.Fatal(err)
				}
				golden(t, "report-"+name+"."+f.ext, b.Bytes())
				// Rendering twice gives the same bytes.
				var again bytes.Buffer
				if err := f.write(&again); err != nil || !bytes.Equal(b.Bytes(), again.Bytes()) {
					t.Errorf("%s: second rendering differs", f.ext)
				}
			}
		})
	}
}

func TestReportVerdicts(t *testing.T) {
	pass := blackholeReport()
	if !pass.OK || pass.Err() != nil {
		t.Fatalf("blackhole report failed: %v", pass.Err())
	}
	if pass.Recovery == nil || pass.Counts != (Counts{Produced: 3000, Acknowledged: 3000, Delivered: 3000}) {
		t.Errorf("counts %+v recovery %v", pass.Counts, pass.Recovery)
	}
	if pass.MaxLag == 0 {
		t.Error("no max lag")
	}
	fail := crashLoopReport()
	err := fail.Err()
	if !errors.Is(err, ErrViolation) {
		t.Fatalf("Err = %v", err)
	}
	for _, want := range []string{"no-loss: 595 lost", "p-chaos/1005 key=key-21 at orders/3@167", "no-duplicates", "proxy-addresses-only",
		"source-kafka:9092", "recovery: not caught up", "error: fault failed: heal w03"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Err lacks %q:\n%v", want, err)
		}
	}
	if fail.Counts.Lost != 595 || fail.Counts.Duplicated != 1 || fail.Counts.Delivered != 1000 {
		t.Errorf("counts %+v", fail.Counts)
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := crashLoopReport()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Counts != r.Counts || len(back.Faults) != len(r.Faults) || *back.Faults[0].Applied != *r.Faults[0].Applied ||
		!reflect.DeepEqual(back.Series[SeriesLag], r.Series[SeriesLag]) || back.OK != r.OK || back.Elapsed != r.Elapsed {
		t.Errorf("round trip changed the report:\n%+v\n%+v", back, *r)
	}
}

func TestReportWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	paths, err := blackholeReport().WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("wrote %q", paths)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v, %d bytes", p, err, st.Size())
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, ReportTimeline))
	if err != nil || !bytes.HasPrefix(svg, []byte("<svg ")) {
		t.Errorf("timeline: %v %.40q", err, svg)
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		max   float64
		n     int
		ticks []float64
		top   float64
	}{
		{41.2, 10, []float64{0, 5, 10, 15, 20, 25, 30, 35, 40, 45}, 45},
		{1, 5, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}, 1},
		{900, 5, []float64{0, 200, 400, 600, 800, 1000}, 1000},
		{0, 5, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}, 1},
	}
	for _, tc := range tests {
		ticks, top := niceTicks(tc.max, tc.n)
		if !reflect.DeepEqual(ticks, tc.ticks) || top != tc.top {
			t.Errorf("niceTicks(%v, %d) = %v, %v; want %v, %v", tc.max, tc.n, ticks, top, tc.ticks, tc.top)
		}
	}
}

func TestSVGCompactKey(t *testing.T) {
	kinds := []string{"kill -9 bridge 0", "shuffle leaders on source", "latency 300ms±100ms downstream on source (all nodes)"}
	r := &Report{Scenario: "nemesis", Elapsed: sec(60), Series: map[string]Series{SeriesLag: secs(0, 0, 60, 0)}}
	for i := range 60 {
		f := FaultRecord{Step: fmt.Sprintf("w%02d", i+1), Fault: kinds[i%3], At: sec(float64(i)), For: sec(0.5)}
		if i%3 == 1 {
			f.For = 0
		}
		r.Faults = append(r.Faults, f)
	}
	var b bytes.Buffer
	if err := r.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	for _, k := range kinds {
		if n := strings.Count(svg, ">"+esc(k)+"</text>"); n != 1 {
			t.Errorf("%q appears %d times as text, want once (in the key)", k, n)
		}
	}
	if !strings.Contains(svg, ">w01</text>") || !strings.Contains(svg, ">w60</text>") {
		t.Error("step ids missing above the chart")
	}
}

func TestSVGEmptyReport(t *testing.T) {
	var b bytes.Buffer
	if err := (&Report{Scenario: "x"}).WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "<svg ") || !strings.HasSuffix(b.String(), "</svg>\n") || strings.Contains(b.String(), "NaN") {
		t.Errorf("svg %q", b.String())
	}
}
