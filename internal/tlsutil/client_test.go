package tlsutil

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/certgen"
)

func TestClientConfigFiles(t *testing.T) {
	p := newPKI(t)
	p.issue("cli", certgen.ClientUsage, "cli")
	p.issue("other", certgen.ClientUsage, "other")
	tests := []struct {
		name    string
		files   ClientFiles
		wantMsg string
	}{
		{"CA only", ClientFiles{CAFile: p.path("ca.crt")}, ""},
		{"client certificate", ClientFiles{CAFile: p.path("ca.crt"), CertFile: p.path("cli.crt"), KeyFile: p.path("cli.key")}, ""},
		{"reloading client certificate", ClientFiles{CertFile: p.path("cli.crt"), KeyFile: p.path("cli.key"), Reload: true}, ""},
		{"cert without key", ClientFiles{CertFile: p.path("cli.crt")}, "both a cert file and a key file"},
		{"mismatched pair", ClientFiles{CertFile: p.path("cli.crt"), KeyFile: p.path("other.key")}, "does not match"},
		{"mismatched pair with reload", ClientFiles{CertFile: p.path("cli.crt"), KeyFile: p.path("other.key"), Reload: true}, "does not match"},
		{"CA file is a key", ClientFiles{CAFile: p.path("cli.key")}, "no PEM certificate"},
		{"missing CA file", ClientFiles{CAFile: p.path("nope")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ClientConfig(tt.files, WithLogger(quietLogger))
			if tt.wantMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err %v, want one mentioning %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion %x", cfg.MinVersion)
			}
			if (tt.files.CAFile != "") != (cfg.RootCAs != nil) {
				t.Errorf("RootCAs set: %v", cfg.RootCAs != nil)
			}
			hasCert := len(cfg.Certificates) > 0 || cfg.GetClientCertificate != nil
			if hasCert != (tt.files.CertFile != "") {
				t.Errorf("client certificate configured: %v", hasCert)
			}
		})
	}
}

func TestClientCertificateReload(t *testing.T) {
	p := newPKI(t)
	p.issue("srv", certgen.ServerUsage, "srv")
	first := p.issue("bridge", certgen.ClientUsage, "bridge")
	srv, err := NewServer(ServerFiles{CertFile: p.path("srv.crt"), KeyFile: p.path("srv.key"), ClientCAFile: p.path("ca.crt")},
		WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	es := startEchoServer(t, srv.Config())
	var reloaded atomic.Int32
	cfg, err := ClientConfig(ClientFiles{
		CAFile: p.path("ca.crt"), CertFile: p.path("bridge.crt"), KeyFile: p.path("bridge.key"), ServerName: "localhost", Reload: true,
	}, WithLogger(quietLogger), CheckInterval(0), OnReload(func(what string) {
		if what == "client certificate" {
			reloaded.Add(1)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	seenSerial := func() string {
		c, err := dial(t, es.addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		got := es.next(t)
		if got.err != nil || got.peer == nil {
			t.Fatalf("server: %v", got.err)
		}
		return got.peer.SerialNumber.String()
	}
	if got := seenSerial(); got != first.Leaf.SerialNumber.String() {
		t.Fatalf("server saw %s, want the first certificate", got)
	}
	second := p.issue("bridge", certgen.ClientUsage, "bridge")
	if got := seenSerial(); got != second.Leaf.SerialNumber.String() {
		t.Fatalf("server saw %s after rotation, want %s", got, second.Leaf.SerialNumber)
	}
	if reloaded.Load() != 1 {
		t.Errorf("reloads %d, want 1", reloaded.Load())
	}
}

func TestEncryptedKeys(t *testing.T) {
	p := newPKI(t)
	c := p.issue("srv", certgen.ServerUsage, "srv")
	block, _ := pem.Decode(c.KeyPEM)
	//nolint:staticcheck // legacy PEM encryption is the format under test
	enc, err := x509.EncryptPEMBlock(rand.Reader, "PRIVATE KEY", block.Bytes, []byte("pw"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	encPEM := pem.EncodeToMemory(enc)
	params := []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")
	pkcs8Enc := []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
	tests := []struct {
		name     string
		key      []byte
		password string
		wantMsg  string
	}{
		{"plain", c.KeyPEM, "", ""},
		{"plain with a needless password", c.KeyPEM, "pw", ""},
		{"legacy encrypted", encPEM, "pw", ""},
		{"after EC PARAMETERS", append(append([]byte{}, params...), encPEM...), "pw", ""},
		{"no password", encPEM, "", "no key password"},
		{"wrong password", encPEM, "nope", "wrong password"},
		{"encrypted PKCS#8", pkcs8Enc, "pw", "PKCS#8 keys are not supported"},
		{"no key at all", c.CertPEM, "", "no PEM private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keyFile := p.path("test.key")
			writeFile(t, keyFile, tt.key)
			cert, err := LoadKeyPair(p.path("srv.crt"), keyFile, tt.password)
			if tt.wantMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), keyFile) {
					t.Fatalf("err %v, want one naming the file and mentioning %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !cert.Leaf.Equal(c.Leaf) {
				t.Error("wrong certificate")
			}
		})
	}
}

// TestReasonClientSide checks that a client's view of a failed handshake maps to
// the same reasons as the server's.
func TestReasonClientSide(t *testing.T) {
	p := newPKI(t)
	p.issue("srv", certgen.ServerUsage, "srv")
	p.issue("old", certgen.ServerUsage, "old",
		certgen.Clock(func() time.Time { return time.Now().Add(-48 * time.Hour) }), certgen.Validity(time.Hour))
	other := newPKI(t)
	tests := []struct {
		name       string
		serverCert string
		cfg        *tls.Config
		want       string
	}{
		{"ok", "srv", p.clientConfig(nil), ""},
		{"unknown authority", "srv", other.clientConfig(nil), ReasonUnknownAuthority},
		{"hostname", "srv", &tls.Config{RootCAs: p.ca.Pool(), ServerName: "elsewhere"}, ReasonHostname},
		{"expired", "old", p.clientConfig(nil), ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := NewServer(ServerFiles{CertFile: p.path(tt.serverCert + ".crt"), KeyFile: p.path(tt.serverCert + ".key")}, WithLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			es := startEchoServer(t, srv.Config())
			c, err := dial(t, es.addr, tt.cfg)
			if c != nil {
				_ = c.Close()
			}
			es.next(t)
			if got := Reason(err); got != tt.want {
				t.Errorf("Reason(%v) = %q, want %q", err, got, tt.want)
			}
		})
	}
}

func TestReasonMapping(t *testing.T) {
	timeout := &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&ClientCertError{Reason: ReasonSubject}, ReasonSubject},
		{fmt.Errorf("wrapped: %w", &ClientCertError{Reason: ReasonExpired}), ReasonExpired},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, ReasonUnknownAuthority},
		{x509.CertificateInvalidError{Reason: x509.Expired, Detail: "current time X is after Y"}, ReasonExpired},
		{x509.CertificateInvalidError{Reason: x509.Expired, Detail: "current time X is before Y"}, ReasonNotYetValid},
		{x509.CertificateInvalidError{Reason: x509.IncompatibleUsage}, ReasonUsage},
		{x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}, ReasonInvalid},
		{x509.HostnameError{Host: "x"}, ReasonHostname},
		{timeout, ReasonTimeout},
		{errors.New("remote error: tls: bad certificate"), ReasonHandshake},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			if got := Reason(tt.err); got != tt.want {
				t.Errorf("Reason = %q, want %q", got, tt.want)
			}
		})
	}
	// Every reason's error matches its sentinel.
	for reason, sentinel := range map[string]error{
		ReasonMissing: ErrClientCertMissing, ReasonExpired: ErrClientCertExpired, ReasonNotYetValid: ErrClientCertNotYetValid,
		ReasonUnknownAuthority: ErrClientCertUntrusted, ReasonUsage: ErrClientCertUsage, ReasonSubject: ErrSubjectNotAllowed,
		ReasonInvalid: ErrClientCertInvalid,
	} {
		if err := (&ClientCertError{Reason: reason}); !errors.Is(err, sentinel) {
			t.Errorf("%s: %v is not %v", reason, err, sentinel)
		}
	}
}
