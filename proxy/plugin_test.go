package proxy

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/airlock-kafka/airlock/proxy/auth"
)

// buildAuthStatic builds the example verifier plugin into a temporary directory.
func buildAuthStatic(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build the plugin: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "airlock-auth-static")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/airlock-kafka/airlock/cmd/airlock-auth-static")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build airlock-auth-static: %v\n%s", err, out)
	}
	return bin
}

// TestPluginVerifierLogin: clients log in through the proxy against the users of
// the airlock-auth-static plugin, a separate process the proxy starts.
func TestPluginVerifierLogin(t *testing.T) {
	bin := buildAuthStatic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, closer, err := auth.NewPluginVerifier(ctx, bin,
		[]string{"--user", "erin=erin-secret", "--user", "frank=frank has spaces", "--log-level", "warn"},
		auth.WithPluginLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("start plugin: %v", err)
	}
	t.Cleanup(func() {
		if err := closer.Close(); err != nil {
			t.Errorf("stop plugin: %v", err)
		}
	})
	a, err := auth.NewAuthenticator(v)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "plugin"))
	tp := startProxy(t, c, LocalSASL(a))

	erin := scram.Auth{User: "erin", Pass: "erin-secret"}
	frank := scram.Auth{User: "frank", Pass: "frank has spaces"}
	for _, tc := range []struct {
		name string
		mech sasl.Mechanism
	}{
		{"PLAIN", plain.Auth{User: erin.User, Pass: erin.Pass}.AsMechanism()},
		{"SCRAM-SHA-256", erin.AsSha256Mechanism()},
		{"SCRAM-SHA-512", frank.AsSha512Mechanism()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := secCounter(t, tp, "proxy_client_auth_successes_total", "mechanism", tc.mech.Name())
			secProduceConsume(t, tp, "plugin", 3, kgo.SASL(tc.mech))
			if got := secCounter(t, tp, "proxy_client_auth_successes_total", "mechanism", tc.mech.Name()); got <= before {
				t.Fatalf("no %s login counted", tc.mech.Name())
			}
		})
	}
	for _, tc := range []struct {
		name   string
		mech   sasl.Mechanism
		reason string
	}{
		{"PLAIN wrong password", plain.Auth{User: erin.User, Pass: "wrong"}.AsMechanism(), auth.ReasonBadCredentials},
		{"SCRAM-SHA-512 wrong password", scram.Auth{User: frank.User, Pass: "wrong"}.AsSha512Mechanism(), auth.ReasonBadCredentials},
		{"SCRAM-SHA-256 unknown user", scram.Auth{User: "mallory", Pass: "x"}.AsSha256Mechanism(), auth.ReasonUnknownUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := secCounter(t, tp, "proxy_client_auth_failures_total", "reason", tc.reason)
			if err := secPing(tp, kgo.SASL(tc.mech)); !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Fatalf("client error %v, want SASL_AUTHENTICATION_FAILED", err)
			}
			eventually(t, 5*time.Second, "failure counted as "+tc.reason, func() bool {
				return secCounter(t, tp, "proxy_client_auth_failures_total", "reason", tc.reason) == before+1
			})
		})
	}
}
