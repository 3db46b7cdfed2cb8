package auth

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pluginBinary builds cmd/airlock-auth-static once per test binary.
var pluginBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "airlock-auth-static-*")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "airlock-auth-static")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/airlock-kafka/airlock/cmd/airlock-auth-static")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("go build: " + err.Error() + "\n" + string(out))
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := pluginBinary(); err == nil {
		_ = os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func buildPlugin(t *testing.T) string {
	t.Helper()
	bin, err := pluginBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startStatic(t *testing.T, opts ...PluginOption) (Verifier, *pluginVerifier, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	opts = append([]PluginOption{WithPluginLogger(slog.New(slog.NewTextHandler(logs, nil)))}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, closer, err := NewPluginVerifier(ctx, buildPlugin(t),
		[]string{"--users-file", "testdata/static_users.txt", "--user", "carol=carol-secret"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	return v, v.(*pluginVerifier), logs
}

func TestPluginStaticThroughAuthenticator(t *testing.T) {
	ctx := context.Background()
	v, _, logs := startStatic(t)
	a, err := NewAuthenticator(v)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mech, user, pass, wantReason string
	}{
		{MechanismPlain, "alice", "alice-secret", ReasonOK},
		{MechanismPlain, "bob", "bob=secret with spaces", ReasonOK},
		{MechanismPlain, "carol", "carol-secret", ReasonOK},
		{MechanismPlain, "alice", "wrong", ReasonBadCredentials},
		{MechanismPlain, "mallory", "alice-secret", ReasonUnknownUser},
		{MechanismSCRAMSHA256, "alice", "alice-secret", ReasonOK},
		{MechanismSCRAMSHA256, "alice", "wrong", ReasonBadCredentials},
		{MechanismSCRAMSHA256, "mallory", "x", ReasonUnknownUser},
		{MechanismSCRAMSHA512, "bob", "bob=secret with spaces", ReasonOK},
		{MechanismSCRAMSHA512, "carol", "carol-secret", ReasonOK},
		{MechanismSCRAMSHA512, "mallory", "x", ReasonUnknownUser},
	}
	for _, tc := range cases {
		t.Run(tc.mech+"/"+tc.user+"/"+tc.wantReason, func(t *testing.T) {
			s, err := a.Start(tc.mech)
			if err != nil {
				t.Fatal(err)
			}
			p, err := exchange(ctx, clientMechanism(t, tc.mech, tc.user, tc.pass), s)
			if got := Reason(err); got != tc.wantReason {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.wantReason, err)
			}
			if err == nil && p != tc.user {
				t.Fatalf("principal %q", p)
			}
		})
	}
	// The plugin's stderr reaches the host's logger.
	if !strings.Contains(logs.String(), "users loaded") {
		t.Fatalf("plugin log not forwarded:\n%s", logs.String())
	}
}

func killPlugin(t *testing.T, p *pluginVerifier) {
	t.Helper()
	p.mu.Lock()
	pid := p.client.ReattachConfig().Pid
	p.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func TestPluginCrashIsUnavailable(t *testing.T) {
	ctx := context.Background()
	v, p, logs := startStatic(t, WithPluginRestartDelay(-1))
	if _, err := v.VerifyPlain(ctx, "alice", "alice-secret"); err != nil {
		t.Fatal(err)
	}
	killPlugin(t, p)
	// Poll until the host noticed: the first calls may race the exit, but every
	// call fails from the kill on, and eventually with the "exited" error.
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for {
		_, err = v.VerifyPlain(ctx, "alice", "alice-secret")
		if err == nil {
			t.Fatal("a killed plugin answered")
		}
		if !errors.Is(err, ErrUnavailable) || Reason(err) != ReasonUnavailable {
			t.Fatalf("error after crash: %v (reason %s)", err, Reason(err))
		}
		if strings.Contains(err.Error(), "exited") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(err.Error(), "auth plugin "+p.path+" exited") {
		t.Fatalf("unclear error: %v", err)
	}
	if _, err := v.SCRAMCredentials(ctx, MechanismSCRAMSHA256, "alice"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("SCRAM after crash: %v", err)
	}
	if !strings.Contains(logs.String(), "auth plugin exited") {
		t.Fatalf("crash not logged:\n%s", logs.String())
	}
	// Through the engine, a crashed plugin is a server-side failure, not the client's.
	a, _ := NewAuthenticator(v)
	s, _ := a.Start(MechanismSCRAMSHA512)
	if _, err := exchange(ctx, clientMechanism(t, MechanismSCRAMSHA512, "alice", "x"), s); Reason(err) != ReasonUnavailable {
		t.Fatalf("engine: %v", err)
	}
}

func TestPluginRestartsAfterCrash(t *testing.T) {
	ctx := context.Background()
	v, p, _ := startStatic(t, WithPluginRestartDelay(0))
	killPlugin(t, p)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := v.VerifyPlain(ctx, "alice", "alice-secret")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("error while restarting: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not restarted: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPluginStartFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	script := filepath.Join(dir, "not-a-plugin")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		path     string
		args     []string
		wantIs   error
		wantText string
	}{
		{"missing binary", filepath.Join(dir, "nope"), nil, fs.ErrNotExist, "auth plugin " + filepath.Join(dir, "nope")},
		{"not a plugin", script, nil, ErrUnavailable, "start auth plugin " + script},
		{"plugin refusing its config", buildPlugin(t), nil, ErrUnavailable, "no users: give --user or --users-file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, c, err := NewPluginVerifier(ctx, tc.path, tc.args, WithPluginStartTimeout(30*time.Second))
			if err == nil {
				_ = c.Close()
				t.Fatalf("started: %v", v)
			}
			if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("error %q, want %v containing %q", err, tc.wantIs, tc.wantText)
			}
		})
	}
}

func TestPluginStartHonoursContext(t *testing.T) {
	// A binary that never answers the handshake (exec: no shell child outlives it).
	script := filepath.Join(t.TempDir(), "silent")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err := NewPluginVerifier(ctx, script, nil)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent plugin: %v", err)
	}
}

func TestPluginClose(t *testing.T) {
	v, p, _ := startStatic(t)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyPlain(context.Background(), "alice", "alice-secret"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("after Close: %v", err)
	}
}

// TestRPCErrorKinds drives the RPC layer in process (no go-plugin) to check that
// every error kind and the deadline survive the trip.
func TestRPCErrorKinds(t *testing.T) {
	cred, err := NewSCRAMCredential(MechanismSCRAMSHA256, "pw", 4096)
	if err != nil {
		t.Fatal(err)
	}
	cred.Principal = "User:x"
	cases := []struct {
		name       string
		v          Verifier
		wantReason string
	}{
		{"ok", stubVerifier{principal: "User:x", cred: cred}, ReasonOK},
		{"bad password", stubVerifier{err: ErrAuthFailed}, ReasonBadCredentials},
		{"unknown user", stubVerifier{err: ErrUnknownUser}, ReasonUnknownUser},
		{"no credential", stubVerifier{err: ErrNoCredential}, ReasonNoCredential},
		{"backend error", stubVerifier{err: errors.New("ldap down")}, ReasonUnavailable},
		{"backend timeout", stubVerifier{err: context.DeadlineExceeded}, ReasonCanceled},
		{"deadline forwarded", deadlineVerifier{}, ReasonOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := rpc.NewServer()
			if err := srv.RegisterName("Plugin", &rpcServer{impl: tc.v, base: context.Background()}); err != nil {
				t.Fatal(err)
			}
			a, b := net.Pipe()
			go srv.ServeConn(a)
			cl := rpc.NewClient(b)
			defer func() { _ = cl.Close() }()
			p := &pluginVerifier{path: "inproc", callTimeout: time.Minute, rpc: &rpcClient{c: cl}}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			principal, err := p.callPlain(ctx, p.rpc, "u", "pw")
			if got := Reason(err); got != tc.wantReason {
				t.Fatalf("VerifyPlain reason %q, want %q (%v)", got, tc.wantReason, err)
			}
			c, err := p.callSCRAM(ctx, p.rpc, MechanismSCRAMSHA256, "u")
			if got := Reason(err); got != tc.wantReason {
				t.Fatalf("SCRAMCredentials reason %q, want %q (%v)", got, tc.wantReason, err)
			}
			if tc.name == "ok" {
				if principal != "User:x" || c.Principal != "User:x" || !bytes.Equal(c.StoredKey, cred.StoredKey) || c.Iterations != 4096 {
					t.Fatalf("lost in transit: %q %+v", principal, c)
				}
			}
			if err != nil && !strings.Contains(err.Error(), "plugin: ") {
				t.Fatalf("error does not name the plugin: %v", err)
			}
		})
	}
}

// deadlineVerifier fails unless its context carries a deadline.
type deadlineVerifier struct{}

func (deadlineVerifier) VerifyPlain(ctx context.Context, _, _ string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		return "", errors.New("no deadline")
	}
	return "u", nil
}

func (d deadlineVerifier) SCRAMCredentials(ctx context.Context, mechanism, _ string) (SCRAMCredential, error) {
	if _, ok := ctx.Deadline(); !ok {
		return SCRAMCredential{}, errors.New("no deadline")
	}
	return NewSCRAMCredential(mechanism, "pw", 4096)
}

func TestRPCCallHonoursContext(t *testing.T) {
	// A plugin that never answers: the call must give up at the caller's deadline.
	a, b := net.Pipe()
	defer func() { _ = a.Close() }()
	cl := rpc.NewClient(b)
	defer func() { _ = cl.Close() }()
	p := &pluginVerifier{path: "hung", callTimeout: time.Minute, rpc: &rpcClient{c: cl}}
	go func() { // swallow the request so the write does not block
		buf := make([]byte, 4096)
		for {
			if _, err := a.Read(buf); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.callPlain(ctx, p.rpc, "u", "pw")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung plugin: %v", err)
	}
}
