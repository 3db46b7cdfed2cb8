package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/producer"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(*config) bool
		wantErr bool
	}{
		{
			name: "flags",
			args: []string{"--brokers", "a:1,b:2", "--topic", "t", "--events", "10", "--rate", "5.5", "--keys", "3", "--create-topic", "--partitions", "6"},
			check: func(c *config) bool {
				return len(c.brokerList()) == 2 && c.topic == "t" && c.events == 10 && c.rate == 5.5 && c.keys == 3 && c.createTopic && c.partitions == 6
			},
		},
		{
			name: "env",
			env:  map[string]string{"AIRLOCK_PRODUCER_DURATION": "2m", "AIRLOCK_PRODUCER_TRANSACTIONAL_ID": "tx", "AIRLOCK_PRODUCER_ABORT_FRACTION": "0.1", "AIRLOCK_PRODUCER_SASL_MECHANISM": "PLAIN"},
			check: func(c *config) bool {
				return c.duration == 2*time.Minute && c.txnID == "tx" && c.abortFraction == 0.1 && c.sec.SASLMechanism == "PLAIN"
			},
		},
		{
			name:  "flag beats env",
			args:  []string{"--events", "7"},
			env:   map[string]string{"AIRLOCK_PRODUCER_EVENTS": "9"},
			check: func(c *config) bool { return c.events == 7 && c.idempotent },
		},
		{
			name: "schemas and tls",
			args: []string{"--events", "1", "--schema", "1=a.avsc", "--schema", "2=b.avsc", "--tls", "--tls-ca-file", "ca.pem", "--writer-schema", "v2"},
			check: func(c *config) bool {
				return len(c.schemas.Specs) == 2 && c.sec.TLS && c.sec.Files.CAFile == "ca.pem" && c.writerSchema == "v2"
			},
		},
		{name: "no events nor duration", args: []string{"--topic", "t"}, wantErr: true},
		{name: "abort without transactions", args: []string{"--events", "1", "--abort-fraction", "0.5"}, wantErr: true},
		{name: "bad duration", args: []string{"--duration", "soon"}, wantErr: true},
		{name: "stray argument", args: []string{"--events", "1", "extra"}, wantErr: true},
		{name: "unknown flag", args: []string{"--events", "1", "--nope"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseArgs(tc.args, env(tc.env), io.Discard)
			if tc.wantErr {
				if err == nil {
					t.Fatal("parsed without error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
	if _, err := parseArgs([]string{"--help"}, env(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: err = %v", err)
	}
}

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		level, format string
		ok            bool
	}{
		{"info", "text", true},
		{"debug", "json", true},
		{"loud", "text", false},
		{"info", "xml", false},
	} {
		if _, err := newLogger(io.Discard, tc.level, tc.format); (err == nil) != tc.ok {
			t.Errorf("newLogger(%s, %s) err = %v", tc.level, tc.format, err)
		}
	}
}

func TestRunProducesWhatTheLedgerSays(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger.jsonl")
	args := []string{"--brokers", c.ListenAddrs()[0], "--topic", "cli", "--create-topic", "--partitions", "2",
		"--events", "120", "--keys", "4", "--transactional-id", "cli-tx", "--txn-size", "20", "--abort-fraction", "0.5",
		"--writer-schema", "v2", "--producer-id", "p-cli", "--ledger", ledger}
	cfg, err := parseArgs(args, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code := run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &out); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var res producer.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout %q: %v", out.String(), err)
	}
	// Half the transactions abort on purpose; more may abort on errors, never fewer.
	if res.Events != 120 || res.Aborted < 60 || res.Acked+res.Aborted != 120 || res.SchemaID != 2 {
		t.Fatalf("result %+v", res)
	}
	l, err := event.ReadLedgerFile(ledger)
	if err != nil {
		t.Fatal(err)
	}
	got, err := consumer.Consume(ctx, consumer.Brokers(c.ListenAddrs()...), consumer.Topics("cli"), consumer.Expect(res.Acked),
		consumer.Settle(300*time.Millisecond), consumer.IdleTimeout(5*time.Second), consumer.Logger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	rep := consumer.Check(ctx, []event.Ledger{l}, got.Records)
	if !rep.OK || rep.Stats.AckedSeen != int(res.Acked) || rep.Stats.Aborted != int(res.Aborted) {
		t.Fatalf("check %+v", rep)
	}
	for _, o := range got.Records {
		if o.SchemaID != 2 {
			t.Fatalf("record written with schema %d, want 2", o.SchemaID)
		}
	}

	// A ledger path that cannot be created fails the run, not silently.
	cfg.ledger = filepath.Join(dir, "missing", "ledger.jsonl")
	if code := run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard); code != exitError {
		t.Fatalf("unwritable ledger: exit %d", code)
	}
	if _, err := os.Stat(cfg.ledger); err == nil {
		t.Fatal("ledger appeared in a missing directory")
	}
}
