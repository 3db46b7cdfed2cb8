package main

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestHelpDocumentsEveryFlagAndEnv(t *testing.T) {
	var out bytes.Buffer
	cfg, err := parseFlags([]string{"--help"}, env(nil), &out, &out)
	if err != nil || cfg != nil {
		t.Fatalf("--help: cfg %v err %v", cfg, err)
	}
	help := out.String()
	var c config
	fs, _ := c.flagSet(&bytes.Buffer{})
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(help, "-"+f.Name+" ") && !strings.Contains(help, "-"+f.Name+"\n") {
			t.Errorf("--help lacks --%s", f.Name)
		}
		envName := "AIRLOCK_BRIDGE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if !strings.Contains(help, envName) {
			t.Errorf("--help lacks env %s", envName)
		}
		if len(f.Usage) < 10 {
			t.Errorf("--%s is not explained: %q", f.Name, f.Usage)
		}
		n++
	})
	if n < 40 {
		t.Fatalf("only %d flags seen", n)
	}
}

func TestPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		wantName string
		wantTxn  time.Duration
	}{
		{"file only", []string{"--config", "testdata/bridge.conf"}, nil, "from-file", 100 * time.Millisecond},
		{"env beats file", []string{"--config", "testdata/bridge.conf"}, map[string]string{"AIRLOCK_BRIDGE_NAME": "from-env"}, "from-env", 100 * time.Millisecond},
		{"flag beats env", []string{"--config", "testdata/bridge.conf", "--name", "from-flag", "--txn-interval", "1s"},
			map[string]string{"AIRLOCK_BRIDGE_NAME": "from-env"}, "from-flag", time.Second},
		{"config from env", nil, map[string]string{"AIRLOCK_BRIDGE_CONFIG": "testdata/bridge.conf"}, "from-file", 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			cfg, err := parseFlags(tc.args, env(tc.env), &out, &out)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.name != tc.wantName || cfg.txnInterval != tc.wantTxn {
				t.Fatalf("name %q interval %s, want %q %s", cfg.name, cfg.txnInterval, tc.wantName, tc.wantTxn)
			}
			if len(cfg.topics) != 2 || cfg.mode != "at-least-once" || cfg.rename != "east.{{.Topic}}" {
				t.Fatalf("file settings lost: %+v", cfg)
			}
			if got := splitList(cfg.sourceBrokers); len(got) != 2 || got[1] != "src-b:9092" {
				t.Fatalf("source brokers %q", got)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "sometimes"}, "--mode"},
		{[]string{"--coordination", "raft"}, "--coordination"},
		{[]string{"--start-offset", "middle"}, "--start-offset"},
		{[]string{"--target-topic-config", "novalue"}, "key=value"},
		{[]string{"--target-replication-factor", "0"}, "replication"},
		{[]string{"--source-sasl-mechanism", "GSSAPI", "--source-sasl-user", "u"}, "source security"},
		{[]string{"stray"}, "unexpected arguments"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			_, err := parseFlags(tc.args, env(nil), &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	t.Run("invalid configuration", func(t *testing.T) {
		var out bytes.Buffer
		cfg, err := parseFlags([]string{"--source-brokers", "a:1", "--target-brokers", "b:1", "--topic", "x"}, env(nil), &out, &out)
		if err != nil {
			t.Fatal(err)
		}
		if code := run(context.Background(), cfg, log); code != exitUsage {
			t.Fatalf("missing --name: exit %d, want %d", code, exitUsage)
		}
	})
	for _, tc := range []struct {
		name      string
		srcOpts   []kfake.Opt
		dstOpts   []kfake.Opt
		args      []string
		srcClient []kgo.Opt
		dstClient []kgo.Opt
	}{
		{name: "plaintext"},
		{
			name:    "SASL on both sides",
			srcOpts: []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "src-user", "src-pass")},
			dstOpts: []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "dst-user", "dst-pass")},
			args: []string{"--source-sasl-mechanism", "PLAIN", "--source-sasl-user", "src-user", "--source-sasl-password", "src-pass",
				"--target-sasl-mechanism", "SCRAM-SHA-512", "--target-sasl-user", "dst-user", "--target-sasl-password-file", "testdata/target-password"},
			srcClient: []kgo.Opt{kgo.SASL(plain.Auth{User: "src-user", Pass: "src-pass"}.AsMechanism())},
			dstClient: []kgo.Opt{kgo.SASL(scram.Auth{User: "dst-user", Pass: "dst-pass"}.AsSha512Mechanism())},
		},
	} {
		t.Run("copies then stops cleanly: "+tc.name, func(t *testing.T) {
			src, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, "t")}, tc.srcOpts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			dst, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, tc.dstOpts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			var out bytes.Buffer
			cfg, err := parseFlags(append([]string{
				"--name", "cli", "--source-brokers", strings.Join(src.ListenAddrs(), ","),
				"--target-brokers", strings.Join(dst.ListenAddrs(), ","), "--topic", "t", "--rename", "copy.",
				"--coordination", "static", "--txn-interval", "20ms", "--http-listen-address", "127.0.0.1:0",
			}, tc.args...), env(nil), &out, &out)
			if err != nil {
				t.Fatal(err)
			}
			pcl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(src.ListenAddrs()...)}, tc.srcClient...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer pcl.Close()
			if err := pcl.ProduceSync(context.Background(), &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int, 1)
			go func() { done <- run(ctx, cfg, log) }()

			dcl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(dst.ListenAddrs()...)}, tc.dstClient...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer dcl.Close()
			adm := kadm.NewClient(dcl)
			deadline := time.Now().Add(20 * time.Second)
			for {
				offs, err := adm.FetchOffsets(context.Background(), "airlock-bridge.cli")
				o0, ok0 := offs.Lookup("copy.t", 0)
				o1, ok1 := offs.Lookup("copy.t", 1)
				if err == nil && (ok0 && o0.At >= 1 || ok1 && o1.At >= 1) {
					break
				}
				if time.Now().After(deadline) {
					cancel()
					t.Fatalf("the record was never committed to the target (exit %d?)", <-done)
				}
				time.Sleep(20 * time.Millisecond) // polling interval
			}
			cancel()
			select {
			case code := <-done:
				if code != exitOK {
					t.Fatalf("exit %d, want %d", code, exitOK)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("run did not return")
			}
		})
	}
}
