package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/airlock-kafka/airlock/certgen"
	"github.com/airlock-kafka/airlock/proxy/auth"
)

// pki is an in-memory CA with a broker and a proxy certificate.
type pki struct {
	ca     *certgen.CA
	broker *certgen.Cert
	proxy  *certgen.Cert
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := certgen.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string, u certgen.Usage) *certgen.Cert {
		c, err := ca.Issue(name, u)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return &pki{ca: ca, broker: issue("broker", certgen.ServerUsage), proxy: issue("proxy", certgen.ServerUsage)}
}

// usersFile writes a users file with a PLAIN and a SCRAM-SHA-512 user.
func usersFile(t *testing.T) string {
	t.Helper()
	hash, err := auth.HashPlainCost("alice-secret", 4)
	if err != nil {
		t.Fatal(err)
	}
	l1, err := auth.FormatPlainLine("alice", hash)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := auth.NewSCRAMCredential("SCRAM-SHA-512", "bob-secret", 4096)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := auth.FormatSCRAMLine("bob", "SCRAM-SHA-512", cred)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(l1+"\n"+l2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func localAuth(t *testing.T) *auth.Authenticator {
	t.Helper()
	uf, err := auth.OpenUsersFile(usersFile(t))
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.NewAuthenticator(uf)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestTLSAndSASLBothSides: the broker speaks TLS and SCRAM only; the proxy
// originates both, terminates TLS towards clients and authenticates them itself.
func TestTLSAndSASLBothSides(t *testing.T) {
	k := newPKI(t)
	c := newCluster(t,
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{k.broker.TLS}}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "proxy", "proxy-secret"),
		kfake.SeedTopics(2, "secure"))
	var reached atomic.Int32
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		reached.Add(1)
		return nil, nil, false
	})
	c.KeepControl()
	tp := startProxy(t, c,
		UpstreamTLS(&tls.Config{RootCAs: k.ca.Pool(), ServerName: "broker"}),
		UpstreamSASL(scram.Auth{User: "proxy", Pass: "proxy-secret"}.AsSha256Mechanism()),
		ClientTLS(&tls.Config{Certificates: []tls.Certificate{k.proxy.TLS}}),
		LocalSASL(localAuth(t)),
	)
	clientTLS := &tls.Config{RootCAs: k.ca.Pool(), ServerName: "proxy"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, tc := range []struct {
		name string
		opt  kgo.Opt
	}{
		{"PLAIN", kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism())},
		{"SCRAM-SHA-512", kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(tp.BootstrapAddrs()...), kgo.DialTLSConfig(clientTLS), tc.opt,
				kgo.DefaultProduceTopic("secure"), kgo.ConsumeTopics("secure"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			for i := range 20 {
				if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(tc.name + strconv.Itoa(i))}).FirstErr(); err != nil {
					t.Fatalf("produce through TLS+SASL proxy: %v", err)
				}
			}
			seen := 0
			for seen < 20 {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("consumed %d", seen)
				}
				fs.EachRecord(func(r *kgo.Record) {
					if len(r.Value) >= len(tc.name) && string(r.Value[:len(tc.name)]) == tc.name {
						seen++
					}
				})
			}
		})
	}

	t.Run("wrong password reaches no broker", func(t *testing.T) {
		before := reached.Load()
		cl, err := kgo.NewClient(kgo.SeedBrokers(tp.BootstrapAddrs()...), kgo.DialTLSConfig(clientTLS),
			kgo.SASL(plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		err = cl.Ping(ctx)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("want SASL_AUTHENTICATION_FAILED, got %v", err)
		}
		eventually(t, 5*time.Second, "auth failure counted", func() bool {
			return sumMetric(t, tp, "proxy_client_auth_failures_total") >= 1
		})
		// The proxy's own ApiVersions probe may reach the broker; client traffic may not.
		if d := reached.Load() - before; d > 1 {
			t.Fatalf("broker saw %d requests during a failed client login", d)
		}
	})
}

// TestUpstreamReauthentication: the broker sets a 1 s session lifetime (KIP-368);
// the proxy renews it on the live connection and client traffic never fails.
func TestUpstreamReauthentication(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "proxy", "proxy-secret"),
		kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": "1000"}),
		kfake.SeedTopics(1, "reauth"))
	var handshakes atomic.Int32
	c.ControlKey(17, func(kmsg.Request) (kmsg.Response, error, bool) {
		handshakes.Add(1)
		return nil, nil, false
	})
	c.KeepControl()
	tp := startProxy(t, c, UpstreamSASL(plain.Auth{User: "proxy", Pass: "proxy-secret"}.AsMechanism()))
	cl := tp.client(t, &recorder{}, kgo.DefaultProduceTopic("reauth"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := handshakes.Load()
	// Produce for a bounded number of rounds spanning several session lifetimes;
	// every produce must succeed on the renewed sessions.
	deadline := time.Now().Add(4 * time.Second)
	for i := 0; i < 400 && time.Now().Before(deadline); i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d across re-authentication: %v", i, err)
		}
		time.Sleep(20 * time.Millisecond) // pace the producer so the test spans lifetimes
	}
	if got := sumMetric(t, tp, "proxy_upstream_reauthentications_total"); got < 2 {
		t.Fatalf("want at least 2 re-authentications in 4 s with a 1 s lifetime, got %v", got)
	}
	if handshakes.Load()-start < 2 {
		t.Fatalf("broker saw %d new SASL handshakes", handshakes.Load()-start)
	}
	if got := sumMetric(t, tp, "proxy_errors_total"); got != 0 {
		t.Fatalf("connection errors during re-authentication: %v", got)
	}
}
