package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c *config)
		wantErr string
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c *config) {
				if c.rounds != 5 || c.mb != 1024 || c.latencyReqs != 2000 || c.idleConns != 1000 || c.proxyBin != "bin/airlock-proxy" || c.forwarder != nil {
					t.Fatalf("defaults: %+v", c)
				}
			},
		},
		{
			name: "flags, env and candidates",
			args: []string{"--rounds", "3", "--json", "--candidate", "fix=/tmp/airlock-proxy", "--proxy-arg=--socket-read-buffer=262144"},
			env:  map[string]string{"AIRLOCK_PROXY_BENCH_MB": "64", "AIRLOCK_PROXY_BENCH_ROUNDS": "9"},
			check: func(t *testing.T, c *config) {
				if c.rounds != 3 || c.mb != 64 || !c.json {
					t.Fatalf("rounds %d (flag must beat env), mb %d, json %v", c.rounds, c.mb, c.json)
				}
				if len(c.candidates) != 1 || c.candidates[0] != (candidate{name: "fix", bin: "/tmp/airlock-proxy"}) {
					t.Fatalf("candidates %+v", c.candidates)
				}
				if len(c.proxyArgs) != 1 || c.proxyArgs[0] != "--socket-read-buffer=262144" {
					t.Fatalf("proxy args %q", c.proxyArgs)
				}
			},
		},
		{name: "candidate without path", args: []string{"--candidate", "fix"}, wantErr: "want NAME=PATH"},
		{name: "stray argument", args: []string{"now"}, wantErr: "unexpected arguments"},
		{name: "zero timeout", args: []string{"--timeout", "0s"}, wantErr: "--timeout"},
		{
			name: "forwarder mode",
			args: []string{"forwarder", "--listen", "127.0.0.1:1", "--target", "127.0.0.1:2", "--http-listen-address", "127.0.0.1:3"},
			check: func(t *testing.T, c *config) {
				f := c.forwarder
				if f == nil || f.listen != "127.0.0.1:1" || f.target != "127.0.0.1:2" || f.httpAddr != "127.0.0.1:3" {
					t.Fatalf("forwarder config %+v", f)
				}
			},
		},
		{name: "forwarder needs a target", args: []string{"forwarder"}, wantErr: "--target is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseArgs(tt.args, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.timeout != 30*time.Minute && tt.name == "defaults" {
				t.Fatalf("timeout %s", c.timeout)
			}
			tt.check(t, c)
		})
	}
}
