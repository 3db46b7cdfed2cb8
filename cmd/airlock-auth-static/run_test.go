package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-kafka/airlock/internal/flagenv"
)

func parse(t *testing.T, args []string, env map[string]string) (*config, error) {
	t.Helper()
	fs := flag.NewFlagSet("airlock-auth-static", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := newConfig(fs)
	return c, parseWith(fs, args, env)
}

func parseWith(fs *flag.FlagSet, args []string, env map[string]string) error {
	return flagenv.Parse(fs, envPrefix, args, func(k string) string { return env[k] })
}

func TestLoadUsers(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "users")
	if err := os.WriteFile(good, []byte("# users\nalice=from-file\nbob = pw=with=equals\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("alice=x\nno-separator\n=nouser\nalice=again\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		want    map[string]string
		wantErr string
	}{
		{"flags", []string{"--user", "alice=a", "--user", "bob=b"}, nil, map[string]string{"alice": "a", "bob": "b"}, ""},
		{"env list", nil, map[string]string{"AIRLOCK_AUTH_STATIC_USER": "alice=a;bob=b"}, map[string]string{"alice": "a", "bob": "b"}, ""},
		{"file", []string{"--users-file", good}, nil, map[string]string{"alice": "from-file", "bob": " pw=with=equals"}, ""},
		{"file from env, flag wins for a user", []string{"--user", "alice=flag"}, map[string]string{"AIRLOCK_AUTH_STATIC_USERS_FILE": good},
			map[string]string{"alice": "flag", "bob": " pw=with=equals"}, ""},
		{"bad file lists every bad line", []string{"--users-file", bad}, nil, nil, bad + ":2: bad users entry: want user=password\n" +
			bad + ":3: bad users entry: empty user name\n" + bad + `:4: bad users entry: user "alice" already defined on line 1`},
		{"missing file", []string{"--users-file", filepath.Join(dir, "nope")}, nil, nil, "no such file"},
		{"bad flag", []string{"--user", "alice"}, nil, nil, "--user: bad users entry: want user=password"},
		{"empty password", []string{"--user", "alice="}, nil, nil, "empty password"},
		{"no users", nil, nil, nil, "no users"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.loadUsers()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("users %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHelpDocumentsFlagsAndEnv(t *testing.T) {
	fs := flag.NewFlagSet("airlock-auth-static", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	newConfig(fs)
	if err := parseWith(fs, []string{"--help"}, nil); err != flag.ErrHelp {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"airlock-proxy starts this binary", "-users-file", "AIRLOCK_AUTH_STATIC_USERS_FILE", "AIRLOCK_AUTH_STATIC_USER)", "-scram-iterations"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunRefusesWithoutHost(t *testing.T) {
	t.Setenv("AIRLOCK_AUTH_PLUGIN", "") // not started by a proxy
	cases := []struct {
		name    string
		args    []string
		wantLog string
	}{
		{"no users", nil, "no users"},
		{"bad iterations", []string{"--user", "a=b", "--scram-iterations", "10"}, "SCRAM iterations 10"},
		{"not under a proxy", []string{"--user", "a=b"}, "not launched as an airlock auth plugin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, tc.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			code := run(context.Background(), c, slog.New(slog.NewTextHandler(&logs, nil)))
			if code != 1 || !strings.Contains(logs.String(), tc.wantLog) {
				t.Fatalf("exit %d, logs:\n%s", code, logs.String())
			}
		})
	}
}
