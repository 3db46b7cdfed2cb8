package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Real third-party clients (librdkafka through kcat, kafka-python) negotiate
// versions and follow metadata their own way; this is where proxies that only
// ever met one client library break.

// systemPython is the interpreter with the Debian python3-kafka package; the python3
// on PATH may be a pyenv one without it.
const systemPython = "/usr/bin/python3"

// requireKcat returns kcat's path. A missing client fails the test instead of
// skipping it: `make test` installs it first, so a skip would only hide that the
// proxy never met a non-Go client.
func requireKcat(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat not found (%v): `make deps` installs it (Debian package kcat)", err)
	}
	return p
}

// requireKafkaPython fails the test unless systemPython can import kafka.
func requireKafkaPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		t.Fatalf("%s not found (%v): `make deps` installs python3-kafka", systemPython, err)
	}
	out, err := exec.Command(systemPython, "-c", "import kafka").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import kafka (%v: %s): `make deps` installs python3-kafka", systemPython, err, out)
	}
}

// runTool runs a client with a deadline and returns its stdout; a failure shows
// stderr, which is where these clients explain themselves.
func runTool(t *testing.T, timeout time.Duration, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v (ctx: %v)\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "),
			err, ctx.Err(), tail(stdout.String()), tail(stderr.String()))
	}
	return stdout.String()
}

// tail keeps failure messages readable when a client logged a lot.
func tail(s string) string {
	const max = 4000
	if len(s) > max {
		return "..." + s[len(s)-max:]
	}
	return s
}

// proxyAddrs returns the set of addresses the proxy listens on, which are the only
// addresses a client may learn (listeners advertise what they bind in these tests).
func proxyAddrs(tp *testProxy) map[string]bool {
	out := map[string]bool{}
	for _, a := range tp.Addrs() {
		out[a] = true
	}
	return out
}

// labeledMetric adds up the series of a metric family whose labels include want.
func labeledMetric(t *testing.T, tp *testProxy, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := tp.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// assertRewrittenMetadata checks the proxy counted rewritten Metadata responses:
// external clients cannot be recorded, so the metric is the witness that their
// responses went through the rewriter rather than around it.
func assertRewrittenMetadata(t *testing.T, tp *testProxy) {
	t.Helper()
	if got := labeledMetric(t, tp, "proxy_rewritten_responses_total", map[string]string{"api_key": "3"}); got < 1 {
		t.Errorf("proxy_rewritten_responses_total{api_key=\"3\"} = %v, want >= 1", got)
	}
	for _, reason := range []string{"unexpected_response", "malformed", "unsupported_version", "unknown_api_key", "unmapped_broker"} {
		if got := labeledMetric(t, tp, "proxy_errors_total", map[string]string{"reason": reason}); got != 0 {
			t.Errorf("proxy_errors_total{reason=%q} = %v", reason, got)
		}
	}
}

var kcatBrokerLine = regexp.MustCompile(`(?m)^\s*broker (-?\d+) at (\S+)`)

// kcatBrokers parses the "broker N at host:port" lines of kcat -L.
func kcatBrokers(t *testing.T, out string) map[int32]string {
	t.Helper()
	brokers := map[int32]string{}
	for _, m := range kcatBrokerLine.FindAllStringSubmatch(out, -1) {
		id, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatalf("broker id %q: %v", m[1], err)
		}
		brokers[int32(id)] = m[2]
	}
	return brokers
}

func kcatArgs(tp *testProxy, args ...string) []string {
	base := []string{"-b", strings.Join(tp.BootstrapAddrs(), ","), "-m", "15",
		"-X", "socket.timeout.ms=15000", "-X", "topic.message.timeout.ms=15000"}
	return append(base, args...)
}

// kcatMetadata runs kcat -L and checks that every broker it lists is a proxy listener.
func kcatMetadata(t *testing.T, kcat string, c *kfake.Cluster, tp *testProxy, topic string, partitions int) {
	t.Helper()
	out := runTool(t, 30*time.Second, "", kcat, kcatArgs(tp, "-L", "-t", topic)...)
	brokers := kcatBrokers(t, out)
	if len(brokers) != len(c.ListenAddrs()) {
		t.Fatalf("kcat -L lists %d brokers, want %d:\n%s", len(brokers), len(c.ListenAddrs()), out)
	}
	allowed := proxyAddrs(tp)
	for id, addr := range brokers {
		if !allowed[addr] {
			t.Errorf("kcat -L: broker %d at %s, not a proxy address (proxy listens on %v)", id, addr, tp.Addrs())
		}
		if strings.HasPrefix(addr, upstreamHost+":") {
			t.Errorf("kcat -L: broker %d at upstream address %s", id, addr)
		}
	}
	if want := fmt.Sprintf("topic %q with %d partitions", topic, partitions); !strings.Contains(out, want) {
		t.Errorf("kcat -L does not show %s:\n%s", want, out)
	}
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// sameValues fails unless got holds exactly want, in any order: each value once.
func sameValues(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %d values, want %d\n got %.300q\nwant %.300q", what, len(got), len(want), got, want)
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestKcatThroughProxy(t *testing.T) {
	kcat := requireKcat(t)
	versions := []struct {
		name string
		v    *kversion.Versions
	}{
		{"default", nil},
		{"0.11", kversion.V0_11_0()},
		{"0.11", kversion.V0_11_0()},
		{"2.0", kversion.V2_0_0()},
		{"3.9", kversion.V3_9_0()},
		{"4.2", kversion.V4_2_0()},
		{"4.2", kversion.V4_2_0()},
	}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			const topic, partitions, n = "kcat", 3, 50
			opts := []kfake.Opt{kfake.SeedTopics(partitions, topic)}
			if v.v != nil {
				opts = append(opts, kfake.MaxVersions(v.v))
			}
			c := newCluster(t, opts...)
			tp := startProxy(t, c)

			kcatMetadata(t, kcat, c, tp, topic, partitions)

			want := numbered("kcat-"+v.name+"-", n)
			// -p -1: spread over every partition, so kcat talks to every broker.
			runTool(t, 30*time.Second, strings.Join(want, "\n")+"\n", kcat, kcatArgs(tp, "-P", "-t", topic, "-p", "-1")...)
			out := runTool(t, 30*time.Second, "", kcat, kcatArgs(tp, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n")...)
			sameValues(t, "kcat -C", lines(out), want)
			assertRewrittenMetadata(t, tp)
		})
	}
}

func TestKcatConsumerGroupThroughProxy(t *testing.T) {
	kcat := requireKcat(t)
	const topic, group, n = "kcat-group", "kcat-g", 60
	c := newCluster(t, kfake.SeedTopics(3, topic))
	tp := startProxy(t, c)

	want := numbered("g-", n)
	runTool(t, 30*time.Second, strings.Join(want, "\n")+"\n", kcat, kcatArgs(tp, "-P", "-t", topic, "-p", "-1")...)
	out := runTool(t, 30*time.Second, "", kcat, kcatArgs(tp, "-G", group, "-o", "beginning", "-e", "-q", "-f", "%s\n", topic)...)
	sameValues(t, "kcat -G", lines(out), want)

	// kcat commits on close; the committed offsets show the group really worked
	// (JoinGroup, SyncGroup, OffsetCommit through the coordinator's proxy listener).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &recorder{}
	adm := kadm.NewClient(tp.client(t, rec))
	var committed int64
	eventually(t, 10*time.Second, "kcat's commits visible", func() bool {
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		committed = 0
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topic && o.Err == nil && o.At > 0 {
				committed += o.At
			}
		})
		return committed == n
	})
	if a := rec.leaked(c.ListenAddrs()); a != "" {
		t.Fatalf("a response carried the upstream address %s", a)
	}
	if got := labeledMetric(t, tp, "proxy_rewritten_responses_total", map[string]string{"api_key": "10"}); got < 1 {
		t.Errorf("no FindCoordinator response was rewritten (%v)", got)
	}
	assertRewrittenMetadata(t, tp)
}

// pyResult is what testdata/kafka_python_client.py prints.
type pyResult struct {
	Produced       int        `json:"produced"`
	Consumed       int        `json:"consumed"`
	Values         []string   `json:"values"`
	Brokers        []pyBroker `json:"brokers"`
	ClusterBrokers []pyBroker `json:"cluster_brokers"`
	Coordinator    *pyBroker  `json:"coordinator"`
	Committed      int64      `json:"committed"`
	APIVersion     []int      `json:"api_version"`
}

type pyBroker struct {
	// NodeID is a number, or a string such as "coordinator-0" for kafka-python's
	// coordinator connection.
	NodeID any    `json:"node_id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
}

func TestKafkaPythonThroughProxy(t *testing.T) {
	requireKafkaPython(t)
	script, err := filepath.Abs(filepath.Join("testdata", "kafka_python_client.py"))
	if err != nil {
		t.Fatal(err)
	}
	versions := []struct {
		name string
		v    *kversion.Versions
	}{
		// kafka-python 2.0.2 (Debian 12) guesses the broker version from the keys
		// ApiVersions lists, so a clamped or filtered list would make it guess wrong.
		{"0.11", kversion.V0_11_0()},
		{"2.0", kversion.V2_0_0()},
		{"3.9", kversion.V3_9_0()},
		{"4.2", kversion.V4_2_0()},
	}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			const topic, n = "py", 40
			c := newCluster(t, kfake.SeedTopics(3, topic), kfake.MaxVersions(v.v))
			tp := startProxy(t, c)
			out := runTool(t, 60*time.Second, "", systemPython, script,
				"--bootstrap", strings.Join(tp.BootstrapAddrs(), ","), "--topic", topic,
				"--group", "py-group", "--count", strconv.Itoa(n), "--timeout", "20")
			var res pyResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("script output is not JSON: %v\n%s", err, out)
			}
			t.Logf("kafka-python guessed broker version %v", res.APIVersion)
			if res.Produced != n || res.Consumed != n {
				t.Fatalf("produced %d, consumed %d, want %d each", res.Produced, res.Consumed, n)
			}
			wantVals := make([]string, n)
			for i := range wantVals {
				wantVals[i] = "py-" + strconv.Itoa(i)
			}
			sameValues(t, "kafka-python consumer", res.Values, wantVals)
			if res.Committed != n {
				t.Errorf("group committed %d records, want %d", res.Committed, n)
			}
			if len(res.Brokers) != 3 || len(res.ClusterBrokers) != 3 {
				t.Fatalf("want 3 brokers from the consumer and from describe_cluster, got %v and %v", res.Brokers, res.ClusterBrokers)
			}
			if res.Coordinator == nil {
				t.Fatal("consumer found no group coordinator")
			}
			allowed := proxyAddrs(tp)
			all := append(append([]pyBroker{*res.Coordinator}, res.Brokers...), res.ClusterBrokers...)
			for _, b := range all {
				addr := joinHostPort(b.Host, b.Port)
				if !allowed[addr] {
					t.Errorf("kafka-python learned broker %v at %s, not a proxy address (proxy listens on %v)", b.NodeID, addr, tp.Addrs())
				}
			}
			assertRewrittenMetadata(t, tp)
			if got := labeledMetric(t, tp, "proxy_rewritten_responses_total", map[string]string{"api_key": "10"}); got < 1 {
				t.Errorf("no FindCoordinator response was rewritten (%v)", got)
			}
		})
	}
}
