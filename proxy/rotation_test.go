package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	"github.com/airlock-kafka/airlock/internal/clientsec"
	"github.com/airlock-kafka/airlock/internal/tlsutil"
	"github.com/airlock-kafka/airlock/proxy/auth"
)

// Credentials change under a running proxy: certificates are rotated by replacing
// files, users are added to the users file, the broker token is replaced in its
// file. None of it may need a restart or cut a client that is connected.

// disconnectCounter counts the broker connections a franz-go client lost.
type disconnectCounter struct{ n atomic.Int32 }

func (d *disconnectCounter) OnBrokerDisconnect(kgo.BrokerMetadata, net.Conn) { d.n.Add(1) }

// servedCertificate opens a fresh TLS connection (no session to resume) to addr and
// returns the certificate the server presented.
func servedCertificate(t *testing.T, addr string, cfg *tls.Config) *x509.Certificate {
	t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg.Clone())
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer func() { _ = nc.Close() }()
	return nc.ConnectionState().PeerCertificates[0]
}

// TestClientCertificateRotation replaces the proxy's certificate files while a
// client produces: the client's connections survive, new connections get the new
// certificate.
func TestClientCertificateRotation(t *testing.T) {
	ca, err := certgen.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "proxy.crt"), filepath.Join(dir, "proxy.key")
	// issue makes a proxy certificate as if issued at now+shift, so the rotated one
	// has a later NotBefore (both are valid now: certgen backdates by minutes).
	issue := func(shift time.Duration) *certgen.Cert {
		t.Helper()
		c, err := ca.Issue("proxy", certgen.ServerUsage, certgen.ExtraSANs(proxyHost),
			certgen.Clock(func() time.Time { return time.Now().Add(shift) }))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := issue(0)
	if err := old.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	var reloads atomic.Int32
	srv, err := tlsutil.NewServer(tlsutil.ServerFiles{CertFile: certFile, KeyFile: keyFile},
		tlsutil.CheckInterval(10*time.Millisecond), tlsutil.WithLogger(slog.New(slog.DiscardHandler)),
		tlsutil.OnReload(func(string) { reloads.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "rotation"))
	tp := startProxy(t, c, ClientTLS(srv.Config()))
	addr := tp.BootstrapAddrs()[0]
	clientTLS := &tls.Config{RootCAs: ca.Pool()}
	if got := servedCertificate(t, addr, clientTLS); got.SerialNumber.Cmp(old.Leaf.SerialNumber) != 0 {
		t.Fatalf("proxy serves serial %x, want the initial certificate's %x", got.SerialNumber, old.Leaf.SerialNumber)
	}

	// A franz-go client producing across the rotation, and a raw connection that
	// stays idle across it.
	var lost disconnectCounter
	cl := secClient(t, tp, kgo.DialTLSConfig(clientTLS), kgo.DefaultProduceTopic("rotation"), kgo.WithHooks(&lost))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	produced := 0
	produce := func(n int) {
		t.Helper()
		for range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(produced))}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", produced, err)
			}
			produced++
		}
	}
	produce(5)
	raw, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientTLS.Clone())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = raw.Close() }()
	_ = raw.SetDeadline(time.Now().Add(30 * time.Second))
	metadata := func(corr int32) error {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(4)
		return secExchange(raw, req, corr, kmsg.NewPtrMetadataResponse())
	}
	if err := metadata(1); err != nil {
		t.Fatal(err)
	}

	rotated := issue(time.Minute)
	if err := rotated.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	// Keep producing while polling: the rotation happens under traffic.
	eventually(t, 10*time.Second, "new connections to get the rotated certificate", func() bool {
		produce(1)
		got := servedCertificate(t, addr, clientTLS)
		return got.SerialNumber.Cmp(rotated.Leaf.SerialNumber) == 0
	})
	got := servedCertificate(t, addr, clientTLS)
	if !got.NotBefore.Equal(rotated.Leaf.NotBefore) || !got.NotBefore.After(old.Leaf.NotBefore) {
		t.Fatalf("served NotBefore %v, want the rotated certificate's %v (initial %v)", got.NotBefore, rotated.Leaf.NotBefore, old.Leaf.NotBefore)
	}
	if reloads.Load() == 0 {
		t.Fatal("the rotated certificate is served but no reload was reported")
	}

	produce(5)
	if n := lost.n.Load(); n != 0 {
		t.Fatalf("the producing client lost %d connections across the rotation", n)
	}
	if err := metadata(2); err != nil {
		t.Fatalf("a connection made before the rotation broke: %v", err)
	}
	if s := raw.ConnectionState().PeerCertificates[0].SerialNumber; s.Cmp(old.Leaf.SerialNumber) != 0 {
		t.Fatalf("the old connection reports serial %x, want the initial %x", s, old.Leaf.SerialNumber)
	}
	if pi := c.PartitionInfo("rotation", 0); pi == nil || pi.HighWatermark != int64(produced) {
		t.Fatalf("broker holds %+v records, want %d", pi, produced)
	}
}

// TestUsersFileReload adds a user to the users file of a running proxy, then
// removes it: logins follow the file without a restart, other users undisturbed.
func TestUsersFileReload(t *testing.T) {
	path := secUsersFile(t)
	uf, err := auth.OpenUsersFile(path, auth.WithPollInterval(20*time.Millisecond),
		auth.WithFileLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		_ = uf.Watch(ctx)
	}()
	t.Cleanup(func() { cancel(); <-watching })
	a, err := auth.NewAuthenticator(uf)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "reload"))
	tp := startProxy(t, c, LocalSASL(a))
	dave := scram.Auth{User: "dave", Pass: "dave-secret"}

	if err := secPing(tp, kgo.SASL(dave.AsSha512Mechanism())); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("dave before being added: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	// The client may read its error before the proxy counted it.
	eventually(t, 5*time.Second, "dave counted as an unknown user", func() bool {
		return secCounter(t, tp, "proxy_client_auth_failures_total", "reason", auth.ReasonUnknownUser) == 1
	})

	cred, err := auth.NewSCRAMCredential(auth.MechanismSCRAMSHA512, dave.Pass, auth.MinSCRAMIterations)
	if err != nil {
		t.Fatal(err)
	}
	line, err := auth.FormatSCRAMLine(dave.User, auth.MechanismSCRAMSHA512, cred)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.SetUserEntry(path, line); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "dave to log in after being added", func() bool {
		return secPing(tp, kgo.SASL(dave.AsSha512Mechanism())) == nil
	})
	// A SCRAM entry serves PLAIN logins too.
	secProduceConsume(t, tp, "reload", 3, kgo.SASL(plain.Auth{User: dave.User, Pass: dave.Pass}.AsMechanism()))
	if err := secPing(tp, kgo.SASL(secAlice.AsMechanism())); err != nil {
		t.Fatalf("alice after the reload: %v", err)
	}

	if n, err := auth.RemoveUser(path, dave.User); err != nil || n != 1 {
		t.Fatalf("remove dave: %d entries, %v", n, err)
	}
	eventually(t, 10*time.Second, "dave to be refused after being removed", func() bool {
		return errors.Is(secPing(tp, kgo.SASL(dave.AsSha512Mechanism())), kerr.SaslAuthenticationFailed)
	})
	if err := secPing(tp, kgo.SASL(secBob.AsSha512Mechanism())); err != nil {
		t.Fatalf("bob after the removal of dave: %v", err)
	}
}

// TestUpstreamOAuthBearer: kfake speaks no OAUTHBEARER, so a fake broker checks the
// token the proxy presents, as configured by --upstream-sasl-oauth-token-file; a
// token rotated in the file is used by the next broker connection.
func TestUpstreamOAuthBearer(t *testing.T) {
	var (
		mu     sync.Mutex
		accept = "token-1"
		seen   []string
	)
	fb := newFakeBroker(t, func(h reqHeader, body []byte) []byte {
		req := kmsg.RequestForKey(h.key)
		req.SetVersion(h.version)
		if err := req.ReadFrom(body); err != nil {
			return nil
		}
		switch r := req.(type) {
		case *kmsg.SASLHandshakeRequest:
			resp := kmsg.NewPtrSASLHandshakeResponse()
			resp.SupportedMechanisms = []string{"OAUTHBEARER"}
			if r.Mechanism != "OAUTHBEARER" {
				resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			}
			return answer(h, resp)
		case *kmsg.SASLAuthenticateRequest:
			// RFC 7628 client-first message: gs2 header, then auth=Bearer <token>.
			msg := string(r.SASLAuthBytes)
			_, after, _ := strings.Cut(msg, "\x01auth=Bearer ")
			tok, _, _ := strings.Cut(after, "\x01")
			resp := kmsg.NewPtrSASLAuthenticateResponse()
			mu.Lock()
			seen = append(seen, tok)
			if !strings.HasPrefix(msg, "n,,\x01") || tok != accept {
				resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
				resp.ErrorMessage = kmsg.StringPtr("invalid token")
			}
			mu.Unlock()
			return answer(h, resp)
		case *kmsg.MetadataRequest:
			return answer(h, kmsg.NewPtrMetadataResponse())
		default:
			return nil // nothing else is asked in this test
		}
	})
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeToken := func(tok string) {
		t.Helper()
		if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeToken("token-1")
	var sec clientsec.Options
	fs := flag.NewFlagSet("airlock-proxy", flag.ContinueOnError)
	sec.Register(fs, "upstream-", "brokers")
	if err := fs.Parse([]string{"--upstream-sasl-mechanism=OAUTHBEARER",
		"--upstream-sasl-oauth-token-file=" + tokenFile, "--upstream-sasl-oauth-token-ttl=0s"}); err != nil {
		t.Fatal(err)
	}
	m, err := sec.Mechanism()
	if err != nil {
		t.Fatal(err)
	}
	tp := startProxyAt(t, fb.addr(), UpstreamSASL(m))
	tokens := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
	metadataOK := func(nc net.Conn, corr int32) error {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(4)
		return secExchange(nc, req, corr, kmsg.NewPtrMetadataResponse())
	}

	first := dialProxy(t, tp)
	if err := metadataOK(first, 1); err != nil {
		t.Fatalf("metadata through an OAUTHBEARER broker connection: %v", err)
	}
	if got := tokens(); !slices.Equal(got, []string{"token-1"}) {
		t.Fatalf("broker saw tokens %q, want [token-1]", got)
	}

	writeToken("token-2")
	mu.Lock()
	accept = "token-2"
	mu.Unlock()
	second := dialProxy(t, tp)
	if err := metadataOK(second, 1); err != nil {
		t.Fatalf("metadata on a new connection after the token rotated: %v", err)
	}
	if got := tokens(); !slices.Equal(got, []string{"token-1", "token-2"}) {
		t.Fatalf("broker saw tokens %q, want [token-1 token-2]: the rotated file was not re-read", got)
	}
	// The first connection authenticated once and stays up.
	if err := metadataOK(first, 2); err != nil {
		t.Fatalf("the connection opened before the rotation broke: %v", err)
	}

	// A token the broker refuses: the client's connection is closed and counted.
	mu.Lock()
	accept = "token-3"
	mu.Unlock()
	third := dialProxy(t, tp)
	if err := metadataOK(third, 1); err == nil {
		t.Fatal("metadata succeeded although the broker refused the proxy's token")
	}
	eventually(t, 5*time.Second, "upstream SASL failure counted", func() bool {
		return secCounter(t, tp, "proxy_upstream_auth_failures_total", "stage", "sasl") == 1
	})
	if got := secCounter(t, tp, "proxy_errors_total", "reason", "upstream_unreachable"); got != 1 {
		t.Fatalf("proxy_errors_total{reason=upstream_unreachable} = %v, want 1", got)
	}
}
