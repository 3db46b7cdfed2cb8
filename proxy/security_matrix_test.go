package proxy

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"golang.org/x/sync/errgroup"

	"github.com/airlock-kafka/airlock/certgen"
	"github.com/airlock-kafka/airlock/internal/tlsutil"
	"github.com/airlock-kafka/airlock/proxy/auth"
)

// The security matrix of airlock-proxy: every way a client can reach the proxy
// (plaintext, TLS, mutual TLS, local SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512)
// against the ways the proxy reaches brokers (TLS, SASL PLAIN and SCRAM), and every
// way a client can fail to get in. A refused client must see the error Kafka clients
// understand, be counted by reason, and never get a single request to a broker.

// The proxy's own credentials at the brokers; clients never use them.
const (
	secUpstreamUser = "proxy"
	secUpstreamPass = "proxy-secret"
)

// Client principals of the local users file, one per mechanism so each login
// proves its own credential kind is checked.
var (
	secAlice = plain.Auth{User: "alice", Pass: "alice-secret"} // plain-bcrypt
	secBob   = scram.Auth{User: "bob", Pass: "bob-secret"}     // scram-sha-512
	secCarol = scram.Auth{User: "carol", Pass: "carol-secret"} // scram-sha-256
)

// secPKI is a CA with every certificate the security tests need. tlsutil serves
// only from files (it reloads them), so the proxy's certificate and the CA are
// written to a temporary directory.
type secPKI struct {
	ca        *certgen.CA
	broker    *certgen.Cert
	caFile    string
	proxyCert string
	proxyKey  string
	good      *certgen.Cert // CN=good-client: trusted and allowed
	other     *certgen.Cert // CN=other-client: trusted, subject not allowed
	expired   *certgen.Cert // CN=good-client, expired a day ago
	rogue     *certgen.Cert // CN=good-client, from a CA nobody trusts
}

// secAllowedSubject is the --client-tls-required-subject of mutual TLS proxies.
const secAllowedSubject = "CN=good-client,O=airlock"

func newSecPKI(t *testing.T) *secPKI {
	t.Helper()
	ca, err := certgen.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *certgen.CA, name string, u certgen.Usage, opts ...certgen.Opt) *certgen.Cert {
		t.Helper()
		c, err := ca.Issue(name, u, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rogueCA, err := certgen.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dayAgo := func() time.Time { return time.Now().Add(-48 * time.Hour) }
	k := &secPKI{
		ca:      ca,
		broker:  issue(ca, "broker", certgen.ServerUsage),
		good:    issue(ca, "good-client", certgen.ClientUsage),
		other:   issue(ca, "other-client", certgen.ClientUsage),
		expired: issue(ca, "good-client", certgen.ClientUsage, certgen.Clock(dayAgo), certgen.Validity(24*time.Hour)),
		rogue:   issue(rogueCA, "good-client", certgen.ClientUsage),
	}
	dir := t.TempDir()
	k.caFile = filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(k.caFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	// Clients dial the proxy's listeners by IP: the certificate must name it.
	proxy := issue(ca, "proxy", certgen.ServerUsage, certgen.ExtraSANs(proxyHost))
	k.proxyCert, k.proxyKey = filepath.Join(dir, "proxy.crt"), filepath.Join(dir, "proxy.key")
	if err := proxy.WriteFiles(k.proxyCert, k.proxyKey); err != nil {
		t.Fatal(err)
	}
	return k
}

// server returns the proxy's client-side TLS config; with mutual set, client
// certificates are required and their subject must be secAllowedSubject.
func (k *secPKI) server(t *testing.T, mutual bool) *tls.Config {
	t.Helper()
	f := tlsutil.ServerFiles{CertFile: k.proxyCert, KeyFile: k.proxyKey}
	if mutual {
		f.ClientCAFile, f.RequiredSubjects = k.caFile, []string{secAllowedSubject}
	}
	s, err := tlsutil.NewServer(f, tlsutil.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return s.Config()
}

// client returns a client TLS config trusting the CA, presenting cert if not nil.
// The certificate is presented whatever CAs the server names as acceptable: with
// Certificates, crypto/tls would quietly send none from an unknown CA, and the
// proxy would never see the untrusted certificate it must refuse.
func (k *secPKI) client(cert *certgen.Cert) *tls.Config {
	c := &tls.Config{RootCAs: k.ca.Pool()}
	if cert != nil {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	return c
}

// brokerTLS is the kfake option serving the broker certificate.
func (k *secPKI) brokerTLS() kfake.Opt {
	return kfake.TLS(&tls.Config{Certificates: []tls.Certificate{k.broker.TLS}})
}

// upstreamTLS is the proxy option trusting the broker certificate.
func (k *secPKI) upstreamTLS() Opt { return UpstreamTLS(&tls.Config{RootCAs: k.ca.Pool()}) }

// secUsersFile writes the users file of alice, bob and carol and returns its path.
func secUsersFile(t *testing.T) string {
	t.Helper()
	hash, err := auth.HashPlainCost(secAlice.Pass, 4) // bcrypt's minimum cost: fast tests
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{secLine(t)(auth.FormatPlainLine(secAlice.User, hash))}
	for _, u := range []struct {
		mech string
		a    scram.Auth
	}{{auth.MechanismSCRAMSHA512, secBob}, {auth.MechanismSCRAMSHA256, secCarol}} {
		cred, err := auth.NewSCRAMCredential(u.mech, u.a.Pass, auth.MinSCRAMIterations)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, secLine(t)(auth.FormatSCRAMLine(u.a.User, u.mech, cred)))
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// secLine unwraps a Format*Line result.
func secLine(t *testing.T) func(string, error) string {
	return func(l string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
}

// secAuthenticator authenticates against the users file of secUsersFile.
func secAuthenticator(t *testing.T, opts ...auth.Option) *auth.Authenticator {
	t.Helper()
	uf, err := auth.OpenUsersFile(secUsersFile(t))
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.NewAuthenticator(uf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// secProduceConsume produces n records to topic through tp and consumes them back
// with one client built from opts.
func secProduceConsume(t *testing.T, tp *testProxy, topic string, n int, opts ...kgo.Opt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := []kgo.Opt{
		kgo.SeedBrokers(tp.BootstrapAddrs()...), kgo.RetryTimeout(20 * time.Second),
		kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := map[string]bool{}
	for i := range n {
		v := topic + "-" + strconv.Itoa(i)
		want[v] = true
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed back %d of %d records before the deadline", n-len(want), n)
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("fetch: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) { delete(want, string(r.Value)) })
	}
}

// secCounter returns the value of the series of counter name with label = value.
func secCounter(t *testing.T, tp *testProxy, name, label, value string) float64 {
	t.Helper()
	mfs, err := tp.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestSecurityMatrix runs produce and consume through every combination of how
// clients reach the proxy and how the proxy reaches the brokers. One cluster per
// broker side serves all client sides; each combination gets its own proxy.
func TestSecurityMatrix(t *testing.T) {
	k := newSecPKI(t)
	plainTLS, mutualTLS := k.server(t, false), k.server(t, true)
	local := secAuthenticator(t)
	type side struct {
		name  string
		kfake []kfake.Opt
		proxy []Opt
		kgo   []kgo.Opt
		mech  string // the local SASL mechanism clients log in with
	}
	upUser := func(mech string) kfake.Opt { return kfake.Superuser(mech, secUpstreamUser, secUpstreamPass) }
	upAuth := scram.Auth{User: secUpstreamUser, Pass: secUpstreamPass}
	brokers := []side{
		{name: "TLS", kfake: []kfake.Opt{k.brokerTLS()}, proxy: []Opt{k.upstreamTLS()}},
		{name: "SASL-PLAIN", kfake: []kfake.Opt{kfake.EnableSASL(), upUser("PLAIN")},
			proxy: []Opt{UpstreamSASL(plain.Auth{User: secUpstreamUser, Pass: secUpstreamPass}.AsMechanism())}},
		{name: "TLS+SCRAM-SHA-256", kfake: []kfake.Opt{k.brokerTLS(), kfake.EnableSASL(), upUser("SCRAM-SHA-256")},
			proxy: []Opt{k.upstreamTLS(), UpstreamSASL(upAuth.AsSha256Mechanism())}},
		{name: "TLS+SCRAM-SHA-512", kfake: []kfake.Opt{k.brokerTLS(), kfake.EnableSASL(), upUser("SCRAM-SHA-512")},
			proxy: []Opt{k.upstreamTLS(), UpstreamSASL(upAuth.AsSha512Mechanism())}},
	}
	clients := []side{
		{name: "plaintext"},
		{name: "TLS", proxy: []Opt{ClientTLS(plainTLS)}, kgo: []kgo.Opt{kgo.DialTLSConfig(k.client(nil))}},
		{name: "mTLS", proxy: []Opt{ClientTLS(mutualTLS)}, kgo: []kgo.Opt{kgo.DialTLSConfig(k.client(k.good))}},
		{name: "TLS+PLAIN", mech: auth.MechanismPlain, proxy: []Opt{ClientTLS(plainTLS), LocalSASL(local)},
			kgo: []kgo.Opt{kgo.DialTLSConfig(k.client(nil)), kgo.SASL(secAlice.AsMechanism())}},
		{name: "SCRAM-SHA-256", mech: auth.MechanismSCRAMSHA256, proxy: []Opt{LocalSASL(local)}, kgo: []kgo.Opt{kgo.SASL(secCarol.AsSha256Mechanism())}},
		{name: "mTLS+SCRAM-SHA-512", mech: auth.MechanismSCRAMSHA512, proxy: []Opt{ClientTLS(mutualTLS), LocalSASL(local)},
			kgo: []kgo.Opt{kgo.DialTLSConfig(k.client(k.good)), kgo.SASL(secBob.AsSha512Mechanism())}},
	}
	topic := func(i int) string { return "matrix-" + strconv.Itoa(i) }
	for _, b := range brokers {
		t.Run("broker="+b.name, func(t *testing.T) {
			var topics []string
			for i := range clients {
				topics = append(topics, topic(i))
			}
			// Two brokers: clients also go through a dynamic listener, which must
			// terminate TLS and authenticate like the bootstrap one.
			c := newCluster(t, append([]kfake.Opt{kfake.NumBrokers(2), kfake.SeedTopics(2, topics...)}, b.kfake...)...)
			for i, cs := range clients {
				t.Run("client="+cs.name, func(t *testing.T) {
					tp := startProxy(t, c, append(slices.Clone(b.proxy), cs.proxy...)...)
					secProduceConsume(t, tp, topic(i), 10, cs.kgo...)
					for _, m := range []string{"proxy_errors_total", "proxy_client_auth_failures_total",
						"proxy_client_tls_failures_total", "proxy_upstream_auth_failures_total"} {
						if got := sumMetric(t, tp, m); got != 0 {
							t.Errorf("%s = %v after a clean run", m, got)
						}
					}
					if cs.mech != "" {
						if got := secCounter(t, tp, "proxy_client_auth_successes_total", "mechanism", cs.mech); got < 1 {
							t.Errorf("proxy_client_auth_successes_total{mechanism=%q} = %v, want >= 1", cs.mech, got)
						}
					}
				})
			}
		})
	}
}

// brokerWitness records the API key of every request a kfake cluster receives.
type brokerWitness struct {
	mu   sync.Mutex
	keys []int16
}

func watchBroker(c *kfake.Cluster) *brokerWitness {
	w := &brokerWitness{}
	// Never handled: the cluster answers as usual, the witness only counts.
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		w.mu.Lock()
		w.keys = append(w.keys, req.Key())
		w.mu.Unlock()
		return nil, nil, false
	})
	return w
}

func (w *brokerWitness) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.keys)
}

// since names the requests received after mark.
func (w *brokerWitness) since(mark int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, k := range w.keys[mark:] {
		out = append(out, kmsg.NameForKey(k))
	}
	return out
}

// refreshVersions refetches the bootstrap brokers' ApiVersions into the proxy's
// cache, so that for the next minute a client that has not authenticated makes the
// proxy contact no broker at all: the proxy's own probe cannot be told apart from a
// leaked client request by kfake (it does not expose client ids), so the tests make
// sure there is no probe.
func refreshVersions(t *testing.T, tp *testProxy) {
	t.Helper()
	tp.versions.mu.Lock()
	tp.versions.entries = nil
	tp.versions.mu.Unlock()
	tp.mu.Lock()
	var routes []*route
	for _, bm := range tp.cfg.bootstrap {
		routes = append(routes, tp.routes[bm.Upstream])
	}
	tp.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range routes {
		if _, err := tp.brokerVersions(ctx, r); err != nil {
			t.Fatalf("ApiVersions probe: %v", err)
		}
	}
}

// expectRefusal prepares for a client that must be refused and returns the check
// to run after it was: metric{reason} grew by one and the broker saw nothing.
func expectRefusal(t *testing.T, tp *testProxy, w *brokerWitness, metric, reason string) func() {
	t.Helper()
	refreshVersions(t, tp)
	before := secCounter(t, tp, metric, "reason", reason)
	mark := w.mark()
	return func() {
		t.Helper()
		eventually(t, 10*time.Second, fmt.Sprintf("%s{reason=%q} to grow", metric, reason), func() bool {
			return secCounter(t, tp, metric, "reason", reason) >= before+1
		})
		if got := secCounter(t, tp, metric, "reason", reason); got != before+1 {
			t.Errorf("%s{reason=%q} grew by %v, want 1", metric, reason, got-before)
		}
		if seen := w.since(mark); len(seen) > 0 {
			t.Errorf("a refused client reached the broker: it saw %v", seen)
		}
	}
}

// secRefusalCluster is the broker side of the refusal tests: TLS and SCRAM-SHA-256.
func secRefusalCluster(t *testing.T, k *secPKI) (*kfake.Cluster, *brokerWitness, []Opt) {
	t.Helper()
	c := newCluster(t, kfake.NumBrokers(1), k.brokerTLS(), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", secUpstreamUser, secUpstreamPass), kfake.SeedTopics(1, "refusals"))
	up := []Opt{k.upstreamTLS(), UpstreamSASL(scram.Auth{User: secUpstreamUser, Pass: secUpstreamPass}.AsSha256Mechanism())}
	return c, watchBroker(c), up
}

// TestLocalSASLRefusals: franz-go clients with bad credentials get the Kafka error
// they understand, each failure is counted by reason, and nothing reaches a broker.
func TestLocalSASLRefusals(t *testing.T) {
	k := newSecPKI(t)
	c, w, up := secRefusalCluster(t, k)
	// SCRAM-SHA-256 is not offered: the "wrong mechanism" client asks for it.
	a := secAuthenticator(t, auth.WithMechanisms(auth.MechanismPlain, auth.MechanismSCRAMSHA512))
	tp := startProxy(t, c, append(up, ClientTLS(k.server(t, false)), LocalSASL(a))...)
	cases := []struct {
		name   string
		mech   sasl.Mechanism
		want   *kerr.Error
		reason string
	}{
		{"PLAIN wrong password", plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism(), kerr.SaslAuthenticationFailed, auth.ReasonBadCredentials},
		{"SCRAM-SHA-512 wrong password", scram.Auth{User: "bob", Pass: "wrong"}.AsSha512Mechanism(), kerr.SaslAuthenticationFailed, auth.ReasonBadCredentials},
		{"PLAIN unknown user", plain.Auth{User: "mallory", Pass: "x"}.AsMechanism(), kerr.SaslAuthenticationFailed, auth.ReasonUnknownUser},
		{"SCRAM-SHA-512 unknown user", scram.Auth{User: "mallory", Pass: "x"}.AsSha512Mechanism(), kerr.SaslAuthenticationFailed, auth.ReasonUnknownUser},
		{"mechanism not offered", secCarol.AsSha256Mechanism(), kerr.UnsupportedSaslMechanism, auth.ReasonMechanism},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := expectRefusal(t, tp, w, "proxy_client_auth_failures_total", tc.reason)
			err := secPing(tp, kgo.DialTLSConfig(k.client(nil)), kgo.SASL(tc.mech))
			if !errors.Is(err, tc.want) {
				t.Fatalf("client error %v, want %s", err, tc.want.Message)
			}
			check()
		})
	}
	t.Run("no SASL: metadata before authentication", func(t *testing.T) {
		check := expectRefusal(t, tp, w, "proxy_client_auth_failures_total", "before_auth")
		cl := secClient(t, tp, kgo.DialTLSConfig(k.client(nil)), kgo.RequestRetries(0))
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		resp, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
		if err == nil {
			err = kerr.ErrorForCode(resp.(*kmsg.MetadataResponse).ErrorCode)
		}
		if err == nil {
			t.Fatalf("metadata before authentication succeeded: %+v", resp)
		}
		if !errors.Is(err, kerr.IllegalSaslState) && !isClosedErr(err) && !strings.Contains(err.Error(), "EOF") {
			t.Fatalf("metadata before authentication: %v, want ILLEGAL_SASL_STATE or a closed connection", err)
		}
		check()
	})
	// Successful logins still work after all the failures (no limiter here).
	secProduceConsume(t, tp, "refusals", 3, kgo.DialTLSConfig(k.client(nil)), kgo.SASL(secBob.AsSha512Mechanism()))
}

// TestLocalSASLConcurrentLogins: logins on many connections at once must each be
// checked against their own bytes. Frame buffers are pooled across connections, so
// a SASL message must not be read after its buffer went back to the pool; -race
// catches that here when a single login at a time would not.
func TestLocalSASLConcurrentLogins(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1))
	tp := startProxy(t, c, LocalSASL(secAuthenticator(t)))
	mechs := []sasl.Mechanism{secAlice.AsMechanism(), secBob.AsSha512Mechanism(), secCarol.AsSha256Mechanism()}
	const workers, rounds = 6, 4
	var g errgroup.Group
	for i := range workers {
		g.Go(func() error {
			for r := range rounds {
				m := mechs[(i+r)%len(mechs)]
				if err := secPing(tp, kgo.SASL(m)); err != nil {
					return fmt.Errorf("worker %d round %d %s: %w", i, r, m.Name(), err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("a correct login failed while others logged in: %v", err)
	}
	if got := sumMetric(t, tp, "proxy_client_auth_successes_total"); got < workers*rounds {
		t.Fatalf("%v successful logins, want at least %d", got, workers*rounds)
	}
	if got := sumMetric(t, tp, "proxy_client_auth_failures_total"); got != 0 {
		t.Fatalf("%v failed logins with right passwords", got)
	}
}

// secClient returns a franz-go client of tp built from opts, closed at cleanup.
func secClient(t *testing.T, tp *testProxy, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(tp.BootstrapAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// secPing pings through tp with a new client built from opts and returns the error.
func secPing(tp *testProxy, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(tp.BootstrapAddrs()...)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

// TestLocalSASLRateLimit: after N failures from one address the next login is
// refused before any credential is checked, right password or not.
func TestLocalSASLRateLimit(t *testing.T) {
	const burst = 3
	k := newSecPKI(t)
	c, w, up := secRefusalCluster(t, k)
	lim, err := auth.NewLimiter(burst, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tp := startProxy(t, c, append(up, LocalSASL(secAuthenticator(t, auth.WithLimiter(lim))))...)
	wrong := plain.Auth{User: secAlice.User, Pass: "wrong"}.AsMechanism()
	for i := range burst {
		check := expectRefusal(t, tp, w, "proxy_client_auth_failures_total", auth.ReasonBadCredentials)
		if err := secPing(tp, kgo.SASL(wrong)); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("failure %d: %v, want SASL_AUTHENTICATION_FAILED", i+1, err)
		}
		check()
	}
	for _, m := range []sasl.Mechanism{secAlice.AsMechanism(), secBob.AsSha512Mechanism()} {
		check := expectRefusal(t, tp, w, "proxy_client_auth_failures_total", auth.ReasonRateLimited)
		if err := secPing(tp, kgo.SASL(m)); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("%s with the right password after %d failures: %v, want SASL_AUTHENTICATION_FAILED", m.Name(), burst, err)
		}
		check()
	}
	if got := sumMetric(t, tp, "proxy_client_auth_successes_total"); got != 0 {
		t.Fatalf("a rate-limited client logged in (%v successes)", got)
	}
}

// TestClientCertRefusals: mutual TLS refuses a missing, expired, untrusted or
// unwanted client certificate during the handshake, before any Kafka byte.
func TestClientCertRefusals(t *testing.T) {
	k := newSecPKI(t)
	c, w, up := secRefusalCluster(t, k)
	tp := startProxy(t, c, append(up, ClientTLS(k.server(t, true)))...)
	cases := []struct {
		name   string
		cert   *certgen.Cert
		reason string
	}{
		{"no client certificate", nil, tlsutil.ReasonMissing},
		{"expired certificate", k.expired, tlsutil.ReasonExpired},
		{"certificate from an unknown CA", k.rogue, tlsutil.ReasonUnknownAuthority},
		{"subject not allowed", k.other, tlsutil.ReasonSubject},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := expectRefusal(t, tp, w, "proxy_client_tls_failures_total", tc.reason)
			_, err := secTLSApiVersions(tp, k.client(tc.cert))
			// TLS 1.3 finishes the client's side of the handshake before the
			// server judged its certificate: the refusal is an alert on first read.
			if err == nil || !strings.Contains(err.Error(), "remote error: tls: bad certificate") {
				t.Fatalf("client error %v, want the bad_certificate alert", err)
			}
			check()
			if err := secPing(tp, kgo.DialTLSConfig(k.client(tc.cert))); err == nil {
				t.Fatal("a franz-go client with the same certificate got in")
			}
		})
	}
	t.Run("allowed certificate", func(t *testing.T) {
		resp, err := secTLSApiVersions(tp, k.client(k.good))
		if err != nil {
			t.Fatalf("allowed client certificate: %v", err)
		}
		if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
			t.Fatalf("ApiVersions through mutual TLS: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
		}
	})
}

// secTLSApiVersions sends one ApiVersions request over TLS to tp.
func secTLSApiVersions(tp *testProxy, cfg *tls.Config) (*kmsg.ApiVersionsResponse, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", tp.BootstrapAddrs()[0])
	if err != nil {
		return nil, err
	}
	defer func() { _ = nc.Close() }()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	resp := kmsg.NewPtrApiVersionsResponse()
	return resp, secExchange(nc, req, 1, resp)
}

// secExchange sends req with correlation id corr and decodes the answer into resp.
func secExchange(nc net.Conn, req kmsg.Request, corr int32, resp kmsg.Response) error {
	if _, err := nc.Write(requestFrame(req, corr)); err != nil {
		return err
	}
	frame, err := readFrame(nc)
	if err != nil {
		return err
	}
	return decodeOwnResponse(frame, req, resp, corr)
}

// secRawToken writes one SASL token of the v0 exchange and reads the answer.
func secRawToken(nc net.Conn, tok []byte) ([]byte, error) {
	if _, err := nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...)); err != nil {
		return nil, err
	}
	return readFrame(nc)
}

// TestLocalSASLRawFlows drives the proxy's SASL server with hand-made frames: the
// SaslHandshake v0 flow (raw tokens, no SaslAuthenticate), and requests in the
// wrong order.
func TestLocalSASLRawFlows(t *testing.T) {
	k := newSecPKI(t)
	c, w, up := secRefusalCluster(t, k)
	tp := startProxy(t, c, append(up, ClientTLS(k.server(t, false)), LocalSASL(secAuthenticator(t)))...)
	dial := func(t *testing.T) net.Conn {
		t.Helper()
		nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tp.BootstrapAddrs()[0], k.client(nil))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
		return nc
	}
	// handshakeV0 runs SaslHandshake v0 for m, then its raw token exchange.
	handshakeV0 := func(t *testing.T, nc net.Conn, m sasl.Mechanism) error {
		t.Helper()
		hreq := kmsg.NewPtrSASLHandshakeRequest()
		hreq.SetVersion(0)
		hreq.Mechanism = m.Name()
		hresp := kmsg.NewPtrSASLHandshakeResponse()
		if err := secExchange(nc, hreq, 1, hresp); err != nil {
			t.Fatalf("SaslHandshake v0: %v", err)
		}
		if err := kerr.ErrorForCode(hresp.ErrorCode); err != nil {
			t.Fatalf("SaslHandshake v0 for %s: %v (offered %v)", m.Name(), err, hresp.SupportedMechanisms)
		}
		sess, tok, err := m.Authenticate(context.Background(), proxyHost)
		if err != nil {
			t.Fatal(err)
		}
		// As franz-go does: send while there is something to send or not done.
		for done, i := false, 0; !done || len(tok) > 0; i++ {
			if i > 4 {
				t.Fatal("SASL exchange does not end")
			}
			srv, err := secRawToken(nc, tok)
			if err != nil {
				return err
			}
			tok = nil
			if !done {
				if done, tok, err = sess.Challenge(srv); err != nil {
					t.Fatalf("server's SASL answer: %v", err)
				}
			}
		}
		return nil
	}
	metadata := func(v int16) *kmsg.MetadataRequest {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(v)
		return req
	}

	for _, tc := range []struct {
		name string
		mech sasl.Mechanism
	}{
		{"v0 PLAIN", secAlice.AsMechanism()},
		{"v0 SCRAM-SHA-512", secBob.AsSha512Mechanism()},
		{"v0 SCRAM-SHA-256", secCarol.AsSha256Mechanism()},
	} {
		t.Run(tc.name+" logs in", func(t *testing.T) {
			nc := dial(t)
			mark := w.mark()
			if err := handshakeV0(t, nc, tc.mech); err != nil {
				t.Fatalf("raw SASL exchange: %v", err)
			}
			// Authenticated: requests now reach the broker, addresses rewritten.
			resp := kmsg.NewPtrMetadataResponse()
			if err := secExchange(nc, metadata(4), 7, resp); err != nil {
				t.Fatalf("metadata after a v0 login: %v", err)
			}
			if len(resp.Brokers) != 1 || resp.Brokers[0].Host != proxyHost {
				t.Fatalf("metadata after a v0 login: brokers %+v, want one at %s", resp.Brokers, proxyHost)
			}
			if !slices.Contains(w.since(mark), "Metadata") {
				t.Fatalf("the broker never saw the metadata request: %v", w.since(mark))
			}
		})
	}

	t.Run("v0 PLAIN wrong password closes the connection", func(t *testing.T) {
		check := expectRefusal(t, tp, w, "proxy_client_auth_failures_total", auth.ReasonBadCredentials)
		nc := dial(t)
		// Kafka's v0 flow has no error message: the server just closes.
		err := handshakeV0(t, nc, plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism())
		if !errors.Is(err, io.EOF) {
			t.Fatalf("wrong v0 password: %v, want the connection closed", err)
		}
		check()
	})
	t.Run("v0 SCRAM wrong password closes the connection", func(t *testing.T) {
		check := expectRefusal(t, tp, w, "proxy_client_auth_failures_total", auth.ReasonBadCredentials)
		nc := dial(t)
		err := handshakeV0(t, nc, scram.Auth{User: "bob", Pass: "wrong"}.AsSha512Mechanism())
		if !errors.Is(err, io.EOF) {
			t.Fatalf("wrong v0 password: %v, want the connection closed", err)
		}
		check()
	})
	t.Run("SaslAuthenticate before SaslHandshake", func(t *testing.T) {
		check := expectRefusal(t, tp, w, "proxy_client_auth_failures_total", auth.ReasonIllegalState)
		nc := dial(t)
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.SetVersion(1)
		req.SASLAuthBytes = []byte("\x00alice\x00alice-secret") // right password, wrong order
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		if err := secExchange(nc, req, 3, resp); err != nil {
			t.Fatalf("SaslAuthenticate before SaslHandshake: %v, want an ILLEGAL_SASL_STATE answer", err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(err, kerr.IllegalSaslState) {
			t.Fatalf("SaslAuthenticate before SaslHandshake: %v, want ILLEGAL_SASL_STATE", err)
		}
		secExpectClosed(t, nc)
		check()
	})
	// Metadata v13 has a top-level error code; older versions have none, so the
	// only honest answer there is closing the connection.
	for _, v := range []int16{13, 12, 4, 0} {
		t.Run(fmt.Sprintf("metadata v%d before authentication", v), func(t *testing.T) {
			check := expectRefusal(t, tp, w, "proxy_client_auth_failures_total", "before_auth")
			nc := dial(t)
			resp := kmsg.NewPtrMetadataResponse()
			err := secExchange(nc, metadata(v), 5, resp)
			switch {
			case err == nil && v >= 13 && resp.ErrorCode == kerr.IllegalSaslState.Code:
			case err == nil:
				t.Errorf("metadata v%d before authentication answered without ILLEGAL_SASL_STATE (error code %d, %d brokers): want that error or a closed connection",
					v, resp.ErrorCode, len(resp.Brokers))
			case !errors.Is(err, io.EOF):
				t.Fatalf("metadata v%d before authentication: %v, want ILLEGAL_SASL_STATE or a closed connection", v, err)
			}
			secExpectClosed(t, nc)
			check()
		})
	}
}

// secExpectClosed asserts the proxy closed nc (EOF, not a timeout).
func secExpectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	var b [1]byte
	_, err := nc.Read(b[:])
	var ne net.Error
	switch {
	case err == nil:
		t.Fatal("connection still open after a refusal")
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatal("connection not closed before the deadline")
	}
}
