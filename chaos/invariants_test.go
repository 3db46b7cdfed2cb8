package chaos

import (
	"strings"
	"testing"
	"time"
)

func cleanCheck() *CheckResult {
	c := &CheckResult{OK: true, Stats: CheckStats{Acked: 100, AckedSeen: 100, Records: 100, DistinctEvents: 100}}
	for _, name := range []string{ClassLost, ClassDuplicate, ClassAbortedRead, ClassUnexpected, ClassOrderPartition,
		ClassOrderKey, ClassUndecodable, ClassInconsistent, ClassProvenance} {
		c.Classes = append(c.Classes, ClassResult{Class: name})
	}
	return c
}

func withClass(c *CheckResult, class string, count int, examples ...CheckExample) *CheckResult {
	for i := range c.Classes {
		if c.Classes[i].Class == class {
			c.Classes[i].Count, c.Classes[i].Examples = count, examples
		}
	}
	c.OK = false
	return c
}

func goodEvidence() Evidence {
	return Evidence{
		Check:         cleanCheck(),
		Addresses:     []string{"source-toxi:19092", "target-toxi:29092", "source-toxi:19092"},
		Allowed:       []string{"source-toxi:19092", "target-toxi:29092"},
		Lag:           secs(0, 0, 10, 40, 20, 0, 21, 0),
		LastHeal:      15 * time.Second,
		RecoveryBound: 10 * time.Second,
		CaughtUpLag:   0,
		Fenced:        1,
	}
}

func TestEvaluate(t *testing.T) {
	all := append(DefaultInvariants(), ZombieFenced)
	tests := []struct {
		name   string
		mutate func(*Evidence)
		// fail are the invariants that must fail; all others must pass.
		fail []Invariant
		// detail is a fragment of the first failure's detail or examples.
		detail string
	}{
		{name: "clean", mutate: func(*Evidence) {}},
		{name: "lost", mutate: func(e *Evidence) {
			withClass(e.Check, ClassLost, 7, CheckExample{Event: "p-1/3", Key: "key-3", Where: []string{"orders/0@12"}, Detail: "acked at orders/0@12, never seen"})
		}, fail: []Invariant{NoLoss}, detail: "lost: p-1/3 key=key-3 at orders/0@12 - acked at orders/0@12, never seen"},
		{name: "duplicates", mutate: func(e *Evidence) {
			withClass(e.Check, ClassDuplicate, 2, CheckExample{Event: "p-1/9", Detail: "seen 2 times"})
		}, fail: []Invariant{NoDuplicates}, detail: "duplicate: ... and 1 more"},
		{name: "aborted read", mutate: func(e *Evidence) { withClass(e.Check, ClassAbortedRead, 1) }, fail: []Invariant{NoAbortedReads}, detail: "1 aborted_read"},
		{name: "partition order counts as order", mutate: func(e *Evidence) { withClass(e.Check, ClassOrderPartition, 1) }, fail: []Invariant{KeyOrder}},
		{name: "checker error", mutate: func(e *Evidence) { e.Check.Errors = []string{"ledger names p-1/1 twice"} }, fail: []Invariant{CleanCheck}, detail: "error: ledger names p-1/1 twice"},
		{name: "no check", mutate: func(e *Evidence) { e.Check = nil },
			fail: []Invariant{NoLoss, NoDuplicates, NoAbortedReads, KeyOrder, CleanCheck}, detail: "did not run"},
		{name: "real broker address", mutate: func(e *Evidence) { e.Addresses = append(e.Addresses, "source-kafka:9092") },
			fail: []Invariant{ProxyAddressesOnly}, detail: "source-kafka:9092"},
		{name: "no addresses", mutate: func(e *Evidence) { e.Addresses = nil }, fail: []Invariant{ProxyAddressesOnly}, detail: "no addresses"},
		{name: "no allowed list", mutate: func(e *Evidence) { e.Allowed = nil }, fail: []Invariant{ProxyAddressesOnly}, detail: "named no proxy addresses"},
		{name: "slow recovery", mutate: func(e *Evidence) { e.RecoveryBound = 2 * time.Second }, fail: []Invariant{Recovery}, detail: "caught up 5s after"},
		{name: "never recovered", mutate: func(e *Evidence) { e.Lag = secs(0, 0, 20, 9) }, fail: []Invariant{Recovery}, detail: "not caught up: lag 9"},
		{name: "no lag samples", mutate: func(e *Evidence) { e.Lag = nil }, fail: []Invariant{Recovery}, detail: "no lag samples"},
		{name: "zombie not fenced", mutate: func(e *Evidence) { e.Fenced = 0 }, fail: []Invariant{ZombieFenced}, detail: "0 fenced"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := goodEvidence()
			tc.mutate(&ev)
			res := Evaluate(all, ev)
			if len(res) != len(all) {
				t.Fatalf("%d results for %d invariants", len(res), len(all))
			}
			var failed []Invariant
			var text []string
			for i, r := range res {
				if r.Invariant != all[i] {
					t.Errorf("result %d is %s, want %s", i, r.Invariant, all[i])
				}
				if r.Detail == "" {
					t.Errorf("%s: no detail", r.Invariant)
				}
				if !r.OK {
					failed = append(failed, r.Invariant)
					text = append(text, r.Detail)
					text = append(text, r.Examples...)
				}
			}
			if strings.Join(invStrings(failed), ",") != strings.Join(invStrings(tc.fail), ",") {
				t.Errorf("failed %v, want %v", failed, tc.fail)
			}
			if joined := strings.Join(text, "\n"); tc.detail != "" && !strings.Contains(joined, tc.detail) {
				t.Errorf("failure text %q lacks %q", joined, tc.detail)
			}
		})
	}
}

func invStrings(is []Invariant) []string {
	out := make([]string, len(is))
	for i, v := range is {
		out[i] = string(v)
	}
	return out
}
