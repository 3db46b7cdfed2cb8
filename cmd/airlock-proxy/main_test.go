package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/flagenv"
)

// The airlock-proxy binary as an operator runs it: built, configured by flags,
// probed over HTTP, stopped with SIGTERM.

// buildBinary builds airlock-proxy into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build airlock-proxy: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "airlock-proxy")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build airlock-proxy: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is the test's environment without AIRLOCK_PROXY_* variables.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			out = append(out, kv)
		}
	}
	return out
}

// freePort returns a port that was free on host a moment ago: the HTTP listener's
// port cannot be learned from the process, so the test picks it.
func freePort(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > 6000 {
		s = "..." + s[len(s)-6000:]
	}
	return s
}

// poll retries cond every 20 ms until it holds or d passes.
func poll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get returns the status and body of an HTTP GET, or 0 when nothing answers.
func get(url string) (int, string) {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	t.Run("help lists every flag with its env variable", func(t *testing.T) { binHelp(t, bin) })
	t.Run("bad flags exit 2 with the reason", func(t *testing.T) { binBadFlags(t, bin) })
	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "airlock-proxy ") {
			t.Fatalf("--version: %v %q", err, out)
		}
	})
	t.Run("serve, probe, produce, SIGTERM", func(t *testing.T) { binEndToEnd(t, bin) })
}

var helpFlag = regexp.MustCompile(`^  -([a-z0-9-]+)`)

func binHelp(t *testing.T, bin string) {
	cmd := exec.Command(bin, "--help")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("--help must exit 0: %v\n%s", err, out)
	}
	usage := map[string]string{}
	var cur string
	for _, line := range strings.Split(string(out), "\n") {
		if m := helpFlag.FindStringSubmatch(line); m != nil {
			cur = m[1]
			usage[cur] = ""
			continue
		}
		if cur != "" {
			usage[cur] += line
		}
	}
	// Every flag the tests of this package rely on, and the ones operators need most.
	for _, name := range []string{
		"config", "log-level", "log-format", "bootstrap-server-mapping", "external-server-mapping",
		"dial-address-mapping", "dynamic-listeners-disable", "dynamic-sequential-min-port",
		"dynamic-node-id-ports", "dynamic-advertised-listener", "dynamic-bind-host", "forbidden-api-keys",
		"max-request-size", "max-in-flight", "dial-timeout", "write-timeout", "idle-timeout",
		"tcp-keepalive", "socket-read-buffer", "socket-write-buffer", "shutdown-timeout",
		"http-listen-address", "upstream-tls", "upstream-sasl-mechanism",
	} {
		if _, ok := usage[name]; !ok {
			t.Errorf("--help does not list --%s", name)
		}
	}
	if len(usage) < 25 {
		t.Fatalf("parsed only %d flags from --help:\n%s", len(usage), out)
	}
	for name, text := range usage {
		if want := "(env " + flagenv.EnvName(envPrefix, name) + ")"; !strings.Contains(text, want) {
			t.Errorf("--help for --%s does not show %s: %q", name, want, strings.TrimSpace(text))
		}
	}
	if !strings.Contains(string(out), "Flags win over env, env over the file") {
		t.Error("--help does not explain the precedence of flags, env and config file")
	}
}

func binBadFlags(t *testing.T, bin string) {
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"no bootstrap mapping", nil, nil, "--bootstrap-server-mapping"},
		{"bad mapping from env", nil, []string{"AIRLOCK_PROXY_BOOTSTRAP_SERVER_MAPPING=kafka:9092"}, "kafka:9092"},
		{"bad template", []string{"--bootstrap-server-mapping", boot, "--dynamic-advertised-listener", "{{"}, nil, "template"},
		{"bad log level", []string{"--bootstrap-server-mapping", boot, "--log-level", "loud"}, nil, "loud"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(cleanEnv(), tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("want exit status 2, got %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "airlock-proxy:") || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr does not explain %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

func binEndToEnd(t *testing.T, bin string) {
	const topic, n = "e2e", 50
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	httpAddr := freePort(t, "127.0.0.1")
	listen := freePort(t, "127.0.0.2")
	const shutdownTimeout = 5 * time.Second

	var logs syncBuffer
	cmd := exec.Command(bin,
		"--bootstrap-server-mapping", c.ListenAddrs()[0]+","+listen,
		"--http-listen-address", httpAddr,
		"--shutdown-timeout", shutdownTimeout.String(),
		"--log-format", "json")
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	base := "http://" + httpAddr
	poll(t, 20*time.Second, "/healthz answering", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("airlock-proxy exited before serving: %v\n%s", err, logs.String())
		default:
		}
		code, _ := get(base + "/healthz")
		return code == http.StatusOK
	})
	poll(t, 10*time.Second, "/readyz 200", func() bool {
		code, _ := get(base + "/readyz")
		return code == http.StatusOK
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(listen), kgo.DefaultProduceTopic(topic),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(3*time.Second), kgo.RetryTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		t.Fatalf("metadata through the binary: %v\n%s", err, logs.String())
	}
	for _, b := range meta.Brokers {
		if b.Host != "127.0.0.2" {
			t.Errorf("broker %d advertised as %s:%d, not on the proxy's host", b.NodeID, b.Host, b.Port)
		}
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte("v" + strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce through the binary: %v\n%s", err, logs.String())
	}
	for seen := 0; seen < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d", seen, n)
		}
		seen += fs.NumRecords()
	}

	code, metrics := get(base + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, name := range []string{
		"proxy_opened_connections", "proxy_connections_total", "proxy_requests_total",
		"proxy_rewritten_responses_total", "proxy_listeners", "proxy_draining", "go_goroutines",
	} {
		if !strings.Contains(metrics, "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// The consumer keeps a fetch long-polling at a broker, so the drain has a
	// request in flight to wait for.
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for pollCtx.Err() == nil {
			cl.PollFetches(pollCtx)
		}
	}()
	defer func() { stopPoll(); <-polled }()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signaled := time.Now()
	saw503 := false
	deadline := time.After(shutdownTimeout + 5*time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			if err != nil {
				t.Fatalf("airlock-proxy did not exit 0 after SIGTERM: %v\n%s", err, logs.String())
			}
			t.Logf("exited 0 after SIGTERM (saw /readyz 503 while draining: %v)", saw503)
			if !strings.Contains(logs.String(), "airlock-proxy stopped") {
				t.Errorf("no clean stop in the log:\n%s", logs.String())
			}
			return
		case <-deadline:
			t.Fatalf("airlock-proxy still running %s after SIGTERM (shutdown timeout %s)\n%s",
				shutdownTimeout+5*time.Second, shutdownTimeout, logs.String())
		case <-time.After(20 * time.Millisecond):
			if code, body := get(base + "/readyz"); code == http.StatusServiceUnavailable {
				if !strings.Contains(body, "draining") {
					t.Errorf("/readyz 503 without saying why: %q", body)
				}
				saw503 = true
			} else if code == http.StatusOK && time.Since(signaled) > time.Second {
				// The signal is handled asynchronously; a second is ample.
				t.Fatal("/readyz still 200 a second after SIGTERM")
			}
		}
	}
}
