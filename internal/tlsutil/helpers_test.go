package tlsutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/certgen"
)

// ioTimeout bounds every network step of a test; generous for a loaded -race run.
const ioTimeout = 15 * time.Second

var quietLogger = slog.New(slog.DiscardHandler)

// pki is a CA with files in a temp dir.
type pki struct {
	t   *testing.T
	dir string
	ca  *certgen.CA
}

func newPKI(t *testing.T, opts ...certgen.Opt) *pki {
	t.Helper()
	ca, err := certgen.NewCA(opts...)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{t: t, dir: t.TempDir(), ca: ca}
	writeFile(t, p.path("ca.crt"), ca.CertPEM)
	return p
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// issue makes a certificate and, when name is not empty, writes <name>.crt/.key.
func (p *pki) issue(cn string, usage certgen.Usage, file string, opts ...certgen.Opt) *certgen.Cert {
	p.t.Helper()
	c, err := p.ca.Issue(cn, usage, opts...)
	if err != nil {
		p.t.Fatal(err)
	}
	if file != "" {
		if err := c.WriteFiles(p.path(file+".crt"), p.path(file+".key")); err != nil {
			p.t.Fatal(err)
		}
	}
	return c
}

// serverOnly makes a certificate without the client-auth usage, which certgen never
// issues for a client.
func (p *pki) serverOnly(cn string) tls.Certificate {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca.Cert, key.Public(), p.ca.Key)
	if err != nil {
		p.t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// accepted is what the test server saw of one connection.
type accepted struct {
	err  error
	peer *x509.Certificate // client certificate, nil if none
}

// echoServer accepts TLS connections, reports each handshake and echoes data.
type echoServer struct {
	addr string
	seen chan accepted
}

func startEchoServer(t *testing.T, cfg *tls.Config) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{addr: ln.Addr().String(), seen: make(chan accepted, 256)}
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
				defer func() { _ = c.Close() }()
				tc := tls.Server(c, cfg)
				_ = tc.SetDeadline(time.Now().Add(ioTimeout))
				err := tc.Handshake()
				a := accepted{err: err}
				if pc := tc.ConnectionState().PeerCertificates; err == nil && len(pc) > 0 {
					a.peer = pc[0]
				}
				select {
				case s.seen <- a:
				default:
				}
				if err != nil {
					return
				}
				_, _ = io.Copy(tc, tc)
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
	return s
}

// next returns the server's view of the next handshake.
func (s *echoServer) next(t *testing.T) accepted {
	t.Helper()
	select {
	case a := <-s.seen:
		return a
	case <-time.After(ioTimeout):
		t.Fatal("no handshake reached the server")
		return accepted{}
	}
}

// dial connects, handshakes and does one echo round trip, which is where a TLS 1.3
// client learns that the server rejected its certificate.
func dial(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	d := &tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*tls.Conn)
	if err := echo(tc); err != nil {
		_ = tc.Close()
		return nil, err
	}
	return tc, nil
}

func echo(c *tls.Conn) error {
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "ping" {
		return errors.New("echo mismatch: " + string(buf))
	}
	return nil
}

// clientConfig trusts p's CA for server name "localhost" and presents cert if
// given. It sends cert whatever CAs the server names, as librdkafka does; Go's
// default would withhold a certificate of another CA and turn "untrusted" into
// "missing".
func (p *pki) clientConfig(cert *tls.Certificate) *tls.Config {
	cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return cfg
}

// eventually polls cond every 20ms until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
