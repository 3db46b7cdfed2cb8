package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-kafka/airlock/certgen"
)

func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name     string
		flags    certgen.Flags
		wantCode int
		wantOut  []string
	}{
		{"first run creates", certgen.Flags{Out: dir, Servers: []string{"source-kafka"}, Clients: []string{"bridge"}, KeyType: "ecdsa", Days: 365, CADays: 3650, RenewDays: 30},
			0, []string{"created  " + filepath.Join(dir, "ca.crt"), "created  " + filepath.Join(dir, "bridge.key")}},
		{"second run keeps", certgen.Flags{Out: dir, Servers: []string{"source-kafka"}, Clients: []string{"bridge"}, KeyType: "ecdsa", Days: 365, CADays: 3650, RenewDays: 30},
			0, []string{"kept     " + filepath.Join(dir, "source-kafka.crt")}},
		{"invalid flags", certgen.Flags{Out: dir, KeyType: "ecdsa", Days: 365, CADays: 3650}, 2, nil},
		{"version", certgen.Flags{Version: true}, 0, []string{"airlock-certgen "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(context.Background(), logger, &out, &tt.flags); code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tt.wantCode, out.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
