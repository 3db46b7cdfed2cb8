package certgen_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/airlock-kafka/airlock/certgen"
)

func generate(t *testing.T, dir string, opts ...certgen.Opt) *certgen.Result {
	t.Helper()
	res, err := certgen.Generate(dir, opts...)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return res
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(mustReadFile(t, path))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caPool(t *testing.T, res *certgen.Result) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	p.AddCert(readCert(t, res.CA.CertFile))
	return p
}

// snapshot returns the bytes of every regular file in dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func ops(res *certgen.Result) map[string]certgen.Op {
	m := map[string]certgen.Op{}
	for _, a := range res.Actions {
		m[filepath.Base(a.Path)] = a.Op
	}
	return m
}

func TestGenerateChainVerifies(t *testing.T) {
	dir := t.TempDir()
	res := generate(t, dir, certgen.Servers("source-kafka", "source-proxy"), certgen.Clients("bridge"),
		certgen.ExtraSANs("10.0.0.5", "kafka.example"), certgen.ServerSANs("source-kafka", "broker-1"))
	roots := caPool(t, res)
	ca := readCert(t, res.CA.CertFile)
	if !ca.IsCA || !ca.MaxPathLenZero {
		t.Errorf("CA: IsCA=%v MaxPathLenZero=%v", ca.IsCA, ca.MaxPathLenZero)
	}
	if d := ca.NotAfter.Sub(ca.NotBefore); d < certgen.DefaultCAValidity {
		t.Errorf("CA lifetime %s, want >= %s", d, certgen.DefaultCAValidity)
	}
	tests := []struct {
		name     string
		dnsName  string
		usage    x509.ExtKeyUsage
		wantFail bool
	}{
		{"source-kafka", "source-kafka", x509.ExtKeyUsageServerAuth, false},
		{"source-kafka", "broker-1", x509.ExtKeyUsageServerAuth, false},
		{"source-kafka", "localhost", x509.ExtKeyUsageServerAuth, false},
		{"source-kafka", "127.0.0.1", x509.ExtKeyUsageServerAuth, false},
		{"source-kafka", "::1", x509.ExtKeyUsageServerAuth, false},
		{"source-kafka", "10.0.0.5", x509.ExtKeyUsageServerAuth, false},
		{"source-kafka", "kafka.example", x509.ExtKeyUsageServerAuth, false},
		{"source-kafka", "", x509.ExtKeyUsageClientAuth, false}, // brokers dial each other with it
		{"source-kafka", "source-proxy", x509.ExtKeyUsageServerAuth, true},
		{"source-proxy", "source-proxy", x509.ExtKeyUsageServerAuth, false},
		{"source-proxy", "broker-1", x509.ExtKeyUsageServerAuth, true},
		{"bridge", "", x509.ExtKeyUsageClientAuth, false},
		{"bridge", "", x509.ExtKeyUsageServerAuth, true},
		{"bridge", "bridge", x509.ExtKeyUsageClientAuth, true}, // client certificates carry no SANs
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.dnsName, func(t *testing.T) {
			leaf := readCert(t, res.Certs[tt.name].CertFile)
			if leaf.Subject.CommonName != tt.name || !slices.Equal(leaf.Subject.Organization, []string{"airlock"}) {
				t.Errorf("subject %s", leaf.Subject)
			}
			if d := leaf.NotAfter.Sub(leaf.NotBefore); d < certgen.DefaultValidity || d > certgen.DefaultValidity+time.Hour {
				t.Errorf("leaf lifetime %s, want about %s", d, certgen.DefaultValidity)
			}
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: tt.dnsName, KeyUsages: []x509.ExtKeyUsage{tt.usage}})
			if (err != nil) != tt.wantFail {
				t.Errorf("Verify: err=%v, want failure %v", err, tt.wantFail)
			}
		})
	}
}

func TestSANs(t *testing.T) {
	tests := []struct {
		name    string
		opts    []certgen.Opt
		cert    string
		wantDNS []string
		wantIP  []string
	}{
		{"defaults", []certgen.Opt{certgen.Servers("s")}, "s", []string{"localhost", "s"}, []string{"127.0.0.1", "::1"}},
		{"extras", []certgen.Opt{certgen.Servers("s"), certgen.ExtraSANs("10.1.1.1", "Foo.example", "127.0.0.1")}, "s",
			[]string{"foo.example", "localhost", "s"}, []string{"10.1.1.1", "127.0.0.1", "::1"}},
		{"per server", []certgen.Opt{certgen.Servers("s", "t"), certgen.ServerSANs("t", "alias-t", "fd00::1")}, "t",
			[]string{"alias-t", "localhost", "t"}, []string{"127.0.0.1", "::1", "fd00::1"}},
		{"per server not on others", []certgen.Opt{certgen.Servers("s", "t"), certgen.ServerSANs("t", "alias-t")}, "s",
			[]string{"localhost", "s"}, []string{"127.0.0.1", "::1"}},
		{"no loopback", []certgen.Opt{certgen.Servers("s"), certgen.NoLoopbackSANs()}, "s", []string{"s"}, nil},
		{"client", []certgen.Opt{certgen.Clients("c"), certgen.ExtraSANs("10.1.1.1")}, "c", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := generate(t, t.TempDir(), tt.opts...)
			leaf := readCert(t, res.Certs[tt.cert].CertFile)
			dns := slices.Sorted(slices.Values(leaf.DNSNames))
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			slices.Sort(ips)
			if !slices.Equal(dns, tt.wantDNS) || !slices.Equal(ips, tt.wantIP) {
				t.Errorf("SANs DNS %v IP %v, want %v %v", dns, ips, tt.wantDNS, tt.wantIP)
			}
		})
	}
}

func TestIdempotentAndForce(t *testing.T) {
	dir := t.TempDir()
	opts := []certgen.Opt{certgen.Servers("a", "b"), certgen.Clients("c"), certgen.P12Password("pw")}
	first := generate(t, dir, opts...)
	for _, a := range first.Actions {
		if a.Op != certgen.Created {
			t.Errorf("first run: %s %s, want created", a.Op, a.Path)
		}
	}
	before := snapshot(t, dir)
	if len(before) != 12 { // ca pair, truststore, 3 x (crt, key, p12)
		t.Fatalf("files after first run: %v", slices.Sorted(maps.Keys(before)))
	}

	second := generate(t, dir, opts...)
	for _, a := range second.Actions {
		if a.Op != certgen.Kept {
			t.Errorf("second run: %s %s (%s), want kept", a.Op, a.Path, a.Detail)
		}
	}
	after := snapshot(t, dir)
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s changed on an idempotent run", name)
		}
	}

	generate(t, dir, append(opts, certgen.Force())...)
	forced := snapshot(t, dir)
	for name, b := range before {
		if bytes.Equal(forced[name], b) {
			t.Errorf("%s unchanged despite Force", name)
		}
	}
}

func TestReplacesInvalid(t *testing.T) {
	base := []certgen.Opt{certgen.Servers("a", "b"), certgen.Clients("c")}
	now := time.Now()
	tests := []struct {
		name    string
		setup   []certgen.Opt                  // options of the first run
		mutate  func(t *testing.T, dir string) // damage between runs
		rerun   []certgen.Opt                  // options of the second run
		want    map[string]certgen.Op          // files whose op is checked
		wantSub string                         // in the detail of the first replaced file
		at      time.Time                      // when the result is verified; zero = now
		only    bool                           // rerun with only the rerun options
	}{
		{
			name:    "SAN change replaces one server",
			rerun:   []certgen.Opt{certgen.ServerSANs("a", "alias")},
			want:    map[string]certgen.Op{"ca.crt": certgen.Kept, "a.crt": certgen.Replaced, "b.crt": certgen.Kept, "c.crt": certgen.Kept},
			wantSub: "SANs",
		},
		{
			name:    "expiring leaves",
			setup:   []certgen.Opt{certgen.Clock(func() time.Time { return now.Add(-350 * 24 * time.Hour) })},
			want:    map[string]certgen.Op{"ca.crt": certgen.Kept, "a.crt": certgen.Replaced, "c.crt": certgen.Replaced},
			wantSub: "expires",
		},
		{
			name:    "expired leaves",
			setup:   []certgen.Opt{certgen.Clock(func() time.Time { return now.Add(-400 * 24 * time.Hour) })},
			want:    map[string]certgen.Op{"ca.crt": certgen.Kept, "a.crt": certgen.Replaced},
			wantSub: "expired",
		},
		{
			name:  "short lifetime is not renewed every run",
			setup: []certgen.Opt{certgen.Validity(24 * time.Hour)},
			rerun: []certgen.Opt{certgen.Validity(24 * time.Hour)},
			want:  map[string]certgen.Op{"a.crt": certgen.Kept, "c.crt": certgen.Kept},
		},
		{
			name:    "CA within half its lifetime of expiry",
			setup:   []certgen.Opt{certgen.CAValidity(20 * 24 * time.Hour)},
			rerun:   []certgen.Opt{certgen.Clock(func() time.Time { return now.Add(11 * 24 * time.Hour) })},
			at:      now.Add(11 * 24 * time.Hour),
			want:    map[string]certgen.Op{"ca.crt": certgen.Replaced, "a.crt": certgen.Replaced, "c.crt": certgen.Replaced},
			wantSub: "expires",
		},
		{
			name:   "deleted certificate",
			mutate: func(t *testing.T, dir string) { rm(t, filepath.Join(dir, "b.crt")) },
			want:   map[string]certgen.Op{"a.crt": certgen.Kept, "b.crt": certgen.Replaced}, wantSub: "certificate missing",
		},
		{
			name:   "deleted key",
			mutate: func(t *testing.T, dir string) { rm(t, filepath.Join(dir, "b.key")) },
			want:   map[string]certgen.Op{"b.crt": certgen.Replaced, "b.key": certgen.Replaced}, wantSub: "key missing",
		},
		{
			name:   "corrupt certificate",
			mutate: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "b.crt"), []byte("garbage")) },
			want:   map[string]certgen.Op{"b.crt": certgen.Replaced}, wantSub: "unreadable",
		},
		{
			name: "signed by another CA",
			mutate: func(t *testing.T, dir string) {
				other := generate(t, t.TempDir(), certgen.Servers("b"))
				copyFile(t, other.Certs["b"].CertFile, filepath.Join(dir, "b.crt"))
				copyFile(t, other.Certs["b"].KeyFile, filepath.Join(dir, "b.key"))
			},
			want: map[string]certgen.Op{"a.crt": certgen.Kept, "b.crt": certgen.Replaced}, wantSub: "not signed by the current CA",
		},
		{
			// One RSA leaf only: RSA key generation is slow under -race.
			name:    "key type change",
			rerun:   []certgen.Opt{certgen.KeyType(certgen.RSA), certgen.Clients("c")},
			only:    true,
			want:    map[string]certgen.Op{"ca.crt": certgen.Kept, "c.crt": certgen.Replaced},
			wantSub: "--force replaces it",
		},
		{
			name:    "organization change",
			rerun:   []certgen.Opt{certgen.Organization("other")},
			want:    map[string]certgen.Op{"a.crt": certgen.Replaced, "c.crt": certgen.Replaced},
			wantSub: "subject",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			generate(t, dir, slices.Concat(base, tt.setup)...)
			if tt.mutate != nil {
				tt.mutate(t, dir)
			}
			opts := slices.Concat(base, tt.rerun)
			if tt.only {
				opts = tt.rerun
			}
			res := generate(t, dir, opts...)
			got := ops(res)
			for f, op := range tt.want {
				if got[f] != op {
					t.Errorf("%s: %s, want %s (actions %+v)", f, got[f], op, res.Actions)
				}
			}
			if tt.wantSub != "" && !slices.ContainsFunc(res.Actions, func(a certgen.Action) bool { return strings.Contains(a.Detail, tt.wantSub) }) {
				t.Errorf("no action detail contains %q: %+v", tt.wantSub, res.Actions)
			}
			// Whatever was replaced, the result must verify again.
			roots := caPool(t, res)
			for name, p := range res.Certs {
				vo := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: tt.at}
				if _, err := readCert(t, p.CertFile).Verify(vo); err != nil {
					t.Errorf("%s does not verify after the rerun: %v", name, err)
				}
				if _, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}

func TestRefusesMismatchAndIncomplete(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(t *testing.T, dir string)
		wantErr error
	}{
		{"leaf certificate of another key", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(dir, "c.crt"), filepath.Join(dir, "a.crt"))
		}, certgen.ErrKeyMismatch},
		{"CA certificate of another key", func(t *testing.T, dir string) {
			other := generate(t, t.TempDir(), certgen.Clients("x"))
			copyFile(t, other.CA.CertFile, filepath.Join(dir, "ca.crt"))
		}, certgen.ErrKeyMismatch},
		{"CA key missing", func(t *testing.T, dir string) { rm(t, filepath.Join(dir, "ca.key")) }, certgen.ErrIncomplete},
		{"CA certificate missing", func(t *testing.T, dir string) { rm(t, filepath.Join(dir, "ca.crt")) }, certgen.ErrIncomplete},
		{"leaf key unreadable", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a.key"), []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
		}, certgen.ErrIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := []certgen.Opt{certgen.Servers("a"), certgen.Clients("c")}
			generate(t, dir, opts...)
			tt.mutate(t, dir)
			before := snapshot(t, dir)
			_, err := certgen.Generate(dir, opts...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			after := snapshot(t, dir)
			if len(after) != len(before) {
				t.Errorf("files: %d before, %d after a refused run", len(before), len(after))
			}
			for name, b := range before {
				if !bytes.Equal(after[name], b) {
					t.Errorf("%s changed although Generate refused", name)
				}
			}
			// Force is the way out.
			res := generate(t, dir, append(opts, certgen.Force())...)
			if _, err := tls.LoadX509KeyPair(res.Certs["a"].CertFile, res.Certs["a"].KeyFile); err != nil {
				t.Errorf("after Force: %v", err)
			}
		})
	}
}

func TestFileModes(t *testing.T) {
	dir := t.TempDir()
	res := generate(t, dir, certgen.Servers("a"), certgen.Clients("c"), certgen.P12Password("pw"))
	want := map[string]os.FileMode{
		"ca.crt": 0o644, "ca.key": 0o600, "truststore.p12": 0o644,
		"a.crt": 0o644, "a.key": 0o600, "a.p12": 0o600, "c.crt": 0o644, "c.key": 0o600, "c.p12": 0o600,
	}
	check := func() {
		t.Helper()
		for f, m := range want {
			st, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != m {
				t.Errorf("%s: mode %o, want %o", f, st.Mode().Perm(), m)
			}
		}
	}
	check()
	if err := os.Chmod(res.Certs["a"].KeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	again := generate(t, dir, certgen.Servers("a"), certgen.Clients("c"), certgen.P12Password("pw"))
	check()
	if !slices.ContainsFunc(again.Actions, func(a certgen.Action) bool {
		return a.Path == res.Certs["a"].KeyFile && a.Op == certgen.Kept && strings.Contains(a.Detail, "0600")
	}) {
		t.Errorf("tightened key mode not reported: %+v", again.Actions)
	}
}

func TestP12(t *testing.T) {
	dir := t.TempDir()
	res := generate(t, dir, certgen.Servers("a"), certgen.Clients("c"), certgen.P12Password("s3cret"))
	ca := readCert(t, res.CA.CertFile)
	for _, name := range []string{"a", "c"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(res.Certs[name].P12File)
			if err != nil {
				t.Fatal(err)
			}
			key, cert, chain, err := pkcs12.DecodeChain(data, "s3cret")
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !cert.Equal(readCert(t, res.Certs[name].CertFile)) {
				t.Error("keystore holds another certificate than the .crt")
			}
			if signer, ok := key.(crypto.Signer); !ok {
				t.Errorf("key %T", key)
			} else if !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
				t.Error("keystore key does not match its certificate")
			}
			if len(chain) != 1 || !chain[0].Equal(ca) {
				t.Errorf("chain %d certificates, want the CA", len(chain))
			}
			if _, _, _, err := pkcs12.DecodeChain(data, "wrong"); err == nil {
				t.Error("decoded with a wrong password")
			}
		})
	}
	certs, err := pkcs12.DecodeTrustStore(mustReadFile(t, res.Truststore), "s3cret")
	if err != nil || len(certs) != 1 || !certs[0].Equal(ca) {
		t.Errorf("truststore: %d certs, err %v", len(certs), err)
	}
	// A new password rewrites the keystores but keeps the PEM files.
	again := generate(t, dir, certgen.Servers("a"), certgen.Clients("c"), certgen.P12Password("other"))
	got := ops(again)
	if got["a.p12"] != certgen.Replaced || got["truststore.p12"] != certgen.Replaced || got["a.crt"] != certgen.Kept {
		t.Errorf("password change: %v", got)
	}
	if _, _, _, err := pkcs12.DecodeChain(mustReadFile(t, res.Certs["a"].P12File), "other"); err != nil {
		t.Errorf("decode with the new password: %v", err)
	}
	// Without a password, no keystore is written and a changed certificate flags the old one.
	noPW := generate(t, dir, certgen.Servers("a"), certgen.Clients("c"), certgen.ServerSANs("a", "x"))
	if got := ops(noPW); got["a.p12"] != certgen.Stale || got["c.p12"] != "" {
		t.Errorf("without password: %v", got)
	}
}

func TestRSA(t *testing.T) {
	dir := t.TempDir()
	res := generate(t, dir, certgen.Servers("a"), certgen.KeyType(certgen.RSA))
	for _, f := range []string{res.CA.CertFile, res.Certs["a"].CertFile} {
		pub, ok := readCert(t, f).PublicKey.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() != 3072 {
			t.Errorf("%s: key %T, want RSA 3072", f, readCert(t, f).PublicKey)
		}
	}
	leaf := readCert(t, res.Certs["a"].CertFile)
	if leaf.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Error("RSA leaf lacks key encipherment")
	}
	handshake(t, res, "a", "", "a")
	if got := ops(generate(t, dir, certgen.Servers("a"), certgen.KeyType(certgen.RSA))); got["a.crt"] != certgen.Kept {
		t.Errorf("RSA rerun: %v", got)
	}
}

func TestMutualTLSHandshake(t *testing.T) {
	res := generate(t, t.TempDir(), certgen.Servers("source-kafka"), certgen.Clients("bridge", "producer"))
	for _, tt := range []struct{ serverName, client string }{
		{"source-kafka", "bridge"}, {"localhost", "producer"}, {"127.0.0.1", "bridge"}, {"::1", "bridge"},
	} {
		t.Run(tt.serverName+"/"+tt.client, func(t *testing.T) {
			handshake(t, res, "source-kafka", tt.client, tt.serverName)
		})
	}
	t.Run("no client certificate", func(t *testing.T) {
		if err := tryHandshake(t, res, "source-kafka", "", "source-kafka", true); err == nil {
			t.Fatal("server accepted a client without certificate")
		}
	})
	t.Run("wrong server name", func(t *testing.T) {
		if err := tryHandshake(t, res, "source-kafka", "bridge", "other", true); err == nil {
			t.Fatal("client accepted a certificate for another name")
		}
	})
}

func handshake(t *testing.T, res *certgen.Result, server, client, serverName string) {
	t.Helper()
	if err := tryHandshake(t, res, server, client, serverName, client != ""); err != nil {
		t.Fatal(err)
	}
}

// tryHandshake runs a TLS handshake over an in-memory pipe with the generated
// files, requiring a client certificate when requireClient is set.
func tryHandshake(t *testing.T, res *certgen.Result, server, client, serverName string, requireClient bool) error {
	t.Helper()
	srvCert, err := tls.LoadX509KeyPair(res.Certs[server].CertFile, res.Certs[server].KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := caPool(t, res)
	srvCfg := &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientCAs: roots, MinVersion: tls.VersionTLS12}
	if requireClient {
		srvCfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	cliCfg := &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if client != "" {
		c, err := tls.LoadX509KeyPair(res.Certs[client].CertFile, res.Certs[client].KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		cliCfg.Certificates = []tls.Certificate{c}
	}
	a, b := net.Pipe()
	deadline := time.Now().Add(20 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	type outcome struct {
		err  error
		peer []*x509.Certificate
	}
	done := make(chan outcome, 1)
	go func() {
		srv := tls.Server(a, srvCfg)
		err := srv.Handshake()
		peer := srv.ConnectionState().PeerCertificates
		_ = srv.Close()
		done <- outcome{err, peer}
	}()
	cli := tls.Client(b, cliCfg)
	cerr := cli.Handshake()
	if cerr == nil {
		// A TLS 1.3 client finishes before the server has judged its certificate; the
		// verdict arrives as an alert (or as close_notify on success).
		if _, rerr := cli.Read(make([]byte, 1)); !errors.Is(rerr, io.EOF) {
			cerr = rerr
		}
	}
	_ = cli.Close()
	out := <-done
	if err := errors.Join(out.err, cerr); err != nil {
		return err
	}
	if requireClient && (len(out.peer) == 0 || out.peer[0].Subject.CommonName != client) {
		t.Errorf("server saw client %v, want %s", out.peer, client)
	}
	return nil
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		name    string
		opts    []certgen.Opt
		wantErr error
	}{
		{"empty name", []certgen.Opt{certgen.Servers("")}, certgen.ErrInvalidName},
		{"reserved ca", []certgen.Opt{certgen.Clients("ca")}, certgen.ErrInvalidName},
		{"reserved truststore", []certgen.Opt{certgen.Servers("Truststore")}, certgen.ErrInvalidName},
		{"path separator", []certgen.Opt{certgen.Servers("../x")}, certgen.ErrInvalidName},
		{"duplicate across kinds", []certgen.Opt{certgen.Servers("x"), certgen.Clients("x")}, certgen.ErrInvalidName},
		{"SANs for unknown server", []certgen.Opt{certgen.Servers("x"), certgen.ServerSANs("y", "a")}, certgen.ErrInvalidName},
		{"bad SAN", []certgen.Opt{certgen.Servers("x"), certgen.ExtraSANs("not a name")}, certgen.ErrInvalidSAN},
		{"bad server SAN", []certgen.Opt{certgen.Servers("x"), certgen.ServerSANs("x", "a/b")}, certgen.ErrInvalidSAN},
		{"zero validity", []certgen.Opt{certgen.Servers("x"), certgen.Validity(0)}, certgen.ErrInvalidOption},
		{"unknown key type", []certgen.Opt{certgen.Servers("x"), certgen.KeyType("dsa")}, certgen.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			_, err := certgen.Generate(dir, tt.opts...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if _, statErr := os.Stat(dir); statErr == nil {
				t.Error("output directory created for invalid input")
			}
		})
	}
}

func TestInMemoryCA(t *testing.T) {
	ca, err := certgen.NewCA(certgen.Organization("test"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue("svc", certgen.ServerUsage, certgen.ExtraSANs("10.9.9.9"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "10.9.9.9"}); err != nil {
		t.Errorf("server: %v", err)
	}
	if srv.TLS.Leaf != srv.Leaf || len(srv.TLS.Certificate) != 1 || srv.Leaf.Subject.Organization[0] != "test" {
		t.Errorf("tls.Certificate not filled: %+v", srv.TLS)
	}
	if _, err := tls.X509KeyPair(srv.CertPEM, srv.KeyPEM); err != nil {
		t.Errorf("PEM pair: %v", err)
	}
	past := time.Now().Add(-48 * time.Hour)
	old, err := ca.Issue("old", certgen.ClientUsage, certgen.Clock(func() time.Time { return past }), certgen.Validity(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = old.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Errorf("expired certificate: err %v", err)
	}
	// A leaf never outlives its CA.
	long, err := ca.Issue("long", certgen.ClientUsage, certgen.Validity(100*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !long.Leaf.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %s, CA %s", long.Leaf.NotAfter, ca.Cert.NotAfter)
	}
	// LoadCA reads back what Generate wrote and issues certificates that verify against the file.
	res := generate(t, t.TempDir(), certgen.Clients("c"))
	loaded, err := certgen.LoadCA(res.CA.CertFile, res.CA.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := loaded.Issue("x", certgen.ClientUsage)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: caPool(t, res), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("issued by loaded CA: %v", err)
	}
	if _, err := ca.Issue("x", certgen.Usage(0)); !errors.Is(err, certgen.ErrInvalidOption) {
		t.Errorf("usage 0: %v", err)
	}
}

func rm(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	write(t, to, mustReadFile(t, from))
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
