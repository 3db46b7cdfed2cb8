package bridge

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRename(t *testing.T) {
	for _, tc := range []struct {
		template, topic, want string
		err                   error
	}{
		{"", "orders", "orders", nil},
		{"{{.Topic}}", "orders", "orders", nil},
		{"source.", "orders", "source.orders", nil},
		{"{{.SourceCluster}}.{{.Topic}}", "orders", "east.orders", nil},
		{"{{.Topic}}-copy", "a.b", "a.b-copy", nil},
		{"bad/", "orders", "", ErrBadTopicName},
		{"{{.Topic}}" + strings.Repeat("x", 250), "orders", "", ErrBadTopicName},
	} {
		t.Run(tc.template+"/"+tc.topic, func(t *testing.T) {
			r, err := newRenamer(tc.template)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.target(tc.topic, "east")
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"{{.Topic", "{{.Nope}}"} {
		if _, err := newRenamer(bad); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
}

func TestTaskFor(t *testing.T) {
	// Pinned: every instance, of every version, must map a partition to the
	// same task, or a task's transactional id would stop fencing the old
	// owner of its partitions. Never change these values.
	for _, g := range []struct {
		topic     string
		partition int32
		tasks     int
		want      int
	}{
		{"orders", 0, 4, 0},
		{"orders", 3, 4, 3},
		{"payments", 1, 3, 1},
		{"a", 7, 8, 3},
		{"east.logs", 11, 16, 8},
	} {
		if got := TaskFor(g.topic, g.partition, g.tasks); got != g.want {
			t.Errorf("TaskFor(%q, %d, %d) = %d, want %d (the mapping must never change)", g.topic, g.partition, g.tasks, got, g.want)
		}
	}
	for _, tc := range []struct {
		partitions, tasks int
	}{{12, 4}, {7, 3}, {3, 8}, {1, 1}} {
		counts := make([]int, tc.tasks)
		for p := range tc.partitions {
			k := TaskFor("orders", int32(p), tc.tasks)
			if k < 0 || k >= tc.tasks {
				t.Fatalf("task %d out of range", k)
			}
			counts[k]++
		}
		// Round-robin within a topic: counts differ by at most one.
		lo, hi := tc.partitions, 0
		for _, c := range counts {
			lo, hi = min(lo, c), max(hi, c)
		}
		if hi-lo > 1 {
			t.Errorf("%d partitions over %d tasks: uneven %v", tc.partitions, tc.tasks, counts)
		}
	}
}

func TestSelectAndMap(t *testing.T) {
	src := map[string]topicState{}
	for _, name := range []string{"orders", "orders.v2", "payments", "internal.x", "__consumer_offsets", "airlock-bridge.b.checkpoints", "logs"} {
		src[name] = topicState{partitions: 2}
	}
	src["hidden"] = topicState{partitions: 2, internal: true}
	src["broken"] = topicState{partitions: 2, err: errors.New("leader not available")}
	for _, tc := range []struct {
		name string
		opts []Opt
		want map[string]string // source -> target
		err  error
	}{
		{"exact list", []Opt{Topics("orders", "logs", "missing")}, map[string]string{"orders": "orders", "logs": "logs"}, nil},
		{"regex is anchored", []Opt{IncludeRegex("orders")}, map[string]string{"orders": "orders"}, nil},
		{"regex with exclude", []Opt{IncludeRegex(".*"), ExcludeRegex(`internal\..*`, "logs")},
			map[string]string{"orders": "orders", "orders.v2": "orders.v2", "payments": "payments"}, nil},
		{"prefix rename", []Opt{IncludeRegex("pay.*"), Rename("src.")}, map[string]string{"payments": "src.payments"}, nil},
		{"collision", []Opt{IncludeRegex("orders.*"), Rename("same{{if false}}{{.Topic}}{{end}}")}, nil, ErrTopicCollision},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCfg()
			for _, o := range append([]Opt{Name("b"), SourceBrokers("s:1"), TargetBrokers("t:1")}, tc.opts...) {
				o.apply(&c)
			}
			if err := c.validate(); err != nil {
				t.Fatal(err)
			}
			got, err := c.mapTopics(src, "east")
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for s, d := range tc.want {
				if got[s].target != d || got[s].partitions != 2 {
					t.Errorf("%s -> %+v, want %s with 2 partitions", s, got[s], d)
				}
			}
		})
	}
	// A template whose output is the bridge's own topic is refused.
	c := defaultCfg()
	for _, o := range []Opt{Name("b"), SourceBrokers("s:1"), TargetBrokers("t:1"), Topics("logs"), Rename("airlock-bridge.b.dlq{{if false}}{{.Topic}}{{end}}")} {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.mapTopics(src, "east"); !errors.Is(err, ErrTopicCollision) {
		t.Fatalf("mapping onto the dead-letter topic: %v, want ErrTopicCollision", err)
	}
}

func TestPlanPartitionsOf(t *testing.T) {
	pl := &plan{topics: map[string]topicPlan{
		"a": {source: "a", target: "a", partitions: 5},
		"b": {source: "b", target: "b", partitions: 3},
	}}
	seen := map[tp]int{}
	for task := range 3 {
		for _, p := range pl.partitionsOf(task, 3) {
			seen[p]++
			if TaskFor(p.topic, p.partition, 3) != task {
				t.Errorf("%s given to task %d", p, task)
			}
		}
	}
	if len(seen) != 8 {
		t.Fatalf("%d partitions assigned, want 8", len(seen))
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s assigned %d times", p, n)
		}
	}
}

func TestValidate(t *testing.T) {
	base := []Opt{Name("b"), SourceBrokers("s:1"), TargetBrokers("t:1"), Topics("x")}
	for _, tc := range []struct {
		name string
		opts []Opt
		want string // substring of the error; "" means valid
	}{
		{"valid", nil, ""},
		{"no name", []Opt{Name("")}, "a name is required"},
		{"bad name", []Opt{Name("a/b")}, "cannot be part of a topic name"},
		{"no topics", []Opt{opt{func(c *cfg) { c.topics = nil }}}, "no topics selected"},
		{"bad regex", []Opt{IncludeRegex("(")}, "include regex"},
		{"bad template", []Opt{Rename("{{")}, "rename template"},
		{"zero tasks", []Opt{Tasks(0)}, "tasks must be"},
		{"timeout below interval", []Opt{TxnInterval(time.Second), TxnTimeout(2 * time.Second)}, "transaction timeout"},
		{"zero records", []Opt{TxnMaxRecords(0)}, "max records"},
		{"same groups", []Opt{OffsetsGroup("g"), TaskGroup("g")}, "must differ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(append(append([]Opt{}, base...), tc.opts...)...)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

func TestParseEnums(t *testing.T) {
	for _, tc := range []struct {
		in  string
		ok  bool
		got func(string) (any, error)
	}{
		{"exactly-once", true, func(s string) (any, error) { return ParseMode(s) }},
		{"AT-LEAST-ONCE", true, func(s string) (any, error) { return ParseMode(s) }},
		{"maybe", false, func(s string) (any, error) { return ParseMode(s) }},
		{"static", true, func(s string) (any, error) { return ParseCoordination(s) }},
		{"raft", false, func(s string) (any, error) { return ParseCoordination(s) }},
		{"latest", true, func(s string) (any, error) { return ParseStartFrom(s) }},
		{"middle", false, func(s string) (any, error) { return ParseStartFrom(s) }},
	} {
		if _, err := tc.got(tc.in); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("parse %q: err %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	in := Checkpoint{Bridge: "b", Task: 2, SourceCluster: "east", Partitions: []CheckpointPartition{
		{SourceTopic: "a", TargetTopic: "src.a", Partition: 1, SourceOffset: 10, TargetOffset: 7},
	}}
	b, err := MarshalCheckpoint(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := UnmarshalCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Bridge != in.Bridge || out.Task != 2 || out.Partitions[0] != in.Partitions[0] {
		t.Fatalf("round trip: %+v", out)
	}
	if _, err := UnmarshalCheckpoint([]byte("{")); err == nil {
		t.Fatal("garbage decoded")
	}
}

func TestFromCluster(t *testing.T) {
	for _, tc := range []struct {
		name string
		hs   []kgo.RecordHeader
		want bool
	}{
		{"none", nil, false},
		{"other cluster", []kgo.RecordHeader{{Key: "airlock.source.cluster", Value: []byte("east")}}, false},
		{"target", []kgo.RecordHeader{{Key: "airlock.source.cluster", Value: []byte("west")}}, true},
		{"target earlier in a chain", []kgo.RecordHeader{
			{Key: "airlock.source.cluster", Value: []byte("west")},
			{Key: "airlock.source.cluster", Value: []byte("east")},
		}, true},
		{"other header with the value", []kgo.RecordHeader{{Key: "x", Value: []byte("west")}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromCluster(tc.hs, "west"); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// testLag returns a lag collector registered in a fresh registry, with a
// clock the test moves.
func testLag() (*lagCollector, *prometheus.Registry, *time.Time) {
	l := newLagCollector()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	reg := prometheus.NewRegistry()
	reg.MustRegister(l)
	return l, reg, &now
}

func TestLagCollector(t *testing.T) {
	l, reg, now := testLag()
	p := tp{"a", 0}

	l.start(p, 10)
	l.fetched(p, 25, now.Add(-3*time.Second))
	want := `
# HELP airlock_bridge_replication_lag_records Source records not yet committed to the target: last stable offset minus next offset to copy (trailing transaction markers count as one each).
# TYPE airlock_bridge_replication_lag_records gauge
airlock_bridge_replication_lag_records{partition="0",topic="a"} 15
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "airlock_bridge_replication_lag_records"); err != nil {
		t.Fatal(err)
	}
	wantSeconds := func(v string) {
		t.Helper()
		w := `
# HELP airlock_bridge_replication_lag_seconds Age of the oldest source record not yet committed to the target (0 when caught up).
# TYPE airlock_bridge_replication_lag_seconds gauge
airlock_bridge_replication_lag_seconds{partition="0",topic="a"} ` + v + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(w), "airlock_bridge_replication_lag_seconds"); err != nil {
			t.Fatal(err)
		}
	}
	wantSeconds("3")
	*now = now.Add(2 * time.Second) // stalled: lag keeps growing at scrape time
	wantSeconds("5")
	l.committed(p, 25, now.Add(-time.Second))
	wantSeconds("0")
	l.drop([]tp{p})
	if n := testutil.CollectAndCount(l); n != 0 {
		t.Fatalf("%d series after drop", n)
	}
}

func TestLagCollectorStaleness(t *testing.T) {
	l, reg, now := testLag()
	p := tp{"a", 0}
	want := func(v string) {
		t.Helper()
		w := `
# HELP airlock_bridge_source_staleness_seconds Seconds since the source last reported this partition's end offset (in a fetch, or to the periodic end-offset probe): how old replication_lag_records is. Grows while the source is unreachable.
# TYPE airlock_bridge_source_staleness_seconds gauge
airlock_bridge_source_staleness_seconds{partition="0",topic="a"} ` + v + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(w), "airlock_bridge_source_staleness_seconds"); err != nil {
			t.Fatal(err)
		}
	}
	l.start(p, 10)
	want("0")
	*now = now.Add(4 * time.Second)
	want("4") // never heard from the source since tracking began
	l.fetched(p, 12, time.Time{})
	want("0")
	*now = now.Add(3 * time.Second)
	l.probed(p, 15)
	want("0")
	*now = now.Add(5 * time.Second)
	want("5")
	// A new session (after a failure) must not look fresh.
	l.drop([]tp{p})
	l.start(p, 12)
	want("5")
	l.probed(tp{"b", 0}, 1) // a partition this instance does not copy
	if n := testutil.CollectAndCount(l, "airlock_bridge_source_staleness_seconds"); n != 1 {
		t.Fatalf("%d staleness series, want 1", n)
	}
}
