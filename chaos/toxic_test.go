package chaos

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxyserver "github.com/Shopify/toxiproxy/v2"
	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/rs/zerolog"
)

// toxiEnv is an in-process toxiproxy with proxies in front of a TCP echo.
type toxiEnv struct {
	client  *toxiproxy.Client
	proxies map[string]string // name -> listen address
}

// startToxiproxy starts toxiproxy's API on an httptest server and one proxy
// per name, each forwarding to a tiny echo server.
func startToxiproxy(t *testing.T, names ...string) *toxiEnv {
	t.Helper()
	echo := startEcho(t)
	srv := toxiproxyserver.NewServer(toxiproxyserver.NewMetricsContainer(nil), zerolog.Nop())
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() {
		api.Close()
		_ = srv.Collection.Clear() // closes the proxies' listeners and links
	})
	env := &toxiEnv{client: toxiproxy.NewClient(api.URL), proxies: map[string]string{}}
	for _, n := range names {
		p, err := env.client.CreateProxy(n, "127.0.0.1:0", echo)
		if err != nil {
			t.Fatalf("create proxy %s: %v", n, err)
		}
		env.proxies[n] = p.Listen
	}
	return env
}

// startEcho serves TCP echo on 127.0.0.1 until the test ends.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
				_ = c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func (e *toxiEnv) targets() *fakeTargets {
	topo := testTopology()
	topo.ToxiproxyProxies = map[Side][]string{Source: {"src-0", "src-1"}, Target: {"tgt-0"}}
	return &fakeTargets{topo: topo, toxics: e.client}
}

func (e *toxiEnv) toxics(t *testing.T, proxy string) toxiproxy.Toxics {
	t.Helper()
	p, err := e.client.Proxy(proxy)
	if err != nil {
		t.Fatalf("proxy %s: %v", proxy, err)
	}
	return p.ActiveToxics
}

// dial connects through a proxy with a deadline on every read and write, so
// no test can hang on a blackhole.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// roundTrip writes msg and reads it back.
func roundTrip(t *testing.T, addr, msg string) {
	t.Helper()
	c := dial(t, addr)
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("echo through %s: %v", addr, err)
	}
	if string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
}

// attrs converts attributes to what toxiproxy's JSON gives back (numbers
// as float64).
func attrs(a toxiproxy.Attributes) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		switch n := v.(type) {
		case int:
			out[k] = float64(n)
		case int64:
			out[k] = float64(n)
		case float64:
			out[k] = n
		}
	}
	return out
}

func TestToxicsAsSentToToxiproxy(t *testing.T) {
	env := startToxiproxy(t, "src-0", "src-1", "tgt-0")
	tests := []struct {
		name  string
		toxic Toxic
		want  map[string]float64
		// effect, when set, checks the toxic's effect on a fresh connection
		// through src-0 while it is applied.
		effect func(t *testing.T, addr string)
	}{
		{name: "latency", toxic: Latency(Downstream, 400*time.Millisecond, 100*time.Millisecond),
			want: map[string]float64{"latency": 400, "jitter": 100}},
		{name: "latency upstream", toxic: Latency(Upstream, time.Second, 0),
			want: map[string]float64{"latency": 1000, "jitter": 0}},
		{name: "bandwidth", toxic: Bandwidth(Upstream, 16), want: map[string]float64{"rate": 16}},
		{name: "blackhole", toxic: Timeout(Downstream, 0), want: map[string]float64{"timeout": 0},
			effect: func(t *testing.T, addr string) {
				c := dial(t, addr)
				if _, err := c.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				// Nothing comes back and nothing closes: the read can only
				// end by its deadline.
				_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				n, err := c.Read(make([]byte, 4))
				var ne net.Error
				if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("read through a blackhole = %d bytes, %v; want a timeout with nothing read", n, err)
				}
			}},
		{name: "timeout", toxic: Timeout(Upstream, 1500*time.Millisecond), want: map[string]float64{"timeout": 1500}},
		{name: "reset_peer", toxic: ResetPeer(Downstream, 0), want: map[string]float64{"timeout": 0},
			effect: func(t *testing.T, addr string) {
				c := dial(t, addr)
				if _, err := c.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				// The echo's answer is dropped and the connection reset.
				got, err := io.ReadAll(c)
				if len(got) != 0 {
					t.Errorf("read after reset_peer = %q, %v; want nothing", got, err)
				}
			}},
		{name: "slicer", toxic: Slicer(Downstream, 64, 32, 500*time.Microsecond),
			want: map[string]float64{"average_size": 64, "size_variation": 32, "delay": 500}},
		{name: "limit_data", toxic: LimitData(Downstream, 4), want: map[string]float64{"bytes": 4},
			effect: func(t *testing.T, addr string) {
				c := dial(t, addr)
				if _, err := c.Write([]byte("hello world")); err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(c) // ends with EOF or a reset once the limit is hit
				if string(got) != "hell" {
					t.Errorf("read through limit_data 4 = %q, want %q", got, "hell")
				}
			}},
		{name: "slow_close", toxic: SlowClose(Downstream, 2*time.Second), want: map[string]float64{"delay": 2000}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			spec := ToxicSpec{Side: Source, Node: All, Toxic: tc.toxic}
			f, err := spec.Build(env.targets(), "w"+string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Apply(ctx); err != nil {
				t.Fatalf("apply: %v", err)
			}
			for _, p := range []string{"src-0", "src-1"} {
				got := env.toxics(t, p)
				if len(got) != 1 {
					t.Fatalf("%s has %d toxics, want 1: %+v", p, len(got), got)
				}
				tx := got[0]
				if tx.Type != tc.toxic.Type || tx.Stream != string(tc.toxic.Stream) || tx.Toxicity != 1 {
					t.Errorf("%s: toxic %s stream %s toxicity %v; want %s %s 1", p, tx.Type, tx.Stream, tx.Toxicity, tc.toxic.Type, tc.toxic.Stream)
				}
				if !strings.HasPrefix(tx.Name, "chaos-") {
					t.Errorf("%s: toxic name %q", p, tx.Name)
				}
				if a := attrs(tx.Attributes); !reflect.DeepEqual(a, tc.want) {
					t.Errorf("%s: attributes %v, want %v", p, a, tc.want)
				}
			}
			if n := len(env.toxics(t, "tgt-0")); n != 0 {
				t.Errorf("the target proxy got %d toxics from a source fault", n)
			}
			if tc.effect != nil {
				tc.effect(t, env.proxies["src-0"])
			}
			if err := f.Heal(ctx); err != nil {
				t.Fatalf("heal: %v", err)
			}
			for _, p := range []string{"src-0", "src-1"} {
				if got := env.toxics(t, p); len(got) != 0 {
					t.Errorf("%s still has toxics after heal: %+v", p, got)
				}
			}
			roundTrip(t, env.proxies["src-0"], "after heal")
			// Healing what is healed is fine: cleanup may race a reset.
			if err := f.Heal(ctx); err != nil {
				t.Errorf("second heal: %v", err)
			}
		})
	}
}

func TestProxyDown(t *testing.T) {
	env := startToxiproxy(t, "src-0", "src-1", "tgt-0")
	ctx := context.Background()
	f, err := ProxyDownSpec{Side: Target, Node: 0}.Build(env.targets(), "w01")
	if err != nil {
		t.Fatal(err)
	}
	addr := env.proxies["tgt-0"]
	roundTrip(t, addr, "before")
	if err := f.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
	p, err := env.client.Proxy("tgt-0")
	if err != nil || p.Enabled {
		t.Fatalf("proxy after apply: enabled=%v err=%v", p != nil && p.Enabled, err)
	}
	if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		_ = c.Close()
		t.Errorf("dial %s succeeded with the proxy down", addr)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatalf("heal: %v", err)
	}
	roundTrip(t, addr, "after")
}

func TestToxicGroupRollsBack(t *testing.T) {
	env := startToxiproxy(t, "src-0")
	tg := env.targets() // names src-0 and src-1; src-1 does not exist here
	f, err := ToxicSpec{Side: Source, Node: All, Toxic: Latency(Downstream, time.Second, 0)}.Build(tg, "w01")
	if err != nil {
		t.Fatal(err)
	}
	err = f.Apply(context.Background())
	if err == nil || !strings.Contains(err.Error(), "src-1") {
		t.Fatalf("apply = %v, want an error naming src-1", err)
	}
	if got := env.toxics(t, "src-0"); len(got) != 0 {
		t.Errorf("src-0 kept its toxic after the group failed: %+v", got)
	}
}

func TestToxicFaultChecksContext(t *testing.T) {
	env := startToxiproxy(t, "src-0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := ToxicFault(env.client, "src-0", "t", Latency(Downstream, time.Second, 0))
	if err := f.Apply(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("apply with a cancelled context = %v", err)
	}
	if got := env.toxics(t, "src-0"); len(got) != 0 {
		t.Errorf("toxic added despite the cancelled context: %+v", got)
	}
}
