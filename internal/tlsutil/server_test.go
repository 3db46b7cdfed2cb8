package tlsutil

import (
	"crypto/tls"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/certgen"
)

func TestServerClientAuthModes(t *testing.T) {
	p := newPKI(t)
	p.issue("srv", certgen.ServerUsage, "srv")
	good := p.issue("bridge", certgen.ClientUsage, "").TLS
	other := newPKI(t).issue("bridge", certgen.ClientUsage, "").TLS
	expired := p.issue("old", certgen.ClientUsage, "",
		certgen.Clock(func() time.Time { return time.Now().Add(-48 * time.Hour) }), certgen.Validity(time.Hour)).TLS
	future := p.issue("future", certgen.ClientUsage, "",
		certgen.Clock(func() time.Time { return time.Now().Add(48 * time.Hour) })).TLS
	serverOnly := p.serverOnly("imposter")

	tests := []struct {
		name       string
		clientAuth string
		noCA       bool
		cert       *tls.Certificate
		wantReason string // "" = accepted
		wantErr    error
		wantPeer   string // CN the server sees, "" = none
	}{
		{name: "none without cert", clientAuth: "none", noCA: true},
		{name: "none with cert sends none", clientAuth: "none", noCA: true, cert: &good},
		{name: "request without cert", clientAuth: "request"},
		{name: "request with cert", clientAuth: "request", cert: &good, wantPeer: "bridge"},
		{name: "request untrusted", clientAuth: "request", cert: &other, wantReason: ReasonUnknownAuthority, wantErr: ErrClientCertUntrusted},
		{name: "require without cert", clientAuth: "require", wantReason: ReasonMissing, wantErr: ErrClientCertMissing},
		{name: "require with cert", clientAuth: "require", cert: &good, wantPeer: "bridge"},
		{name: "require untrusted", clientAuth: "require", cert: &other, wantReason: ReasonUnknownAuthority, wantErr: ErrClientCertUntrusted},
		{name: "require expired", clientAuth: "require", cert: &expired, wantReason: ReasonExpired, wantErr: ErrClientCertExpired},
		{name: "require not yet valid", clientAuth: "require", cert: &future, wantReason: ReasonNotYetValid, wantErr: ErrClientCertNotYetValid},
		{name: "require wrong usage", clientAuth: "require", cert: &serverOnly, wantReason: ReasonUsage, wantErr: ErrClientCertUsage},
		{name: "kafka spelling required", clientAuth: "required", wantReason: ReasonMissing},
		{name: "default with CA is require", clientAuth: "", wantReason: ReasonMissing},
		{name: "default without CA is none", clientAuth: "", noCA: true, cert: &good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ServerFiles{CertFile: p.path("srv.crt"), KeyFile: p.path("srv.key"), ClientAuth: tt.clientAuth}
			if !tt.noCA {
				f.ClientCAFile = p.path("ca.crt")
			}
			srv, err := NewServer(f, WithLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			es := startEchoServer(t, srv.Config())
			c, cerr := dial(t, es.addr, p.clientConfig(tt.cert))
			got := es.next(t)
			if c != nil {
				_ = c.Close()
			}
			if r := Reason(got.err); r != tt.wantReason {
				t.Fatalf("server reason %q (err %v), want %q", r, got.err, tt.wantReason)
			}
			if tt.wantReason != "" {
				if cerr == nil {
					t.Error("client did not notice the rejection")
				}
				if tt.wantErr != nil && !errors.Is(got.err, tt.wantErr) {
					t.Errorf("server err %v is not %v", got.err, tt.wantErr)
				}
				return
			}
			if cerr != nil {
				t.Fatalf("client: %v", cerr)
			}
			peer := ""
			if got.peer != nil {
				peer = got.peer.Subject.CommonName
			}
			if peer != tt.wantPeer {
				t.Errorf("server saw client %q, want %q", peer, tt.wantPeer)
			}
		})
	}
}

func TestServerRequiredSubjects(t *testing.T) {
	p := newPKI(t)
	p.issue("srv", certgen.ServerUsage, "srv")
	srv, err := NewServer(ServerFiles{
		CertFile: p.path("srv.crt"), KeyFile: p.path("srv.key"), ClientCAFile: p.path("ca.crt"),
		RequiredSubjects: []string{"bridge", "CN=svc-*,O=partner"},
	}, WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	es := startEchoServer(t, srv.Config())
	tests := []struct {
		cn, org string
		allowed bool
	}{
		{"bridge", "airlock", true},
		{"svc-1", "partner", true},
		{"svc-1", "airlock", false},
		{"producer", "airlock", false},
		{"bridge-2", "airlock", false},
	}
	for _, tt := range tests {
		t.Run(tt.cn+"/"+tt.org, func(t *testing.T) {
			cert := p.issue(tt.cn, certgen.ClientUsage, "", certgen.Organization(tt.org)).TLS
			c, cerr := dial(t, es.addr, p.clientConfig(&cert))
			got := es.next(t)
			if c != nil {
				_ = c.Close()
			}
			if tt.allowed {
				if got.err != nil || cerr != nil {
					t.Fatalf("rejected: server %v, client %v", got.err, cerr)
				}
				return
			}
			if !errors.Is(got.err, ErrSubjectNotAllowed) || Reason(got.err) != ReasonSubject {
				t.Fatalf("server err %v, want subject rejection", got.err)
			}
			if msg := got.err.Error(); !strings.Contains(msg, "CN="+tt.cn) || !strings.Contains(msg, "CN=svc-*,O=partner") {
				t.Errorf("message lacks the subject or the allowed patterns: %s", msg)
			}
		})
	}
}

func TestServerRotation(t *testing.T) {
	p := newPKI(t)
	first := p.issue("srv", certgen.ServerUsage, "srv")
	var reloads, failures atomic.Int32
	// The default check interval: rotation must show up without any call from us.
	srv, err := NewServer(ServerFiles{CertFile: p.path("srv.crt"), KeyFile: p.path("srv.key")},
		WithLogger(quietLogger),
		OnReload(func(string) { reloads.Add(1) }),
		OnReloadError(func(error) { failures.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	es := startEchoServer(t, srv.Config())
	cfg := p.clientConfig(nil)
	old, err := dial(t, es.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = old.Close() }()
	es.next(t)
	if got := old.ConnectionState().PeerCertificates[0]; !got.Equal(first.Leaf) {
		t.Fatal("first connection got an unexpected certificate")
	}

	second := p.issue("srv", certgen.ServerUsage, "srv")
	servedSerial := func() string {
		c, err := dial(t, es.addr, cfg)
		if err != nil {
			t.Fatalf("dial during rotation: %v", err)
		}
		defer func() { _ = c.Close() }()
		es.next(t)
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	eventually(t, "the rotated certificate", func() bool { return servedSerial() == second.Leaf.SerialNumber.String() })
	if err := echo(old); err != nil {
		t.Fatalf("connection from before the rotation broke: %v", err)
	}
	if !srv.Certificate().Equal(second.Leaf) {
		t.Error("Certificate() does not report the rotated certificate")
	}
	if reloads.Load() != 1 || failures.Load() != 0 {
		t.Errorf("reloads %d, failures %d; want 1, 0", reloads.Load(), failures.Load())
	}

	// A corrupt replacement keeps the served certificate and is reported.
	writeFile(t, p.path("srv.crt"), []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"))
	if err := srv.Reload(); err == nil {
		t.Fatal("Reload accepted a corrupt certificate")
	}
	if failures.Load() != 1 {
		t.Errorf("failures %d after a corrupt file, want 1", failures.Load())
	}
	if got := servedSerial(); got != second.Leaf.SerialNumber.String() {
		t.Errorf("serving %s after a corrupt replacement, want the previous %s", got, second.Leaf.SerialNumber)
	}
	// Fixing the file is picked up again.
	third := p.issue("srv", certgen.ServerUsage, "srv")
	eventually(t, "the repaired certificate", func() bool { return servedSerial() == third.Leaf.SerialNumber.String() })
	if err := echo(old); err != nil {
		t.Fatalf("old connection after the second rotation: %v", err)
	}
}

func TestServerHalfRotationAndReportOnce(t *testing.T) {
	p := newPKI(t)
	first := p.issue("srv", certgen.ServerUsage, "srv")
	var failures atomic.Int32
	srv, err := NewServer(ServerFiles{CertFile: p.path("srv.crt"), KeyFile: p.path("srv.key")},
		WithLogger(quietLogger), CheckInterval(0), OnReloadError(func(error) { failures.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	es := startEchoServer(t, srv.Config())
	serial := func() string {
		c, err := dial(t, es.addr, p.clientConfig(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		es.next(t)
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	// Only the new key has landed: it does not match the certificate.
	next := p.issue("srv", certgen.ServerUsage, "")
	writeFile(t, p.path("srv.key"), next.KeyPEM)
	for range 3 {
		if got := serial(); got != first.Leaf.SerialNumber.String() {
			t.Fatalf("serving %s with a mismatched key on disk", got)
		}
	}
	if failures.Load() != 1 {
		t.Errorf("the same broken files were reported %d times, want once", failures.Load())
	}
	// The certificate follows: the pair is complete and served.
	writeFile(t, p.path("srv.crt"), next.CertPEM)
	if got := serial(); got != next.Leaf.SerialNumber.String() {
		t.Errorf("serving %s after the pair was complete, want %s", got, next.Leaf.SerialNumber)
	}
}

func TestServerClientCAReload(t *testing.T) {
	p := newPKI(t)
	p.issue("srv", certgen.ServerUsage, "srv")
	oldClient := p.issue("bridge", certgen.ClientUsage, "").TLS
	q := newPKI(t)
	newClient := q.issue("bridge", certgen.ClientUsage, "").TLS
	srv, err := NewServer(ServerFiles{CertFile: p.path("srv.crt"), KeyFile: p.path("srv.key"), ClientCAFile: p.path("ca.crt")},
		WithLogger(quietLogger), CheckInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	es := startEchoServer(t, srv.Config())
	cache := tls.NewLRUClientSessionCache(8)
	oldCfg := p.clientConfig(&oldClient)
	oldCfg.ClientSessionCache = cache
	c, err := dial(t, es.addr, oldCfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	es.next(t)
	if _, err := dial(t, es.addr, p.clientConfig(&newClient)); err == nil {
		t.Fatal("certificate of the other CA accepted before the CA changed")
	}
	if got := es.next(t); Reason(got.err) != ReasonUnknownAuthority {
		t.Fatalf("reason %q, want unknown_authority", Reason(got.err))
	}

	// Trust moves to the new CA.
	writeFile(t, p.path("ca.crt"), q.ca.CertPEM)
	c, err = dial(t, es.addr, p.clientConfig(&newClient))
	if err != nil {
		t.Fatalf("new CA's client after reload: %v", err)
	}
	_ = c.Close()
	if got := es.next(t); got.err != nil || got.peer == nil {
		t.Fatalf("server: %v", got.err)
	}
	// A resumed session of the old client is checked against the new CA too.
	if _, err := dial(t, es.addr, oldCfg); err == nil {
		t.Fatal("old CA's client resumed after the CA changed")
	}
	if got := es.next(t); Reason(got.err) != ReasonUnknownAuthority {
		t.Fatalf("resumed old client: reason %q (%v), want unknown_authority", Reason(got.err), got.err)
	}
}

func TestNewServerErrors(t *testing.T) {
	p := newPKI(t)
	p.issue("srv", certgen.ServerUsage, "srv")
	p.issue("other", certgen.ServerUsage, "other")
	base := func() ServerFiles {
		return ServerFiles{CertFile: p.path("srv.crt"), KeyFile: p.path("srv.key"), ClientCAFile: p.path("ca.crt")}
	}
	tests := []struct {
		name    string
		mod     func(*ServerFiles)
		wantErr error  // nil: only a non-nil error is checked
		wantMsg string // in the message
	}{
		{"no cert", func(f *ServerFiles) { f.CertFile = "" }, ErrInvalidConfig, "cert file and a key file"},
		{"missing file", func(f *ServerFiles) { f.CertFile = p.path("nope.crt") }, nil, "nope.crt"},
		{"mismatched pair", func(f *ServerFiles) { f.KeyFile = p.path("other.key") }, nil, "private key does not match"},
		{"CA is not PEM", func(f *ServerFiles) { f.ClientCAFile = p.path("srv.key") }, nil, "no PEM certificate"},
		{"require without CA", func(f *ServerFiles) { f.ClientCAFile, f.ClientAuth = "", "require" }, ErrInvalidConfig, "client CA file"},
		{"subjects without client auth", func(f *ServerFiles) { f.ClientAuth, f.RequiredSubjects = "none", []string{"x"} }, ErrInvalidConfig, "required subjects"},
		{"bad client auth", func(f *ServerFiles) { f.ClientAuth = "maybe" }, ErrInvalidConfig, "maybe"},
		{"bad version", func(f *ServerFiles) { f.MinVersion = "1.1" }, ErrInvalidConfig, "deprecated"},
		{"bad suite", func(f *ServerFiles) { f.CipherSuites = []string{"TLS_RSA_WITH_RC4_128_SHA"} }, ErrInvalidConfig, "insecure"},
		{"bad subject", func(f *ServerFiles) { f.RequiredSubjects = []string{"XX=y"} }, ErrInvalidConfig, "unknown attribute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			tt.mod(&f)
			_, err := NewServer(f, WithLogger(quietLogger))
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err %v is not %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err %q lacks %q", err, tt.wantMsg)
			}
		})
	}
}

func TestServerVersionAndSuites(t *testing.T) {
	p := newPKI(t)
	p.issue("srv", certgen.ServerUsage, "srv")
	srv, err := NewServer(ServerFiles{CertFile: p.path("srv.crt"), KeyFile: p.path("srv.key"), MinVersion: "1.3"}, WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	es := startEchoServer(t, srv.Config())
	cfg := p.clientConfig(nil)
	cfg.MaxVersion = tls.VersionTLS12
	if _, err := dial(t, es.addr, cfg); err == nil {
		t.Error("TLS 1.2 client accepted by a 1.3-only server")
	}
	if got := es.next(t); got.err == nil || Reason(got.err) != ReasonHandshake {
		t.Errorf("server: %v (reason %q)", got.err, Reason(got.err))
	}

	srv, err = NewServer(ServerFiles{CertFile: p.path("srv.crt"), KeyFile: p.path("srv.key"),
		CipherSuites: []string{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}}, WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	es = startEchoServer(t, srv.Config())
	c, err := dial(t, es.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	es.next(t)
	if cs := c.ConnectionState(); cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Errorf("negotiated %s", tls.CipherSuiteName(cs.CipherSuite))
	}
}
