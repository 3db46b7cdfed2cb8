package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/airlock-kafka/airlock/certgen"
	"github.com/airlock-kafka/airlock/internal/tlsutil"
	"github.com/airlock-kafka/airlock/proxy/auth"
)

// The built airlock-proxy binary with TLS and SASL on both sides, configured only by
// flags, as an operator would run it.

// secProcess is a running airlock-proxy whose JSON log is collected.
type secProcess struct {
	cmd       *exec.Cmd
	mu        sync.Mutex
	log       bytes.Buffer
	bootstrap chan string
	exited    chan error
}

func (p *secProcess) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.log.String()
	if len(s) > 6000 {
		s = "..." + s[len(s)-6000:]
	}
	return s
}

// secStart runs bin with args and returns once it logged its bootstrap address.
func secStart(t *testing.T, bin string, args ...string) (*secProcess, string) {
	t.Helper()
	p := &secProcess{cmd: exec.Command(bin, args...), bootstrap: make(chan string, 1), exited: make(chan error, 1)}
	p.cmd.Env = cleanEnv()
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.Write(sc.Bytes())
			p.log.WriteByte('\n')
			p.mu.Unlock()
			var line struct {
				Msg       string   `json:"msg"`
				Bootstrap []string `json:"bootstrap"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "airlock-proxy starting" && len(line.Bootstrap) > 0 {
				select {
				case p.bootstrap <- line.Bootstrap[0]:
				default:
				}
			}
		}
	}()
	go func() {
		<-scanned // Wait must not run before the pipe is read to its end
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	select {
	case addr := <-p.bootstrap:
		return p, addr
	case err := <-p.exited:
		p.exited <- err
		t.Fatalf("airlock-proxy exited before serving: %v\n%s", err, p.logTail())
	case <-time.After(30 * time.Second):
		t.Fatalf("airlock-proxy did not log its bootstrap address in 30s\n%s", p.logTail())
	}
	return nil, ""
}

// TestBinarySecurity builds airlock-proxy once and runs it configured for TLS and
// SASL on both sides, then with security flags that cannot work.
func TestBinarySecurity(t *testing.T) {
	bin := buildBinary(t)
	t.Run("TLS and SASL both sides", func(t *testing.T) { secEndToEnd(t, bin) })
	t.Run("flag errors", func(t *testing.T) { secFlagErrors(t, bin) })
}

// secEndToEnd runs bin in front of a kfake cluster that wants TLS and
// SCRAM-SHA-512, with TLS and local SASL towards clients, and moves records
// through it.
func secEndToEnd(t *testing.T, bin string) {
	dir := t.TempDir()
	files, err := certgen.Generate(filepath.Join(dir, "pki"), certgen.Servers("proxy", "broker"), certgen.ExtraSANs("127.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	brokerCert, err := tls.LoadX509KeyPair(files.Certs["broker"].CertFile, files.Certs["broker"].KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{brokerCert}}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "proxy", "proxy-secret"), kfake.SeedTopics(2, "binary"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	alice := plain.Auth{User: "alice", Pass: "alice-secret"}
	carol := scram.Auth{User: "carol", Pass: "carol-secret"}
	hash, err := auth.HashPlainCost(alice.Pass, 4)
	if err != nil {
		t.Fatal(err)
	}
	plainLine, err := auth.FormatPlainLine(alice.User, hash)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := auth.NewSCRAMCredential(auth.MechanismSCRAMSHA256, carol.Pass, auth.MinSCRAMIterations)
	if err != nil {
		t.Fatal(err)
	}
	scramLine, err := auth.FormatSCRAMLine(carol.User, auth.MechanismSCRAMSHA256, cred)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users")
	passFile := filepath.Join(dir, "upstream-password")
	for path, content := range map[string]string{users: plainLine + "\n" + scramLine + "\n", passFile: "proxy-secret\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	p, addr := secStart(t, bin,
		"--bootstrap-server-mapping", c.ListenAddrs()[0]+",127.0.0.2:0",
		"--http-listen-address", "", "--log-format", "json", "--shutdown-timeout", "5s",
		"--client-tls-cert-file", files.Certs["proxy"].CertFile, "--client-tls-key-file", files.Certs["proxy"].KeyFile,
		"--client-sasl-users-file", users,
		"--upstream-tls", "--upstream-tls-ca-file", files.CA.CertFile,
		"--upstream-sasl-mechanism", "SCRAM-SHA-512", "--upstream-sasl-user", "proxy",
		"--upstream-sasl-password-file", passFile,
	)
	pool, err := tlsutil.LoadCertPool(files.CA.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var clients []*kgo.Client
	client := func(m sasl.Mechanism, opts ...kgo.Opt) *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}),
			kgo.SASL(m)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		clients = append(clients, cl)
		return cl
	}

	for _, m := range []sasl.Mechanism{alice.AsMechanism(), carol.AsSha256Mechanism()} {
		t.Run(m.Name(), func(t *testing.T) {
			cl := client(m, kgo.DefaultProduceTopic("binary"), kgo.ConsumeTopics("binary"),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RetryTimeout(20*time.Second))
			want := map[string]bool{}
			for i := range 10 {
				v := m.Name() + "-" + strconv.Itoa(i)
				want[v] = true
				if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatalf("produce through the binary: %v\n%s", err, p.logTail())
				}
			}
			for len(want) > 0 {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("%d records not consumed back\n%s", len(want), p.logTail())
				}
				fs.EachRecord(func(r *kgo.Record) { delete(want, string(r.Value)) })
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		err := client(plain.Auth{User: alice.User, Pass: "wrong"}.AsMechanism()).Ping(ctx)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
	})

	// Idle clients leave nothing in flight (a consumer's long poll would hold the
	// drain until its timeout).
	for _, cl := range clients {
		cl.Close()
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logTail())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("airlock-proxy did not stop within 20s of SIGTERM\n%s", p.logTail())
	}
	if log := p.logTail(); !strings.Contains(log, `"msg":"client authentication failed; closing"`) {
		t.Errorf("the failed login is not in the log:\n%s", log)
	}
}

// secFlagErrors: a security setting that cannot work stops bin at start with an
// error naming what is wrong.
func secFlagErrors(t *testing.T, bin string) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missingCert := filepath.Join(dir, "no-such-dir", "proxy.crt")
	missingUsers := filepath.Join(dir, "no-such-users")
	base := []string{"--bootstrap-server-mapping", "127.0.0.1:1,127.0.0.2:0", "--http-listen-address", ""}
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"missing certificate file", []string{"--client-tls-cert-file", missingCert, "--client-tls-key-file", filepath.Join(dir, "proxy.key")},
			1, []string{missingCert}},
		{"users file and plugin both", []string{"--client-sasl-users-file", users, "--client-sasl-plugin", "/bin/true"},
			2, []string{"--client-sasl-users-file", "--client-sasl-plugin"}},
		{"unknown upstream mechanism", []string{"--upstream-sasl-mechanism", "GSSAPI", "--upstream-sasl-user", "proxy"},
			2, []string{"GSSAPI", "unknown SASL mechanism"}},
		{"missing users file", []string{"--client-sasl-users-file", missingUsers}, 1, []string{missingUsers}},
		{"client CA without a certificate", []string{"--client-tls-client-ca-file", users}, 1, []string{"cert file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Refusals happen before anything is served, in well under a second; a
			// binary still running after the deadline started despite the flags.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(append([]string{}, base...), tc.args...)...)
			cmd.Env = cleanEnv()
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("want exit code %d, got %v (ctx %v)\n%s", tc.code, err, ctx.Err(), out)
			}
			if ee.ExitCode() != tc.code {
				t.Errorf("exit code %d, want %d\n%s", ee.ExitCode(), tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("error output does not mention %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "airlock-proxy starting") {
				t.Errorf("the proxy started despite the bad flags:\n%s", out)
			}
		})
	}
}
