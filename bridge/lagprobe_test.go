package bridge_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airlock-kafka/airlock/bridge"
)

// TestSourceStaleness: while the source answers, the end-offset probe keeps
// source_staleness_seconds low even when no record flows; once the source is
// gone the gauge grows, so an operator can tell a lag of 0 from a lag nobody
// can see.
func TestSourceStaleness(t *testing.T) {
	e := newEnv(t, map[string]int32{"s": 1}, "")
	e.produce(20)
	reg := prometheus.NewRegistry()
	r := start(t, e.opts("stale", bridge.Tasks(1), bridge.WithRegistry(reg), bridge.LagProbeInterval(100*time.Millisecond))...)
	e.waitCommitted("stale", e.source(), nil, 30*time.Second)
	staleness := func() float64 { return gaugeValue(t, reg, "airlock_bridge_source_staleness_seconds") }

	// Idle for two seconds: no fetch returns the partition, the probe
	// still hears from the source.
	sample := time.NewTicker(100 * time.Millisecond)
	defer sample.Stop()
	for idle := time.After(2 * time.Second); ; {
		if s := staleness(); s > 1 {
			t.Fatalf("source staleness %.1fs while the source answers the probe", s)
		}
		select {
		case <-sample.C:
			continue
		case <-idle:
		}
		break
	}

	e.src.Close()
	eventually(t, 30*time.Second, "staleness to grow after the source is gone", func() (bool, string) {
		s := staleness()
		return s >= 2, "staleness " + time.Duration(s*float64(time.Second)).String()
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}
