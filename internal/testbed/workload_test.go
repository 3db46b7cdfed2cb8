package testbed

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestProducerSpec(t *testing.T) {
	s := &Secrets{Dir: "/tmp/x", User: "bridge", Password: "pw"}
	tests := []struct {
		name    string
		spec    ProducerSpec
		wantErr bool
		want    []string // flag, value pairs that must appear in order
		absent  []string
	}{
		{"plain", ProducerSpec{Topic: "t", Events: 10}, false,
			[]string{"--brokers", "a:1,b:2", "--topic", "t", "--events", "10", "--ledger", LedgerPath, "--tls-cert-file", "/secrets/producer.crt"},
			[]string{"--transactional-id", "--rate"}},
		{"transactional", ProducerSpec{Topic: "t", Events: 10, Rate: 2.5, TransactionalID: "x", TxnSize: 5, AbortFraction: 0.2}, false,
			[]string{"--rate", "2.5", "--transactional-id", "x", "--abort-fraction", "0.2", "--txn-size", "5"}, nil},
		{"args win by coming last", ProducerSpec{Topic: "t", Events: 10, Args: []string{"--topic", "u"}}, false,
			[]string{"--topic", "u"}, nil},
		{"no topic", ProducerSpec{Events: 1}, true, nil, nil},
		{"no events", ProducerSpec{Topic: "t"}, true, nil, nil},
		{"abort without transactions", ProducerSpec{Topic: "t", Events: 1, AbortFraction: 0.1}, true, nil, nil},
		{"abort fraction above 1", ProducerSpec{Topic: "t", Events: 1, TransactionalID: "x", AbortFraction: 2}, true, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.validate()
			if tt.wantErr {
				if !errors.Is(err, ErrBadSpec) {
					t.Fatalf("validate = %v, want ErrBadSpec", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			cmd := tt.spec.cmd([]string{"a:1", "b:2"}, s)
			joined := strings.Join(cmd, " ")
			for i := 0; i+1 < len(tt.want); i += 2 {
				// The last occurrence counts: Go's flag package keeps the last value.
				at := -1
				for j := len(cmd) - 1; j >= 0; j-- {
					if cmd[j] == tt.want[i] {
						at = j
						break
					}
				}
				if at < 0 || at+1 >= len(cmd) || cmd[at+1] != tt.want[i+1] {
					t.Errorf("%s %s not in %q", tt.want[i], tt.want[i+1], joined)
				}
			}
			for _, f := range tt.absent {
				if slices.Contains(cmd, f) {
					t.Errorf("%s in %q", f, joined)
				}
			}
		})
	}
}

// The workload starters need a started topology; without one they must say
// so, before touching docker.
func TestWorkloadsNeedTopology(t *testing.T) {
	tb := &Testbed{sides: map[Zone]*Side{}}
	ctx := context.Background()
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"producer", func() error { _, err := tb.StartProducer(ctx, ProducerSpec{Topic: "t", Events: 1}); return err }, ErrNoTopology},
		{"producer bad spec first", func() error { _, err := tb.StartProducer(ctx, ProducerSpec{}); return err }, ErrBadSpec},
		{"consumer", func() error { _, err := tb.RunConsumer(ctx, ConsumerSpec{Topics: []string{"t"}}); return err }, ErrNoTopology},
		{"bridge", func() error { _, err := tb.StartBridge(ctx, BridgeSpec{Topics: []string{"t"}}); return err }, ErrNoTopology},
		{"lag meter", func() error { _, err := tb.NewLagMeter(&BridgeInstance{Name: "b"}, "t"); return err }, ErrNoTopology},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBridgeInstanceNames(t *testing.T) {
	b := &BridgeInstance{Name: "demo", prefix: DefaultTargetPrefix}
	if got, want := b.OffsetsGroup(), "airlock-bridge.demo"; got != want {
		t.Errorf("OffsetsGroup = %q, want %q", got, want)
	}
	if got, want := b.TargetTopic("events"), "source.events"; got != want {
		t.Errorf("TargetTopic = %q, want %q", got, want)
	}
}
