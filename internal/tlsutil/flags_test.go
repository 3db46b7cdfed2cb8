package tlsutil

import (
	"crypto/tls"
	"flag"
	"slices"
	"testing"

	"github.com/airlock-kafka/airlock/certgen"
	"github.com/airlock-kafka/airlock/internal/flagenv"
)

func TestServerFilesFlags(t *testing.T) {
	p := newPKI(t)
	p.issue("srv", certgen.ServerUsage, "srv")
	var f ServerFiles
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f.Register(fs, "client-", "the client listener")
	env := map[string]string{
		"AIRLOCK_TEST_CLIENT_TLS_CIPHER_SUITES":    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"AIRLOCK_TEST_CLIENT_TLS_REQUIRED_SUBJECT": "bridge;CN=svc-*,O=airlock",
		"AIRLOCK_TEST_CLIENT_TLS_CLIENT_CA_FILE":   p.path("ca.crt"),
	}
	args := []string{"--client-tls-cert-file", p.path("srv.crt"), "--client-tls-key-file", p.path("srv.key"), "--client-tls-min-version", "1.3"}
	if err := flagenv.Parse(fs, "AIRLOCK_TEST_", args, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.RequiredSubjects, []string{"bridge", "CN=svc-*,O=airlock"}) {
		t.Errorf("subjects %q", f.RequiredSubjects)
	}
	srv, err := NewServer(f, WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	if cfg.MinVersion != tls.VersionTLS13 || len(cfg.CipherSuites) != 2 || srv.ClientAuth() != tls.RequireAndVerifyClientCert {
		t.Errorf("MinVersion %x, suites %v, client auth %v", cfg.MinVersion, cfg.CipherSuites, srv.ClientAuth())
	}
}
