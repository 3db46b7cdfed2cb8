package testbroker

import (
	"crypto/tls"
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/airlock-kafka/airlock/internal/flagenv"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in, want string
		wantVs   *kversion.Versions
		err      bool
	}{
		{in: "0.11", want: "0.11", wantVs: kversion.V0_11_0()},
		{in: "0.11.0", want: "0.11", wantVs: kversion.V0_11_0()},
		{in: "0.10.2.2", want: "0.10.2", wantVs: kversion.V0_10_2()},
		{in: "1.1", want: "1.1", wantVs: kversion.V1_1_0()},
		{in: "v2.8", want: "2.8", wantVs: kversion.V2_8_0()},
		{in: "3.9.1", want: "3.9", wantVs: kversion.V3_9_0()},
		{in: "4.0", want: "4.0", wantVs: kversion.V4_0_0()},
		{in: "4.2", want: "4.2", wantVs: kversion.V4_2_0()},
		{in: "0.10", err: true}, // ambiguous: 0.10.0, 0.10.1 and 0.10.2 differ
		{in: "9.9", err: true},
		{in: "", err: true},
		{in: "latest", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, vs, err := ParseVersion(tt.in)
			if tt.err {
				if !errors.Is(err, ErrUnknownVersion) {
					t.Fatalf("err = %v, want ErrUnknownVersion", err)
				}
				if !strings.Contains(err.Error(), "3.9") || !strings.Contains(err.Error(), "0.11") {
					t.Errorf("error does not list the valid versions: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if name != tt.want {
				t.Errorf("name = %q, want %q", name, tt.want)
			}
			if !vs.Equal(tt.wantVs) {
				t.Errorf("versions differ from kversion's %s", tt.want)
			}
		})
	}
}

func TestVersionsDiffer(t *testing.T) {
	// Guards the table against a copy-paste slip: an old release must not
	// advertise a Produce version only newer releases have.
	_, old, _ := ParseVersion("0.11")
	_, cur, _ := ParseVersion("3.9")
	o, _ := old.LookupMaxKeyVersion(int16(kmsg.Produce))
	c, _ := cur.LookupMaxKeyVersion(int16(kmsg.Produce))
	if o >= c {
		t.Fatalf("produce max version: 0.11 has %d, 3.9 has %d", o, c)
	}
}

func TestParseSeedTopics(t *testing.T) {
	tests := []struct {
		in   string
		want []SeedTopic
		err  bool
	}{
		{in: "", want: nil},
		{in: "a:3", want: []SeedTopic{{Name: "a", Partitions: 3}}},
		{in: "a:3, b ,c:1", want: []SeedTopic{{"a", 3}, {"b", 0}, {"c", 1}}},
		{in: "a:0", err: true},
		{in: "a:x", err: true},
		{in: ":3", err: true},
		{in: "a:-1", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSeedTopics(tt.in)
			if tt.err {
				if !errors.Is(err, ErrBadSeedTopic) {
					t.Fatalf("err = %v, want ErrBadSeedTopic", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSASLUser(t *testing.T) {
	tests := []struct {
		in   string
		want SASLUser
		err  bool
	}{
		{in: "alice:secret:PLAIN", want: SASLUser{"alice", "secret", "PLAIN"}},
		{in: "bob:pa:ss:scram-sha-256", want: SASLUser{"bob", "pa:ss", "SCRAM-SHA-256"}},
		{in: "carol:x:SCRAM-SHA-512", want: SASLUser{"carol", "x", "SCRAM-SHA-512"}},
		{in: "alice:secret", err: true},
		{in: "alice::PLAIN", err: true},
		{in: ":secret:PLAIN", err: true},
		{in: "alice:secret:GSSAPI", err: true},
		{in: "alice", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSASLUser(tt.in)
			if tt.err {
				if !errors.Is(err, ErrBadSASLUser) {
					t.Fatalf("err = %v, want ErrBadSASLUser", err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  bool
	}{
		{in: "", want: nil},
		{in: "9092", want: []int{9092}},
		{in: "9092, 9093", want: []int{9092, 9093}},
		{in: "0", want: []int{0}},
		{in: "x", err: true},
		{in: "70000", err: true},
		{in: "-1", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePorts(tt.in)
			if tt.err != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if !tt.err && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// parseFlags parses args and env as the command does and applies the options to a
// config, so the tests see what the broker would get.
func parseFlags(t *testing.T, args []string, env map[string]string) (config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var f Flags
	f.Register(fs)
	if err := flagenv.Parse(fs, "AIRLOCK_TESTBROKER_", args, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("parse: %v", err)
	}
	opts, err := f.Options()
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	return c, err
}

func TestFlagsOptions(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		err   error
		check func(t *testing.T, c config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c config) {
				if !reflect.DeepEqual(c.ports, []int{9092}) || c.listenHost != "0.0.0.0" || c.adminListen != ":8080" {
					t.Errorf("ports %v listen %q admin %q", c.ports, c.listenHost, c.adminListen)
				}
			},
		},
		{
			name: "nodes give consecutive ports",
			args: []string{"--nodes", "3"},
			check: func(t *testing.T, c config) {
				if !reflect.DeepEqual(c.ports, []int{9092, 9093, 9094}) {
					t.Errorf("ports %v", c.ports)
				}
			},
		},
		{
			name: "from the environment",
			env: map[string]string{
				"AIRLOCK_TESTBROKER_SEED_TOPICS":    "orders:6",
				"AIRLOCK_TESTBROKER_SASL_USER":      "a:b:PLAIN;c:d:SCRAM-SHA-512",
				"AIRLOCK_TESTBROKER_AS_VERSION":     "2.8",
				"AIRLOCK_TESTBROKER_ADVERTISE_HOST": "source-kafka",
			},
			check: func(t *testing.T, c config) {
				if len(c.seedTopics) != 1 || c.seedTopics[0] != (SeedTopic{"orders", 6}) {
					t.Errorf("seed topics %+v", c.seedTopics)
				}
				if len(c.saslUsers) != 2 || c.saslUsers[1].Mechanism != "SCRAM-SHA-512" {
					t.Errorf("sasl users %+v", c.saslUsers)
				}
				if c.version != "2.8" || c.advertiseHost != "source-kafka" {
					t.Errorf("version %q advertise %q", c.version, c.advertiseHost)
				}
			},
		},
		{
			name: "tls with client CA requires client certificates",
			args: []string{"--tls-cert-file", "testdata/server.pem", "--tls-key-file", "testdata/server-key.pem", "--tls-client-ca-file", "testdata/ca.pem"},
			check: func(t *testing.T, c config) {
				if c.tls == nil || c.tls.ClientAuth != tls.RequireAndVerifyClientCert || c.tls.ClientCAs == nil {
					t.Errorf("tls config %+v", c.tls)
				}
			},
		},
		{name: "nodes and ports disagree", args: []string{"--nodes", "2", "--ports", "1,2,3"}, err: ErrBadConfig},
		{name: "negative nodes", args: []string{"--nodes", "-1"}, err: ErrBadConfig},
		{name: "bad port", args: []string{"--ports", "x"}, err: ErrBadConfig},
		{name: "unknown version", args: []string{"--as-version", "7.1"}, err: ErrUnknownVersion},
		{name: "sync writes without data dir", args: []string{"--sync-writes"}, err: ErrBadConfig},
		{name: "bad seed topic", args: []string{"--seed-topics", "a:b"}, err: ErrBadSeedTopic},
		{name: "bad sasl user", args: []string{"--sasl-user", "a:b:KERBEROS"}, err: ErrBadSASLUser},
		{name: "cert without key", args: []string{"--tls-cert-file", "testdata/server.pem"}, err: ErrBadConfig},
		{name: "client CA without TLS", args: []string{"--tls-client-ca-file", "testdata/ca.pem"}, err: ErrBadConfig},
		{name: "verify without CA", args: []string{"--tls-cert-file", "testdata/server.pem", "--tls-key-file", "testdata/server-key.pem", "--tls-client-auth", "require"}, err: ErrBadConfig},
		{name: "unknown client auth", args: []string{"--tls-cert-file", "testdata/server.pem", "--tls-key-file", "testdata/server-key.pem", "--tls-client-auth", "maybe"}, err: ErrBadConfig},
		{name: "bad kfake log level", args: []string{"--kfake-log-level", "loud"}, err: ErrBadConfig},
		{name: "negative default partitions", args: []string{"--default-partitions", "-2"}, err: ErrBadConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(t, tt.args, tt.env)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestFlagsMissingCertFile(t *testing.T) {
	_, err := parseFlags(t, []string{"--tls-cert-file", "testdata/nope.pem", "--tls-key-file", "testdata/server-key.pem"}, nil)
	if err == nil || !strings.Contains(err.Error(), "nope.pem") {
		t.Fatalf("err = %v, want one naming the missing file", err)
	}
}
