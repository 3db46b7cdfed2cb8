package probe

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/internal/testbroker"
)

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// silentAddr accepts TCP connections and closes them: an open port that is no Kafka.
func silentAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestRun(t *testing.T) {
	b, err := testbroker.New(testbroker.WithListenHost("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	kafka, closed, silent := b.Addrs()[0], closedAddr(t), silentAddr(t)

	tests := []struct {
		name   string
		mode   Mode
		target string
		ok     bool
	}{
		{"tcp to a broker", TCP, kafka, true},
		{"tcp to a closed port", TCP, closed, false},
		{"tcp to an open non-kafka port", TCP, silent, true},
		{"kafka to a broker", Kafka, kafka, true},
		{"kafka to a closed port", Kafka, closed, false},
		{"kafka to an open non-kafka port", Kafka, silent, false},
		{"tcp to an unresolvable name", TCP, "nowhere.invalid:9092", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			rs, err := Run(ctx, []string{tt.target}, WithMode(tt.mode), WithTimeout(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || rs[0].Target != tt.target || rs[0].Mode != tt.mode {
				t.Fatalf("results %+v", rs)
			}
			if rs[0].OK != tt.ok {
				t.Errorf("ok = %v (%s), want %v", rs[0].OK, rs[0].Error, tt.ok)
			}
			if !tt.ok && rs[0].Error == "" {
				t.Error("a failed probe carries no error")
			}
			if AllOK(rs) != tt.ok {
				t.Error("AllOK disagrees with the result")
			}
		})
	}
}

func TestRunUnknownMode(t *testing.T) {
	if _, err := Run(t.Context(), []string{"x:1"}, WithMode("udp")); !errors.Is(err, ErrUnknownMode) {
		t.Fatalf("err = %v, want ErrUnknownMode", err)
	}
}
