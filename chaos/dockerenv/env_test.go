package dockerenv

import (
	"errors"
	"slices"
	"testing"

	"github.com/airlock-kafka/airlock/chaos"
)

func TestParseProgress(t *testing.T) {
	for _, tc := range []struct {
		name string
		logs string
		want chaos.Progress
		ok   bool
	}{
		{"none", "level=INFO msg=producing producer=p-1\n", chaos.Progress{}, false},
		{"last progress wins", "time=x level=INFO msg=progress producer=p-1 events=10 acked=8 aborted=0\n" +
			"time=y level=INFO msg=progress producer=p-1 events=25 acked=20 aborted=2\n", chaos.Progress{Produced: 25, Acked: 20}, true},
		{"summary after progress", "level=INFO msg=progress producer=p events=25 acked=20\n" +
			"level=INFO msg=summary producer=p topic=t events=30 acked=28 aborted=2\n", chaos.Progress{Produced: 30, Acked: 28}, true},
		{"other lines with events ignored", "level=INFO msg=progress producer=p events=5 acked=5\nlevel=WARN msg=retry events=99 acked=99\n",
			chaos.Progress{Produced: 5, Acked: 5}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseProgress(tc.logs)
			if ok != tc.ok || got != tc.want {
				t.Errorf("parseProgress = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseAddresses(t *testing.T) {
	logs := `time=a level=INFO msg="dialled a new broker address" bridge=chaos cluster=source addr=source-toxi:19092 node=-2147483648
time=b level=INFO msg="task copying" partitions=6 addr=not-this:1
time=c level=INFO msg="dialled a new broker address" bridge=chaos cluster=target addr="target-toxi:29093" node=1
`
	got := parseAddresses(logs)
	want := []string{"source-toxi:19092", "target-toxi:29093"}
	if !slices.Equal(got, want) {
		t.Errorf("parseAddresses = %v, want %v", got, want)
	}
}

func TestTopologySpec(t *testing.T) {
	spec, err := topologySpec(chaos.Needs{SourceNodes: 3, TargetNodes: 2, Persistent: true, Partitions: 4}, "3.9")
	if err != nil {
		t.Fatal(err)
	}
	if s := spec.Source; s.Nodes != 3 || !s.Persistent || s.Version != "3.9" || !slices.Equal(s.SeedTopics, []string{Topic + ":4"}) {
		t.Errorf("source %+v", s)
	}
	if d := spec.Target; d.Nodes != 2 || !d.Persistent || len(d.SeedTopics) != 0 {
		t.Errorf("target %+v", d)
	}
	if _, err := topologySpec(chaos.Needs{ProxiesPerSide: 2}, ""); !errors.Is(err, chaos.ErrUnsupported) {
		t.Errorf("two proxies per side: err %v, want ErrUnsupported", err)
	}
}
