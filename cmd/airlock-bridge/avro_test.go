package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/bridge"
	"github.com/airlock-kafka/airlock/bridge/bridgetest"
	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/schema"
)

// goodEvent returns one workload event in the wire format, schema v1 as id 1.
func goodEvent(t *testing.T, seq int64) []byte {
	t.Helper()
	v1, err := event.SchemaV1()
	if err != nil {
		t.Fatal(err)
	}
	b, err := event.NewEncoder(v1, 1).Encode(&event.Event{ProducerID: "cli", Seq: seq, Key: "k", Time: time.UnixMilli(1_700_000_000_000), Type: event.TypeCreate})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAvroFlags(t *testing.T) {
	base := []string{"--name", "n", "--source-brokers", "a:1", "--target-brokers", "b:1", "--topic", "events"}
	good := goodEvent(t, 0)
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		wantErr  string
		rejects  []string // topics on which garbage is dead-lettered
		passes   []string // topics on which garbage passes
		reencode int      // id a good v1 event is re-encoded under (0: kept)
	}{
		{name: "no avro", passes: []string{"events"}},
		{name: "topics and schema dir", args: []string{"--avro-topics", "events, other", "--schema-dir", "../../schemas"},
			rejects: []string{"events", "other"}, passes: []string{"raw"}},
		{name: "repeated topics and schema files from env", env: map[string]string{
			"AIRLOCK_BRIDGE_AVRO_TOPICS": "events;other", "AIRLOCK_BRIDGE_SCHEMA": "1=../../schemas/event-v1.avsc"},
			rejects: []string{"events", "other"}, passes: []string{"raw"}},
		{name: "regex and registry url", args: []string{"--avro-topic-regex", `ev.*`, "--schema-registry-url", "http://127.0.0.1:1"},
			rejects: []string{"events", "evx"}, passes: []string{"raw", "xev"}},
		{name: "config file", args: []string{"--config", "testdata/avro.conf"}, rejects: []string{"events"}, passes: []string{"raw"}},
		{name: "target schema", args: []string{"--avro-topics", "events", "--schema-dir", "../../schemas", "--avro-target-schema", "20=../../schemas/event-v2.avsc"},
			rejects: []string{"events"}, reencode: 20},
		{name: "avro topics without schemas", args: []string{"--avro-topics", "events"}, wantErr: "need writer schemas"},
		{name: "schemas without avro topics", args: []string{"--schema-dir", "../../schemas"}, wantErr: "without --avro-topics"},
		{name: "target without avro topics", args: []string{"--avro-target-schema", "2=../../schemas/event-v2.avsc"}, wantErr: "without --avro-topics"},
		{name: "target spec without id", args: []string{"--avro-topics", "events", "--schema-dir", "../../schemas", "--avro-target-schema", "../../schemas/event-v2.avsc"},
			wantErr: "--avro-target-schema"},
		{name: "target file missing", args: []string{"--avro-topics", "events", "--schema-dir", "../../schemas", "--avro-target-schema", "2=testdata/missing.avsc"},
			wantErr: "--avro-target-schema"},
		{name: "bad regex", args: []string{"--avro-topic-regex", "(", "--schema-dir", "../../schemas"}, wantErr: "regex"},
		{name: "schema dir without schemas", args: []string{"--avro-topics", "events", "--schema-dir", "testdata"}, wantErr: "no .avsc"},
		{name: "registry and local schemas", args: []string{"--avro-topics", "events", "--schema-dir", "../../schemas", "--schema-registry", "http://r"},
			wantErr: "not both"},
		{name: "registry flags disagree", args: []string{"--avro-topics", "events", "--schema-registry", "http://a", "--schema-registry-url", "http://b"},
			wantErr: "disagree"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			cfg, err := parseFlags(append(append([]string{}, base...), tc.args...), env(tc.env), &out, &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, topic := range tc.rejects {
				if _, err := cfg.validator.Validate(ctx, topic, []byte("garbage")); bridge.ReasonOf(err) != bridge.ReasonNotWireFormat {
					t.Errorf("garbage on %s: err %v, want a %s rejection", topic, err, bridge.ReasonNotWireFormat)
				}
			}
			for _, topic := range tc.passes {
				if cfg.validator == nil {
					continue
				}
				if out, err := cfg.validator.Validate(ctx, topic, []byte("garbage")); err != nil || out != nil {
					t.Errorf("garbage on %s: %q, %v; want it passed untouched", topic, out, err)
				}
			}
			if tc.reencode != 0 {
				out, err := cfg.validator.Validate(ctx, "events", good)
				if id, _, werr := schema.SplitWire(out); err != nil || werr != nil || id != tc.reencode {
					t.Errorf("re-encoded id %d (%v, %v), want %d", id, err, werr, tc.reencode)
				}
			}
		})
	}
}

// TestRunAvroDeadLetter runs the command with an Avro topic holding a good
// event between two broken records: the event is copied, the broken ones go
// to the dead-letter topic with their reasons, and the run stops cleanly.
func TestRunAvroDeadLetter(t *testing.T) {
	src, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	var out bytes.Buffer
	cfg, err := parseFlags([]string{
		"--name", "cli-avro", "--source-brokers", strings.Join(src.ListenAddrs(), ","),
		"--target-brokers", strings.Join(dst.ListenAddrs(), ","), "--topic", "events", "--rename", "copy.",
		"--coordination", "static", "--txn-interval", "20ms", "--http-listen-address", "",
		"--avro-topics", "events", "--schema-dir", "../../schemas",
	}, env(nil), &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	good := goodEvent(t, 0)
	pcl, err := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	ctx := context.Background()
	if err := pcl.ProduceSync(ctx,
		&kgo.Record{Topic: "events", Value: []byte("not avro at all")},
		&kgo.Record{Topic: "events", Value: good},
		&kgo.Record{Topic: "events", Value: schema.AppendWire(nil, 42, good[schema.HeaderSize:])},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(runCtx, cfg, slog.New(slog.DiscardHandler)) }()
	dcl, err := kgo.NewClient(kgo.SeedBrokers(dst.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer dcl.Close()
	adm := kadm.NewClient(dcl)
	deadline := time.Now().Add(20 * time.Second)
	for {
		offs, err := adm.FetchOffsets(ctx, "airlock-bridge.cli-avro")
		if o, ok := offs.Lookup("copy.events", 0); err == nil && ok && o.At >= 3 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("run ended early with exit %d", code)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the records were never committed to the target")
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

	got, err := bridgetest.ReadAll(ctx, dst.ListenAddrs(), 10*time.Second, "copy.events", "airlock-bridge.cli-avro.dlq")
	if err != nil {
		t.Fatal(err)
	}
	if copied := got["copy.events"][0]; len(copied) != 1 || !bytes.Equal(copied[0].Value, good) {
		t.Fatalf("target holds %d records, want the one good event", len(copied))
	}
	var reasons []string
	for _, r := range got["airlock-bridge.cli-avro.dlq"][0] {
		for _, h := range r.Headers {
			if h.Key == bridge.HeaderDLQReasonCode {
				reasons = append(reasons, string(h.Value))
			}
		}
	}
	if strings.Join(reasons, ",") != bridge.ReasonNotWireFormat+","+bridge.ReasonUnknownSchema {
		t.Fatalf("dead letters with reasons %v, want [%s %s]", reasons, bridge.ReasonNotWireFormat, bridge.ReasonUnknownSchema)
	}
}
