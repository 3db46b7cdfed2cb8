package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-kafka/airlock/proxy/auth"
)

func TestUsersAddRemove(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	noenv := func(string) string { return "" }
	cases := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantErr  string
	}{
		{"no verb", nil, "", 2, "users add"},
		{"missing user", []string{"add", "--file", file}, "", 2, "--file and --user are required"},
		{"no password", []string{"add", "--file", file, "--user", "a"}, "", 2, "no password"},
		{"bad mechanism", []string{"add", "--file", file, "--user", "a", "--mechanism", "md5"}, "pw\n", 1, "want plain"},
		{"add scram", []string{"add", "--file", file, "--user", "alice", "--iterations", "4096"}, "alice-pw\n", 0, ""},
		{"add plain", []string{"add", "--file", file, "--user", "bob", "--mechanism", "plain"}, "bob-pw\n", 0, ""},
		{"remove missing", []string{"remove", "--file", file, "--user", "carol"}, "", 1, "no user"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runUsers(tc.args, strings.NewReader(tc.stdin), &out, &errb, noenv)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.wantCode, errb.String())
			}
			if tc.wantErr != "" && !strings.Contains(errb.String(), tc.wantErr) {
				t.Fatalf("stderr %q lacks %q", errb.String(), tc.wantErr)
			}
		})
	}
	uf, err := auth.OpenUsersFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := uf.VerifyPlain(ctx, "alice", "alice-pw"); err != nil {
		t.Fatalf("alice (SCRAM entry) via PLAIN: %v", err)
	}
	if _, err := uf.VerifyPlain(ctx, "bob", "bob-pw"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	if _, err := uf.VerifyPlain(ctx, "bob", "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if code := runUsers([]string{"remove", "--file", file, "--user", "bob"}, nil, &bytes.Buffer{}, &bytes.Buffer{}, noenv); code != 0 {
		t.Fatalf("remove exit %d", code)
	}
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), "bob:") {
		t.Fatal("bob still in file")
	}
}
