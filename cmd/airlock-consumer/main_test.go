package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/consumer"
	"github.com/airlock-kafka/airlock/internal/provenance"
	"github.com/airlock-kafka/airlock/producer"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

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
			args: []string{"--topics", "a,b", "--topics", "c", "--ledger", "x.jsonl,y.jsonl", "--expect", "10", "--report", "r.json", "--deadline", "1m"},
			check: func(c *config) bool {
				return len(c.topicList()) == 3 && len(c.ledgerList()) == 2 && c.expect == 10 && c.report == "r.json" && c.deadline == time.Minute
			},
		},
		{
			name: "env",
			env: map[string]string{"AIRLOCK_CONSUMER_TOPICS": "a;b", "AIRLOCK_CONSUMER_LEDGER": "l1.jsonl", "AIRLOCK_CONSUMER_IDLE_TIMEOUT": "5s",
				"AIRLOCK_CONSUMER_SOURCE_BROKERS": "src:9092", "AIRLOCK_CONSUMER_SOURCE_TLS": "true", "AIRLOCK_CONSUMER_SCHEMA_REGISTRY": "http://sr:8081"},
			check: func(c *config) bool {
				return len(c.topicList()) == 2 && c.idle == 5*time.Second && len(c.sourceList()) == 1 && c.sourceSec.TLS && c.schemas.Registry == "http://sr:8081"
			},
		},
		{name: "no topics", args: []string{"--expect", "1"}, wantErr: true},
		{name: "no stop condition", args: []string{"--topics", "a", "--idle-timeout", "0"}, wantErr: true},
		{name: "negative examples", args: []string{"--topics", "a", "--max-examples", "-1"}, wantErr: true},
		{name: "stray argument", args: []string{"--topics", "a", "extra"}, wantErr: true},
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
	if _, err := parseArgs([]string{"-h"}, env(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: err = %v", err)
	}
}

func produce(t *testing.T, brokers, topic, ledger string, opts ...producer.Opt) producer.Result {
	t.Helper()
	f, err := os.Create(ledger)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	p, err := producer.New(append([]producer.Opt{producer.Brokers(brokers), producer.Topic(topic), producer.CreateTopic(3, -1),
		producer.Ledger(f), producer.Logger(quiet())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// runCLI runs the consumer with args and returns exit code, table and JSON report.
func runCLI(t *testing.T, args ...string) (int, string, consumer.Report) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	cfg, err := parseArgs(append(args, "--report", report, "--settle", "300ms", "--idle-timeout", "5s", "--deadline", "1m"), env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := run(context.Background(), cfg, quiet(), &out)
	var rep consumer.Report
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("exit %d, no report: %v\n%s", code, err, out.String())
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return code, out.String(), rep
}

func TestRunChecksProducerLedgers(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()[0]
	dir := t.TempDir()
	l1, l2 := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	r1 := produce(t, brokers, "t1", l1, producer.Events(150), producer.ProducerID("pa"))
	r2 := produce(t, brokers, "t2", l2, producer.Events(100), producer.ProducerID("pb"), producer.Transactional("tx-b", 10, 0.5))
	acked := r1.Acked + r2.Acked

	code, table, rep := runCLI(t, "--brokers", brokers, "--topics", "t1,t2", "--ledger", l1, "--ledger", l2, "--expect", fmt.Sprint(acked))
	if code != exitOK || !rep.OK || rep.Stats.AckedSeen != int(acked) || rep.Stats.Aborted != 50 {
		t.Fatalf("exit %d, report %+v\n%s", code, rep.Stats, table)
	}
	if !strings.Contains(table, "result: PASS") {
		t.Fatalf("table:\n%s", table)
	}

	// A ledger claiming an event that was never written: lost, exit 1.
	f, err := os.OpenFile(l1, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `{"producer":"pa","seq":150,"key":"key-50","status":"acked","topic":"t1","partition":0,"offset":999,"txn":-1}`)
	_ = f.Close()
	code, table, rep = runCLI(t, "--brokers", brokers, "--topics", "t1,t2", "--ledger", l1+","+l2, "--expect", fmt.Sprint(acked))
	if code != exitViolations || rep.Class(consumer.ClassLost).Count != 1 || !strings.Contains(table, "pa/150") {
		t.Fatalf("exit %d, lost %+v\n%s", code, rep.Class(consumer.ClassLost), table)
	}

	// A missing ledger is an error before consuming.
	cfg, err := parseArgs([]string{"--topics", "t1", "--ledger", filepath.Join(dir, "none.jsonl")}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if code := run(context.Background(), cfg, quiet(), io.Discard); code != exitError {
		t.Fatalf("missing ledger: exit %d", code)
	}
}

// TestRunVerifiesProvenance copies a source topic to a target cluster the way the
// bridge does (with provenance headers), once faithfully and once with one record
// naming the wrong source offset, and checks --source-brokers catches only the latter.
func TestRunVerifiesProvenance(t *testing.T) {
	src, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "good", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	ledger := filepath.Join(t.TempDir(), "src.jsonl")
	res := produce(t, src.ListenAddrs()[0], "events", ledger, producer.Events(40), producer.ProducerID("ps"))

	read, err := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...), kgo.ConsumeTopics("events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer read.Close()
	var records []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for int64(len(records)) < res.Acked && ctx.Err() == nil {
		read.PollFetches(ctx).EachRecord(func(r *kgo.Record) { records = append(records, r) })
	}
	write, err := kgo.NewClient(kgo.SeedBrokers(dst.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer write.Close()
	for _, topic := range []string{"good", "bad"} {
		for i, r := range records {
			p := provenance.Source{Cluster: "src", Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
			if topic == "bad" && i == 7 {
				p.Offset += 1000
			}
			cp := &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: append(append([]kgo.RecordHeader{}, r.Headers...), p.Headers()...)}
			if err := write.ProduceSync(ctx, cp).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	common := []string{"--brokers", dst.ListenAddrs()[0], "--ledger", ledger, "--expect", fmt.Sprint(res.Acked),
		"--source-brokers", src.ListenAddrs()[0], "--lookup-idle", "1s"}
	code, table, rep := runCLI(t, append(common, "--topics", "good")...)
	if code != exitOK || rep.Stats.ProvenanceOK != int(res.Acked) {
		t.Fatalf("good copy: exit %d, stats %+v\n%s", code, rep.Stats, table)
	}
	code, table, rep = runCLI(t, append(common, "--topics", "bad")...)
	if code != exitViolations || rep.Class(consumer.ClassProvenance).Count != 1 {
		t.Fatalf("bad copy: exit %d, provenance %+v\n%s", code, rep.Class(consumer.ClassProvenance), table)
	}
}
