package main

import (
	"io"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr bool
		check   func(t *testing.T, c *config)
	}{
		{"defaults", nil, nil, false, func(t *testing.T, c *config) {
			if c.events != 3000 || c.rate != 50 || c.keep || c.latency != 200*time.Millisecond {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{"keep by env, as make demo KEEP=1 sets it", nil, map[string]string{"AIRLOCK_DEMO_KEEP": "true"}, false, func(t *testing.T, c *config) {
			if !c.keep {
				t.Error("AIRLOCK_DEMO_KEEP=true did not set keep")
			}
		}},
		{"flags", []string{"--events", "10", "--rate", "5", "--kafka-version", "3.9", "--down", "abcd"}, nil, false, func(t *testing.T, c *config) {
			if c.events != 10 || c.rate != 5 || c.version != "3.9" || c.down != "abcd" {
				t.Errorf("flags: %+v", c)
			}
		}},
		{"zero events", []string{"--events", "0"}, nil, true, nil},
		{"negative latency", []string{"--latency", "-1s"}, nil, true, nil},
		{"stray argument", []string{"now"}, nil, true, nil},
		{"unknown flag", []string{"--nope"}, nil, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseArgs(tt.args, env(tt.env), io.Discard)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseArgs(%q) succeeded: %+v", tt.args, c)
				}
				return
			}
			if err != nil || c == nil {
				t.Fatalf("parseArgs(%q) = %v, %v", tt.args, c, err)
			}
			tt.check(t, c)
		})
	}
}

func TestHelp(t *testing.T) {
	c, err := parseArgs([]string{"--help"}, func(string) string { return "" }, io.Discard)
	if err != nil || c != nil {
		t.Errorf("--help = %v, %v; want nil, nil", c, err)
	}
}
