package probe

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/internal/testbroker"
)

func TestMetadataMode(t *testing.T) {
	tests := []struct {
		name    string
		version string
		// advertise is the host the nodes advertise; 127.0.0.2 is loopback but
		// nothing listens there, so those addresses are handed out unserved.
		advertise string
		wantAPIs  []string
		ok        bool
	}{
		{
			name: "newest", advertise: "127.0.0.1", ok: true,
			wantAPIs: []string{"Metadata", "FindCoordinator(group)", "FindCoordinator(transaction)", "DescribeCluster"},
		},
		{
			name: "2.0 has no DescribeCluster", version: "2.0", advertise: "127.0.0.1", ok: true,
			wantAPIs: []string{"Metadata", "FindCoordinator(group)", "FindCoordinator(transaction)"},
		},
		{
			name: "0.11 answers FindCoordinator v1 at the top level", version: "0.11", advertise: "127.0.0.1", ok: true,
			wantAPIs: []string{"Metadata", "FindCoordinator(group)", "FindCoordinator(transaction)"},
		},
		{
			name: "unserved addresses", advertise: "127.0.0.2", ok: false,
			wantAPIs: []string{"Metadata", "FindCoordinator(group)", "FindCoordinator(transaction)", "DescribeCluster"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []testbroker.Option{testbroker.WithListenHost("127.0.0.1"), testbroker.WithAdvertiseHost(tt.advertise), testbroker.WithNodes(2)}
			if tt.version != "" {
				opts = append(opts, testbroker.WithKafkaVersion(tt.version))
			}
			b, err := testbroker.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Close)
			// Dial the node itself even when it advertises elsewhere.
			_, port, _ := net.SplitHostPort(b.Addrs()[0])
			target := net.JoinHostPort("127.0.0.1", port)

			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			rs, err := Run(ctx, []string{target}, WithMode(Metadata), WithTimeout(3*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.OK != tt.ok {
				t.Fatalf("ok = %v (%s), want %v", r.OK, r.Error, tt.ok)
			}
			var apis []string
			for _, ep := range r.Endpoints {
				if !slices.Contains(apis, ep.API) {
					apis = append(apis, ep.API)
				}
				if !slices.Contains(b.Addrs(), ep.Addr) {
					t.Errorf("%s handed out %s, the broker advertises %v", ep.API, ep.Addr, b.Addrs())
				}
				if ep.Reachable != tt.ok || (ep.Error == "") != tt.ok {
					t.Errorf("endpoint %+v: reachable %v, want %v", ep, ep.Reachable, tt.ok)
				}
			}
			if !slices.Equal(apis, tt.wantAPIs) {
				t.Errorf("APIs %v, want %v", apis, tt.wantAPIs)
			}
			md := 0
			for _, ep := range r.Endpoints {
				if ep.API == "Metadata" {
					md++
				}
			}
			if md != 2 {
				t.Errorf("Metadata named %d brokers, want 2: %+v", md, r.Endpoints)
			}
			if !tt.ok && !strings.Contains(r.Error, ErrUnreachable.Error()) {
				t.Errorf("error %q, want %q", r.Error, ErrUnreachable)
			}
		})
	}
}
