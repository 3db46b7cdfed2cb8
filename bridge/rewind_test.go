package bridge_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestSourceLeaderMovesCopyOnce: partition leaders of a 3-node source move
// while the bridge copies. franz-go's consumer may then believe records were
// lost (KIP-320 truncation detection) and reset a partition to an earlier
// offset; the bridge must not copy those records a second time.
func TestSourceLeaderMovesCopyOnce(t *testing.T) {
	e := newEnvOpts(t, map[string]int32{"orders": 4}, "copy.", []kfake.Opt{kfake.NumBrokers(3)})
	r := start(t, e.opts("moves")...)
	for range 6 {
		e.produce(40)
		// Let the bridge consume under the current leaders (epoch) before
		// they move.
		e.waitCommitted("moves", e.source(), nil, 30*time.Second)
		e.src.ShufflePartitionLeaders()
	}
	e.produce(40)
	src := e.source()
	e.waitCommitted("moves", src, nil, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.verify(src, nil) // fails on duplicates, losses or disorder
}
