package testbed

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"

	"github.com/airlock-kafka/airlock/internal/testbroker"
)

// These tests need no docker; the e2e suite covers what needs it.

func TestIsStale(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	alive := func(pid int) bool { return pid == 100 }
	tests := []struct {
		name    string
		labels  map[string]string
		created time.Time
		want    bool
	}{
		{"creator alive on this host", map[string]string{LabelPID: "100", LabelHost: "me"}, now, false},
		{"creator gone on this host", map[string]string{LabelPID: "200", LabelHost: "me"}, now, true},
		{"no pid label", map[string]string{LabelHost: "me"}, now, true},
		{"garbage pid label", map[string]string{LabelPID: "x", LabelHost: "me"}, now, true},
		{"other host, recent", map[string]string{LabelPID: "200", LabelHost: "them"}, now.Add(-time.Hour), false},
		{"other host, old", map[string]string{LabelPID: "200", LabelHost: "them"}, now.Add(-7 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isStale(tt.labels, tt.created, now, "me", alive); got != tt.want {
				t.Errorf("isStale = %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeDocker records calls and serves canned resources.
type fakeDocker struct {
	containers []container.Summary
	networks   []network.Summary
	volumes    []volume.Volume
	filters    []client.Filters
	removed    []string
	removeErr  map[string]error
}

func (f *fakeDocker) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	f.filters = append(f.filters, o.Filters)
	return client.ContainerListResult{Items: f.containers}, nil
}

func (f *fakeDocker) ContainerRemove(_ context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	if !o.Force {
		return client.ContainerRemoveResult{}, errors.New("remove without force")
	}
	f.removed = append(f.removed, "container "+id)
	return client.ContainerRemoveResult{}, f.removeErr[id]
}

func (f *fakeDocker) NetworkList(_ context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	f.filters = append(f.filters, o.Filters)
	return client.NetworkListResult{Items: f.networks}, nil
}

func (f *fakeDocker) NetworkRemove(_ context.Context, id string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	f.removed = append(f.removed, "network "+id)
	return client.NetworkRemoveResult{}, f.removeErr[id]
}

func (f *fakeDocker) VolumeList(_ context.Context, o client.VolumeListOptions) (client.VolumeListResult, error) {
	f.filters = append(f.filters, o.Filters)
	return client.VolumeListResult{Items: f.volumes}, nil
}

func (f *fakeDocker) VolumeRemove(_ context.Context, id string, o client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
	if !o.Force {
		return client.VolumeRemoveResult{}, errors.New("volume remove without force")
	}
	f.removed = append(f.removed, "volume "+id)
	return client.VolumeRemoveResult{}, f.removeErr[id]
}

func netSummary(id string, labels map[string]string) network.Summary {
	var n network.Summary
	n.ID, n.Name, n.Labels = id, "net-"+id, labels
	return n
}

func TestRemoveRunRemovesContainersBeforeNetworksAndVolumes(t *testing.T) {
	f := &fakeDocker{
		containers: []container.Summary{{ID: "c1", Names: []string{"/a"}}, {ID: "c2"}},
		networks:   []network.Summary{netSummary("n1", nil)},
		volumes:    []volume.Volume{{Name: "v1"}},
		removeErr:  map[string]error{"c2": cerrdefs.ErrNotFound.WithMessage("gone")},
	}
	if err := RemoveRun(t.Context(), f, "r1"); err != nil {
		t.Fatal(err)
	}
	want := []string{"container c1", "container c2", "network n1", "volume v1"}
	if !reflect.DeepEqual(f.removed, want) {
		t.Errorf("removed %v, want %v", f.removed, want)
	}
	for _, fl := range f.filters {
		labels := fl["label"]
		if !labels[LabelE2E+"=1"] || !labels[LabelRun+"=r1"] || len(labels) != 2 {
			t.Errorf("filter %v, want exactly the e2e and run labels", fl)
		}
	}
}

func TestRemoveReportsFailures(t *testing.T) {
	f := &fakeDocker{
		containers: []container.Summary{{ID: "c1"}},
		networks:   []network.Summary{netSummary("n1", nil)},
		removeErr:  map[string]error{"n1": errors.New("network in use")},
	}
	err := RemoveRun(t.Context(), f, "r1")
	if err == nil || !strings.Contains(err.Error(), "network in use") {
		t.Fatalf("err = %v, want the network failure", err)
	}
}

func TestRemoveStaleKeepsLiveRuns(t *testing.T) {
	live := resourceLabels("live", "tb") // this process: alive
	dead := resourceLabels("dead", "tb")
	dead[LabelPID] = "0" // no such creator
	f := &fakeDocker{
		containers: []container.Summary{{ID: "live", Labels: live}, {ID: "dead", Labels: dead}},
		networks:   []network.Summary{netSummary("nlive", live), netSummary("ndead", dead)},
		volumes: []volume.Volume{
			{Name: "vlive", Labels: live, CreatedAt: time.Now().Format(time.RFC3339)},
			{Name: "vdead", Labels: dead, CreatedAt: "not a time"},
		},
	}
	names, err := RemoveStale(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"container dead", "network ndead", "volume vdead"}; !reflect.DeepEqual(f.removed, want) {
		t.Errorf("removed %v, want %v", f.removed, want)
	}
	if len(names) != 3 {
		t.Errorf("reported %v", names)
	}
}

type fakeInspector map[string]error

func (f fakeInspector) ImageInspect(_ context.Context, image string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	return client.ImageInspectResult{}, f[image]
}

func TestCheckImages(t *testing.T) {
	f := fakeInspector{"missing:dev": cerrdefs.ErrNotFound.WithMessage("no such image"), "broken:dev": errors.New("daemon down")}
	if err := CheckImages(t.Context(), f, "present:dev"); err != nil {
		t.Errorf("present image: %v", err)
	}
	err := CheckImages(t.Context(), f, "present:dev", "missing:dev", "broken:dev")
	if !errors.Is(err, ErrMissingImage) || !strings.Contains(err.Error(), "missing:dev") || !strings.Contains(err.Error(), "daemon down") {
		t.Errorf("err = %v, want the missing image and the daemon error", err)
	}
	if strings.Contains(err.Error(), "present:dev") {
		t.Errorf("err names a present image: %v", err)
	}
}

func TestBrokerSpec(t *testing.T) {
	tests := []struct {
		name    string
		spec    BrokerSpec
		err     bool
		wantCmd []string
	}{
		{
			name:    "defaults",
			spec:    BrokerSpec{Zone: Source},
			wantCmd: []string{"--nodes", "1", "--advertise-host", "source-kafka", "--admin-listen", ":8080"},
		},
		{
			name: "everything",
			spec: BrokerSpec{Name: "old", Zone: Target, Nodes: 3, Version: "2.8", SeedTopics: []string{"a:1", "b:2"}, Args: []string{"--sync-writes"}},
			wantCmd: []string{"--nodes", "3", "--advertise-host", "old", "--admin-listen", ":8080",
				"--as-version", "2.8", "--seed-topics", "a:1,b:2", "--sync-writes"},
		},
		{name: "no zone", spec: BrokerSpec{Name: "x"}, err: true},
		{name: "too many nodes", spec: BrokerSpec{Zone: Source, Nodes: 99}, err: true},
		{name: "unknown version", spec: BrokerSpec{Zone: Source, Version: "9.9"}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.spec
			err := s.defaults()
			if tt.err {
				if !errors.Is(err, ErrBadSpec) {
					t.Fatalf("err = %v, want ErrBadSpec", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.cmd(); !reflect.DeepEqual(got, tt.wantCmd) {
				t.Errorf("cmd %q, want %q", got, tt.wantCmd)
			}
		})
	}
}

func TestContainerSpecValidate(t *testing.T) {
	ok := ContainerSpec{Name: "proxy-1", Image: "img", Zones: []Zone{Bridge}, HostPorts: []string{"9092", "8474/tcp"}}
	tests := []struct {
		name string
		edit func(*ContainerSpec)
		err  bool
	}{
		{"valid", func(*ContainerSpec) {}, false},
		{"networks only", func(s *ContainerSpec) { s.Zones, s.Networks = nil, []string{"n"} }, false},
		{"upper-case name", func(s *ContainerSpec) { s.Name = "Proxy" }, true},
		{"no image", func(s *ContainerSpec) { s.Image = "" }, true},
		{"no network", func(s *ContainerSpec) { s.Zones = nil }, true},
		{"unknown zone", func(s *ContainerSpec) { s.Zones = []Zone{"dmz"} }, true},
		{"bad port", func(s *ContainerSpec) { s.HostPorts = []string{"http"} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			if err := s.validate(); (err != nil) != tt.err {
				t.Errorf("validate = %v, want error %v", err, tt.err)
			} else if err != nil && !errors.Is(err, ErrBadSpec) {
				t.Errorf("err = %v, want ErrBadSpec", err)
			}
		})
	}
}

func TestLoopbackBindings(t *testing.T) {
	pm := loopbackBindings([]string{"8080/tcp", "9092/tcp"})
	if len(pm) != 2 {
		t.Fatalf("bindings %v", pm)
	}
	for p, bs := range pm {
		if len(bs) != 1 || bs[0].HostIP.String() != "127.0.0.1" || bs[0].HostPort != "" {
			t.Errorf("port %v bound %+v, want 127.0.0.1 with a free port", p, bs)
		}
	}
}

// brokerWithAdmin returns a testbed Broker backed by an in-process test broker:
// its admin API behind httptest and its nodes behind the host map, as if
// published.
func brokerWithAdmin(t *testing.T) (*Broker, *testbroker.Broker) {
	t.Helper()
	tbk, err := testbroker.New(testbroker.WithListenHost("127.0.0.1"), testbroker.WithAdvertiseHost("source-kafka"),
		testbroker.WithNodes(2), testbroker.WithSeedTopics(testbroker.SeedTopic{Name: "t", Partitions: 1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbk.Close)
	srv := httptest.NewServer(tbk.Handler())
	t.Cleanup(srv.Close)
	b := &Broker{Container: &Container{Name: "source-kafka"}, Spec: BrokerSpec{Name: "source-kafka", Zone: Source, Nodes: 2}}
	b.admin = srv.URL
	b.hostMap = map[string]string{}
	for _, a := range tbk.Addrs() {
		_, port, _ := net.SplitHostPort(a)
		// The in-process nodes listen on free ports rather than 9092, 9093:
		// map what the broker advertises.
		b.hostMap[a] = net.JoinHostPort("127.0.0.1", port)
	}
	return b, tbk
}

func TestHostDialer(t *testing.T) {
	b, tbk := brokerWithAdmin(t)
	dial := b.HostDialer()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := dial(ctx, "tcp", tbk.Addrs()[0])
	if err != nil {
		t.Fatalf("dial an advertised address: %v", err)
	}
	_ = c.Close()
	if _, err := dial(ctx, "tcp", "elsewhere:9092"); !errors.Is(err, ErrUnknownAddr) {
		t.Errorf("dial an unknown address: %v, want ErrUnknownAddr", err)
	}
}

func TestBrokerAdminCalls(t *testing.T) {
	b, tbk := brokerWithAdmin(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := b.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from := st.Leader("t", 0)
	if err := b.MoveLeader(ctx, "t", 0, 1-from); err != nil {
		t.Fatal(err)
	}
	if got, _ := tbk.LeaderFor("t", 0); got != 1-from {
		t.Errorf("leader %d after MoveLeader, want %d", got, 1-from)
	}
	err = b.MoveLeader(ctx, "t", 0, 7)
	if !errors.Is(err, ErrAdmin) || !strings.Contains(err.Error(), "unknown node 7") {
		t.Errorf("move to a missing node: %v, want ErrAdmin with the broker's message", err)
	}
	if err := b.PauseNode(ctx, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.State(ctx); st.Nodes[0].PausedUntil == nil {
		t.Error("node 0 not paused")
	}
	if err := b.ResumeNode(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.waitHealthy(ctx); err != nil {
		t.Errorf("waitHealthy: %v", err)
	}

	// A removed node comes back under its id on the port of its id: what the
	// chaos suite's node removal heals with.
	if err := b.RemoveNode(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.State(ctx); len(st.Nodes) != 1 {
		t.Fatalf("nodes after RemoveNode: %+v", st.Nodes)
	}
	port := strconv.Itoa(FirstKafkaPort + 1)
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Logf("port %s in use here; AddNode not exercised: %v", port, err)
		return
	}
	_ = ln.Close()
	if err := b.AddNode(ctx, 1); err != nil {
		t.Fatal(err)
	}
	st, err = b.State(ctx)
	if err != nil || len(st.Nodes) != 2 {
		t.Fatalf("nodes after AddNode: %+v (%v)", st.Nodes, err)
	}
	var found bool
	for _, n := range st.Nodes {
		found = found || n.ID == 1 && strconv.Itoa(n.Port) == port
	}
	if !found {
		t.Errorf("node 1 not back on port %s: %+v", port, st.Nodes)
	}
}

func TestWaitHealthyGivesUp(t *testing.T) {
	b := &Broker{Container: &Container{}, Spec: BrokerSpec{Name: "x"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.admin = "http://" + ln.Addr().String()
	_ = ln.Close() // nothing answers there
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := b.waitHealthy(ctx); err == nil || !strings.Contains(err.Error(), "not reachable") {
		t.Errorf("waitHealthy = %v, want a reachability error", err)
	}
}

func TestParseResults(t *testing.T) {
	logs := strings.Join([]string{
		`{"target":"a:1","mode":"tcp","ok":true,"elapsed_ms":1}`,
		`airlock-probe: some warning`,
		`{"target":"b:2","mode":"tcp","ok":false,"error":"refused","elapsed_ms":0}`,
		`{"not":"a result"}`,
	}, "\n")
	rs := parseResults(logs)
	if len(rs) != 2 || !rs[0].OK || rs[1].OK || rs[1].Error != "refused" {
		t.Fatalf("parsed %+v", rs)
	}
	run := ProbeRun{Results: rs}
	if r, ok := run.Result("b:2"); !ok || r.OK {
		t.Errorf("Result(b:2) = %+v, %v", r, ok)
	}
	if _, ok := run.Result("c:3"); ok {
		t.Error("Result found a target that was not probed")
	}
}

func TestNames(t *testing.T) {
	tb := &Testbed{run: "abcd1234", name: "iso-p1"}
	if got := tb.prefix(); got != "airlock-e2e-abcd1234-iso-p1" {
		t.Errorf("prefix %q", got)
	}
	if !nameRE.MatchString(NewRunID()) {
		t.Error("NewRunID does not match the name rule")
	}
	if ids := []string{NewRunID(), NewRunID()}; ids[0] == ids[1] {
		t.Errorf("two run ids are equal: %v", ids)
	}
	if (Images{}).withDefaults() != DefaultImages() {
		t.Error("empty Images does not default")
	}
	if (Images{TestBroker: "x"}).withDefaults().TestBroker != "x" {
		t.Error("withDefaults overrode a set image")
	}
}

func TestProcessAlive(t *testing.T) {
	if !processAlive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start a child:", err)
	}
	pid := cmd.Process.Pid
	// Until waited for, the exited child is a zombie: it must count as gone.
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if processAlive(pid) {
		t.Errorf("exited child %d (a zombie) counts as alive", pid)
	}
	_ = cmd.Wait()
	if processAlive(pid) {
		t.Errorf("reaped child %d counts as alive", pid)
	}
}
