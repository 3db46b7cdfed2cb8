package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlock-kafka/airlock/proxy"
)

// env returns a getenv over m, so tests never see the real environment.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// boot is a bootstrap mapping whose listener can really be opened in tests.
const boot = "127.0.0.1:9092,127.0.0.2:0"

// buildProxy checks that the options a config produced make a working proxy, not
// just a struct with the right fields.
func buildProxy(t *testing.T, c *config) *proxy.Proxy {
	t.Helper()
	p, err := proxy.New(c.opts...)
	if err != nil {
		t.Fatalf("proxy.New with the parsed options: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c *config)
	}{
		{
			name: "defaults",
			args: []string{"--bootstrap-server-mapping", boot},
			check: func(t *testing.T, c *config) {
				if !slices.Equal(c.bootstrap, []string{boot}) {
					t.Errorf("bootstrap %q", c.bootstrap)
				}
				want := config{
					maxRequestSize: 100 << 20, maxInFlight: 1024, dialTimeout: 10 * time.Second,
					writeTimeout: 30 * time.Second, idleTimeout: 10 * time.Minute, keepAlive: 60 * time.Second,
					shutdownTimeout: 30 * time.Second, httpAddr: "0.0.0.0:9080",
				}
				got := config{
					maxRequestSize: c.maxRequestSize, maxInFlight: c.maxInFlight, dialTimeout: c.dialTimeout,
					writeTimeout: c.writeTimeout, idleTimeout: c.idleTimeout, keepAlive: c.keepAlive,
					shutdownTimeout: c.shutdownTimeout, httpAddr: c.httpAddr,
				}
				if !equalScalars(got, want) {
					t.Errorf("defaults differ:\n got %+v\nwant %+v", got, want)
				}
				if c.dynamicDisable || c.dynamicNodeIDPorts || c.dynamicMinPort != 0 || c.forbidden != "" {
					t.Errorf("dynamic/forbidden defaults changed: %+v", c)
				}
				if c.log.Level != "info" || c.log.Format != "text" {
					t.Errorf("log defaults %+v", c.log)
				}
				if got := len(buildProxy(t, c).BootstrapAddrs()); got != 1 {
					t.Errorf("%d bootstrap listeners", got)
				}
			},
		},
		{
			name: "every flag",
			args: []string{
				"--log-level", "debug", "--log-format", "json",
				"--bootstrap-server-mapping", boot,
				"--bootstrap-server-mapping", "127.0.0.1:9093,127.0.0.2:0,proxy.example.com:19093",
				"--external-server-mapping", "kafka-9:9092,lb.example.com:29092",
				"--dial-address-mapping", "kafka-9:9092,10.0.0.9:9092",
				"--dynamic-listeners-disable",
				"--dynamic-sequential-min-port", "30000",
				"--dynamic-node-id-ports",
				"--dynamic-advertised-listener", "proxy-{{.NodeID}}.example.com:{{.Port}}",
				"--dynamic-bind-host", "127.0.0.2",
				"--forbidden-api-keys", "20, DeleteRecords,createtopics",
				"--max-request-size", "1048576",
				"--max-in-flight", "16",
				"--dial-timeout", "3s",
				"--write-timeout", "4s",
				"--idle-timeout", "0",
				"--tcp-keepalive", "-1s",
				"--socket-read-buffer", "65536",
				"--socket-write-buffer", "131072",
				"--shutdown-timeout", "7s",
				"--http-listen-address", "127.0.0.1:0",
				"--client-sasl-max-failures", "3",
				"--client-sasl-failure-window", "30s",
				"--client-handshake-timeout", "2s",
			},
			check: func(t *testing.T, c *config) {
				if len(c.bootstrap) != 2 || len(c.external) != 1 || len(c.dial) != 1 {
					t.Errorf("mappings: bootstrap %q external %q dial %q", c.bootstrap, c.external, c.dial)
				}
				if !c.dynamicDisable || !c.dynamicNodeIDPorts || c.dynamicMinPort != 30000 ||
					c.dynamicAdvertised != "proxy-{{.NodeID}}.example.com:{{.Port}}" || c.dynamicBindHost != "127.0.0.2" {
					t.Errorf("dynamic listener flags not applied: %+v", c)
				}
				keys, err := parseAPIKeys(c.forbidden)
				if err != nil || !slices.Equal(keys, []int16{20, 21, 19}) {
					t.Errorf("forbidden keys %v (%v), want [20 21 19]", keys, err)
				}
				if c.maxRequestSize != 1<<20 || c.maxInFlight != 16 || c.dialTimeout != 3*time.Second ||
					c.writeTimeout != 4*time.Second || c.idleTimeout != 0 || c.keepAlive != -time.Second ||
					c.readBuffer != 65536 || c.writeBuffer != 131072 || c.shutdownTimeout != 7*time.Second ||
					c.httpAddr != "127.0.0.1:0" {
					t.Errorf("limits/timeouts not applied: %+v", c)
				}
				if c.saslMaxFailures != 3 || c.saslFailureWindow != 30*time.Second || c.handshakeTimeout != 2*time.Second {
					t.Errorf("client SASL limits not applied: %+v", c)
				}
				if c.log.Level != "debug" || c.log.Format != "json" {
					t.Errorf("log flags %+v", c.log)
				}
				if _, err := c.log.New(io.Discard); err != nil {
					t.Errorf("logger: %v", err)
				}
				if got := len(buildProxy(t, c).BootstrapAddrs()); got != 2 {
					t.Errorf("%d bootstrap listeners, want 2", got)
				}
			},
		},
		{
			name: "env for every kind of flag, mappings separated by ';'",
			env: map[string]string{
				"AIRLOCK_PROXY_BOOTSTRAP_SERVER_MAPPING":    boot + ";127.0.0.1:9093,127.0.0.2:0",
				"AIRLOCK_PROXY_EXTERNAL_SERVER_MAPPING":     "a:1,b:2; c:3,d:4",
				"AIRLOCK_PROXY_DYNAMIC_LISTENERS_DISABLE":   "true",
				"AIRLOCK_PROXY_MAX_IN_FLIGHT":               "5",
				"AIRLOCK_PROXY_DIAL_TIMEOUT":                "1500ms",
				"AIRLOCK_PROXY_FORBIDDEN_API_KEYS":          "DeleteTopics",
				"AIRLOCK_PROXY_HTTP_LISTEN_ADDRESS":         "127.0.0.1:0",
				"AIRLOCK_PROXY_DYNAMIC_ADVERTISED_LISTENER": "lb.example.com:{{.Port}}",
				"AIRLOCK_PROXY_LOG_LEVEL":                   "warn",
			},
			check: func(t *testing.T, c *config) {
				if !slices.Equal(c.bootstrap, []string{boot, "127.0.0.1:9093,127.0.0.2:0"}) {
					t.Errorf("bootstrap from env %q", c.bootstrap)
				}
				if !slices.Equal(c.external, []string{"a:1,b:2", "c:3,d:4"}) {
					t.Errorf("external from env %q", c.external)
				}
				if !c.dynamicDisable || c.maxInFlight != 5 || c.dialTimeout != 1500*time.Millisecond ||
					c.forbidden != "DeleteTopics" || c.httpAddr != "127.0.0.1:0" || c.log.Level != "warn" ||
					c.dynamicAdvertised != "lb.example.com:{{.Port}}" {
					t.Errorf("env not applied: %+v", c)
				}
				if got := len(buildProxy(t, c).BootstrapAddrs()); got != 2 {
					t.Errorf("%d bootstrap listeners, want 2", got)
				}
			},
		},
		{
			name: "a flag wins over env, and a repeatable flag replaces the env list",
			args: []string{"--max-in-flight", "9", "--bootstrap-server-mapping", boot},
			env: map[string]string{
				"AIRLOCK_PROXY_MAX_IN_FLIGHT":            "5",
				"AIRLOCK_PROXY_BOOTSTRAP_SERVER_MAPPING": "127.0.0.1:1,127.0.0.2:0;127.0.0.1:2,127.0.0.2:0",
			},
			check: func(t *testing.T, c *config) {
				if c.maxInFlight != 9 {
					t.Errorf("max in flight %d, want the flag's 9", c.maxInFlight)
				}
				if !slices.Equal(c.bootstrap, []string{boot}) {
					t.Errorf("bootstrap %q, want only the flag's", c.bootstrap)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, env(tc.env))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if c == nil {
				t.Fatal("no config")
			}
			tc.check(t, c)
		})
	}
}

// equalScalars compares the scalar fields of two configs (config holds slices and
// so is not comparable with ==).
func equalScalars(a, b config) bool {
	return a.maxRequestSize == b.maxRequestSize && a.maxInFlight == b.maxInFlight && a.dialTimeout == b.dialTimeout &&
		a.writeTimeout == b.writeTimeout && a.idleTimeout == b.idleTimeout && a.keepAlive == b.keepAlive &&
		a.shutdownTimeout == b.shutdownTimeout && a.httpAddr == b.httpAddr
}

func TestParseFlagsErrors(t *testing.T) {
	b := []string{"--bootstrap-server-mapping", boot}
	with := func(extra ...string) []string { return append(slices.Clone(b), extra...) }
	cases := []struct {
		name string
		args []string
		env  map[string]string
		// want are substrings the error must contain, so an operator knows what to fix.
		want   []string
		wantIs error
	}{
		{"no bootstrap mapping", nil, nil, []string{"--bootstrap-server-mapping", "required"}, nil},
		{"mapping without listen address", []string{"--bootstrap-server-mapping", "kafka:9092"}, nil,
			[]string{"kafka:9092", "UPSTREAM_HOST:PORT,LISTEN_HOST:PORT"}, proxy.ErrBadMapping},
		{"mapping with four parts", []string{"--bootstrap-server-mapping", "a:1,b:2,c:3,d:4"}, nil,
			[]string{"a:1,b:2,c:3,d:4"}, proxy.ErrBadMapping},
		{"mapping without a port", []string{"--bootstrap-server-mapping", "kafka,127.0.0.2:0"}, nil,
			[]string{"upstream address"}, proxy.ErrBadMapping},
		{"mapping with an upstream port out of range", []string{"--bootstrap-server-mapping", "kafka:70000,127.0.0.2:0"}, nil,
			[]string{"70000"}, proxy.ErrBadMapping},
		{"mapping with a listen port out of range", []string{"--bootstrap-server-mapping", "kafka:9092,127.0.0.2:65536"}, nil,
			[]string{"65536"}, proxy.ErrBadMapping},
		{"mapping with an advertised port out of range", []string{"--bootstrap-server-mapping", "kafka:9092,127.0.0.2:0,lb:-1"}, nil,
			[]string{"advertised"}, proxy.ErrBadMapping},
		{"bad mapping from env", nil, map[string]string{"AIRLOCK_PROXY_BOOTSTRAP_SERVER_MAPPING": boot + ";nonsense"}, []string{"nonsense"}, proxy.ErrBadMapping},
		{"bad external mapping", with("--external-server-mapping", "kafka-9:9092"), nil,
			[]string{"--external-server-mapping", "kafka-9:9092"}, proxy.ErrBadMapping},
		{"bad dial mapping", with("--dial-address-mapping", "kafka-9:9092,10.0.0.9:9092,x:1"), nil,
			[]string{"--dial-address-mapping"}, proxy.ErrBadMapping},
		{"template that does not parse", with("--dynamic-advertised-listener", "proxy-{{.NodeID"), nil,
			[]string{"dynamic advertised listener template", "proxy-{{.NodeID"}, nil},
		// A typo in a field name parses but could only fail when the first broker is
		// discovered, refusing every response that names it: it must fail at start.
		{"template naming an unknown field", with("--dynamic-advertised-listener", "proxy-{{.NodeId}}.example.com"), nil,
			[]string{"NodeId"}, nil},
		{"unknown API key name", with("--forbidden-api-keys", "20,DeleteTopix"), nil,
			[]string{"--forbidden-api-keys", "DeleteTopix"}, nil},
		{"negative API key", with("--forbidden-api-keys", "-3"), nil, []string{"--forbidden-api-keys", "-3"}, nil},
		{"API key beyond int16", with("--forbidden-api-keys", "40000"), nil, []string{"40000"}, nil},
		{"min port above 65535", with("--dynamic-sequential-min-port", "70000"), nil,
			[]string{"--dynamic-sequential-min-port", "70000", "out of range"}, nil},
		{"negative min port", with("--dynamic-sequential-min-port", "-1"), nil,
			[]string{"--dynamic-sequential-min-port", "out of range"}, nil},
		{"node id ports without min port", with("--dynamic-node-id-ports"), nil,
			[]string{"--dynamic-node-id-ports", "--dynamic-sequential-min-port"}, nil},
		{"max request size zero", with("--max-request-size", "0"), nil, []string{"--max-request-size", "out of range"}, nil},
		{"max request size over 1 GiB", with("--max-request-size", "2147483648"), nil, []string{"--max-request-size"}, nil},
		{"max in flight zero", with("--max-in-flight", "0"), nil, []string{"--max-in-flight"}, nil},
		{"duration without unit", with("--dial-timeout", "5"), nil, []string{"dial-timeout", "5"}, nil},
		{"number that is not one", with("--socket-read-buffer", "lots"), nil, []string{"socket-read-buffer", "lots"}, nil},
		{"bad env value names the variable", b, map[string]string{"AIRLOCK_PROXY_MAX_IN_FLIGHT": "many"},
			[]string{"AIRLOCK_PROXY_MAX_IN_FLIGHT", "many"}, nil},
		{"unknown flag", with("--bootstrap-servers", "x"), nil, []string{"bootstrap-servers"}, nil},
		{"positional argument", with("kafka:9092"), nil, []string{"unexpected arguments", "kafka:9092"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, env(tc.env))
			if err == nil {
				t.Fatalf("accepted %q (env %v): %+v", tc.args, tc.env, c)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
		})
	}
}

// TestLogFlagsAreValidated covers what main checks after parsing: a bad level or
// format must be an error naming the allowed values, not a silent default.
func TestLogFlagsAreValidated(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--log-level", "loud", "debug, info, warn or error"},
		{"--log-format", "xml", "text or json"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			c, err := parseFlags([]string{"--bootstrap-server-mapping", boot, tc.flag, tc.value}, env(nil))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.log.New(io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.value) {
				t.Fatalf("want an error naming %q and %q, got %v", tc.value, tc.want, err)
			}
		})
	}
}

func writeConfig(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proxy.conf")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigFile(t *testing.T) {
	file := writeConfig(t,
		"# airlock-proxy settings",
		"",
		"bootstrap-server-mapping = "+boot,
		"bootstrap-server-mapping = 127.0.0.1:9093,127.0.0.2:0",
		`external-server-mapping = "kafka-9:9092,lb.example.com:29092"`,
		"max-in-flight = 3",
		"dial-timeout = 2s",
		"idle-timeout = 1m",
		"shutdown-timeout = 4s",
		"dynamic-listeners-disable = true",
	)
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c *config)
	}{
		{"file alone", []string{"--config", file}, nil, func(t *testing.T, c *config) {
			if !slices.Equal(c.bootstrap, []string{boot, "127.0.0.1:9093,127.0.0.2:0"}) {
				t.Errorf("repeated setting in file: bootstrap %q", c.bootstrap)
			}
			if !slices.Equal(c.external, []string{"kafka-9:9092,lb.example.com:29092"}) {
				t.Errorf("quoted value: external %q", c.external)
			}
			if c.maxInFlight != 3 || c.dialTimeout != 2*time.Second || c.idleTimeout != time.Minute ||
				c.shutdownTimeout != 4*time.Second || !c.dynamicDisable {
				t.Errorf("file not applied: %+v", c)
			}
			if got := len(buildProxy(t, c).BootstrapAddrs()); got != 2 {
				t.Errorf("%d bootstrap listeners, want 2", got)
			}
		}},
		{"file named by env", nil, map[string]string{"AIRLOCK_PROXY_CONFIG": file}, func(t *testing.T, c *config) {
			if c.maxInFlight != 3 || len(c.bootstrap) != 2 {
				t.Errorf("file from AIRLOCK_PROXY_CONFIG not applied: %+v", c)
			}
		}},
		{"env wins over file", []string{"--config", file}, map[string]string{
			"AIRLOCK_PROXY_MAX_IN_FLIGHT":            "4",
			"AIRLOCK_PROXY_BOOTSTRAP_SERVER_MAPPING": "127.0.0.1:1,127.0.0.2:0",
		}, func(t *testing.T, c *config) {
			if c.maxInFlight != 4 {
				t.Errorf("max in flight %d, want env's 4", c.maxInFlight)
			}
			if !slices.Equal(c.bootstrap, []string{"127.0.0.1:1,127.0.0.2:0"}) {
				t.Errorf("bootstrap %q, want only env's", c.bootstrap)
			}
			if c.dialTimeout != 2*time.Second {
				t.Errorf("settings env does not name still come from the file: dial timeout %v", c.dialTimeout)
			}
		}},
		{"flag wins over env and file", []string{"--config", file, "--max-in-flight", "8", "--dial-timeout", "9s"},
			map[string]string{"AIRLOCK_PROXY_MAX_IN_FLIGHT": "4"}, func(t *testing.T, c *config) {
				if c.maxInFlight != 8 || c.dialTimeout != 9*time.Second {
					t.Errorf("flags lost: max in flight %d dial timeout %v", c.maxInFlight, c.dialTimeout)
				}
				if c.shutdownTimeout != 4*time.Second {
					t.Errorf("file setting lost: shutdown timeout %v", c.shutdownTimeout)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, env(tc.env))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"unknown setting", []string{"bootstrap-server-mapping = " + boot, "max-inflight = 3"}, []string{":2", "max-inflight"}},
		{"line without =", []string{"bootstrap-server-mapping = " + boot, "dynamic-listeners-disable"}, []string{":2", "name = value"}},
		{"bad value", []string{"bootstrap-server-mapping = " + boot, "dial-timeout = soon"}, []string{":2", "dial-timeout"}},
		{"bad mapping in file", []string{"bootstrap-server-mapping = nowhere"}, []string{"nowhere"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeConfig(t, tc.lines...)
			_, err := parseFlags([]string{"--config", file}, env(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "absent.conf")
		_, err := parseFlags([]string{"--config", missing, "--bootstrap-server-mapping", boot}, env(nil))
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Fatalf("want an error naming %s, got %v", missing, err)
		}
	})
}
