package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/airlock-kafka/airlock/certgen"
	"github.com/airlock-kafka/airlock/internal/tlsutil"
)

// kcat (librdkafka) through a proxy that terminates TLS and authenticates clients
// itself, in front of brokers that want TLS and SCRAM from the proxy: the
// configuration a real deployment between two networks has.

// kcatSecPath is where `make deps` installs kcat (Debian package kcat).
const kcatSecPath = "/usr/bin/kcat"

// secKcat returns kcat's path; a missing kcat fails the test, as a skip would hide
// that no non-Go client ever logged in through the proxy.
func secKcat(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath(kcatSecPath); err == nil {
		return p
	}
	p, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat not found at %s or on PATH (%v): `make deps` installs it (Debian package kcat)", kcatSecPath, err)
	}
	return p
}

// secRunKcat runs kcat with a deadline and returns stdout; a failure shows stderr,
// where librdkafka explains TLS and SASL problems.
func secRunKcat(t *testing.T, kcat, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, args...)
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(stdin)
	if err := cmd.Run(); err != nil {
		errOut := stderr.String()
		if len(errOut) > 4000 {
			errOut = "..." + errOut[len(errOut)-4000:]
		}
		t.Fatalf("kcat %s: %v (ctx: %v)\nstdout:\n%.2000s\nstderr:\n%s", strings.Join(args, " "), err, ctx.Err(), stdout.String(), errOut)
	}
	return stdout.String()
}

var secKcatBroker = regexp.MustCompile(`(?m)^\s*broker (-?\d+) at (\S+)`)

func TestKcatTLSAndSASL(t *testing.T) {
	kcat := secKcat(t)
	dir := t.TempDir()
	files, err := certgen.Generate(dir, certgen.Servers("proxy", "broker"), certgen.ExtraSANs(proxyHost))
	if err != nil {
		t.Fatal(err)
	}
	brokerFiles, proxyFiles := files.Certs["broker"], files.Certs["proxy"]
	brokerCert, err := tls.LoadX509KeyPair(brokerFiles.CertFile, brokerFiles.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := tlsutil.LoadCertPool(files.CA.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tlsutil.NewServer(tlsutil.ServerFiles{CertFile: proxyFiles.CertFile, KeyFile: proxyFiles.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mech, user, pass string
	}{
		{"PLAIN", secAlice.User, secAlice.Pass},
		{"SCRAM-SHA-512", secBob.User, secBob.Pass},
		{"SCRAM-SHA-256", secCarol.User, secCarol.Pass},
	}
	topic := func(i int) string { return "kcat-sasl-" + strconv.Itoa(i) }
	var topics []string
	for i := range cases {
		topics = append(topics, topic(i))
	}
	c := newCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{brokerCert}}), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", secUpstreamUser, secUpstreamPass), kfake.SeedTopics(3, topics...))
	tp := startProxy(t, c,
		UpstreamTLS(&tls.Config{RootCAs: pool}),
		UpstreamSASL(scram.Auth{User: secUpstreamUser, Pass: secUpstreamPass}.AsSha512Mechanism()),
		ClientTLS(srv.Config()), LocalSASL(secAuthenticator(t)))

	for i, tc := range cases {
		t.Run(tc.mech, func(t *testing.T) {
			args := func(more ...string) []string {
				return append([]string{"-b", strings.Join(tp.BootstrapAddrs(), ","), "-m", "15",
					"-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=" + tc.mech,
					"-X", "sasl.username=" + tc.user, "-X", "sasl.password=" + tc.pass,
					"-X", "ssl.ca.location=" + files.CA.CertFile,
					"-X", "socket.timeout.ms=15000", "-X", "topic.message.timeout.ms=15000"}, more...)
			}
			out := secRunKcat(t, kcat, "", args("-L", "-t", topic(i))...)
			brokers := secKcatBroker.FindAllStringSubmatch(out, -1)
			if len(brokers) != len(c.ListenAddrs()) {
				t.Fatalf("kcat -L lists %d brokers, want %d:\n%s", len(brokers), len(c.ListenAddrs()), out)
			}
			listening := map[string]bool{}
			for _, a := range tp.Addrs() {
				listening[a] = true
			}
			for _, b := range brokers {
				if !listening[b[2]] {
					t.Errorf("kcat -L: broker %s at %s, not a proxy listener (%v)", b[1], b[2], tp.Addrs())
				}
			}

			var want []string
			for j := range 30 {
				want = append(want, tc.mech+"-"+strconv.Itoa(j))
			}
			// -p -1 spreads records over all partitions, so kcat logs in to every broker.
			secRunKcat(t, kcat, strings.Join(want, "\n")+"\n", args("-P", "-t", topic(i), "-p", "-1")...)
			out = secRunKcat(t, kcat, "", args("-C", "-t", topic(i), "-o", "beginning", "-e", "-q", "-f", "%s\n")...)
			got := strings.Fields(out)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("kcat consumed %d records, want %d:\n got %.300q\nwant %.300q", len(got), len(want), got, want)
			}
			if n := secCounter(t, tp, "proxy_client_auth_successes_total", "mechanism", tc.mech); n < 3 {
				t.Errorf("%v %s logins counted, want at least 3 (one per kcat run)", n, tc.mech)
			}
		})
	}
	for _, m := range []string{"proxy_client_auth_failures_total", "proxy_client_tls_failures_total", "proxy_upstream_auth_failures_total"} {
		if got := sumMetric(t, tp, m); got != 0 {
			t.Errorf("%s = %v", m, got)
		}
	}
}
