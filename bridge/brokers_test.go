package bridge_test

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airlock-kafka/airlock/bridge"
)

// lockedBuffer is a log sink the bridge's goroutines can share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBrokerAddressesRecorded: every broker address the bridge connects to is
// counted by cluster and logged once, and they are exactly the clusters'
// listeners: what the chaos suite's proxy-addresses-only invariant reads.
func TestBrokerAddressesRecorded(t *testing.T) {
	e := newEnv(t, map[string]int32{"orders": 3}, "copy.")
	e.produce(50)
	src := e.source()
	reg := prometheus.NewRegistry()
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r := start(t, e.opts("addrs", bridge.WithRegistry(reg), bridge.WithLogger(log))...)
	e.waitCommitted("addrs", src, nil, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{} // cluster -> brokers with a successful connect
	for _, mf := range mfs {
		if mf.GetName() != "airlock_bridge_broker_connects_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["result"] == "ok" && m.GetCounter().GetValue() > 0 {
				got[l["cluster"]] = append(got[l["cluster"]], l["broker"])
			}
		}
	}
	for cluster, want := range map[string][]string{"source": e.src.ListenAddrs(), "target": e.dst.ListenAddrs()} {
		slices.Sort(want)
		have := slices.Compact(slices.Sorted(slices.Values(got[cluster])))
		if !slices.Equal(have, want) {
			t.Errorf("%s: connected to %v, want the cluster's listeners %v", cluster, have, want)
		}
		for _, addr := range want {
			line := "cluster=" + cluster + " addr=" + addr
			if n := strings.Count(logs.String(), line); n != 1 {
				t.Errorf("%q logged %d times with %q, want once", bridge.MsgBrokerAddress, n, line)
			}
		}
	}
}
