package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/bridge"
	"github.com/airlock-kafka/airlock/bridge/bridgetest"
	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/provenance"
	"github.com/airlock-kafka/airlock/internal/schema"
	"github.com/airlock-kafka/airlock/schemas"
)

// eventSchemas returns the event schemas v1 and v2.
func eventSchemas(t *testing.T) (v1, v2 avro.Schema) {
	t.Helper()
	v1, err := event.SchemaV1()
	if err != nil {
		t.Fatal(err)
	}
	v2, err = event.SchemaV2()
	if err != nil {
		t.Fatal(err)
	}
	return v1, v2
}

// localSchemas holds event v1 as 1, v2 as 2, and more as given.
func localSchemas(t *testing.T, more ...schema.LocalOpt) *schema.Local {
	t.Helper()
	opts, err := event.DefaultSchemas()
	if err != nil {
		t.Fatal(err)
	}
	l, err := schema.NewLocal(append(opts, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newAvro(t *testing.T, src schema.Source, opts ...bridge.AvroOpt) *bridge.AvroValidator {
	t.Helper()
	v, err := bridge.NewAvroValidator(src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// badKind is a way an Avro record can be broken, with the reason class the
// bridge must give it.
type badKind struct {
	name   string
	reason string
	value  func(good []byte) []byte
}

var badKinds = []badKind{
	{"garbage", bridge.ReasonNotWireFormat, func([]byte) []byte { return []byte("garbage bytes, not Avro") }},
	{"unknown schema id", bridge.ReasonUnknownSchema, func(good []byte) []byte {
		return schema.AppendWire(nil, 99, good[schema.HeaderSize:])
	}},
	{"truncated body", bridge.ReasonMalformed, func(good []byte) []byte { return good[:len(good)-3] }},
}

// flakyRegistry serves schemas by id like a Confluent registry, or answers
// 500 to everything while down.
type flakyRegistry struct {
	schemas map[int]string
	down    atomic.Bool
	failed  atomic.Int64 // requests answered 500
}

func (f *flakyRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	if f.down.Load() {
		f.failed.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error_code":50001,"message":"registry down for the test"}`))
		return
	}
	id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/schemas/ids/"))
	text, ok := f.schemas[id]
	if r.Method != http.MethodGet || err != nil || !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
		return
	}
	_, _ = fmt.Fprintf(w, `{"schema":%q}`, text)
}

func newFlakyRegistry(t *testing.T) (*flakyRegistry, *httptest.Server) {
	t.Helper()
	text, err := schemas.Text(schemas.EventV1)
	if err != nil {
		t.Fatal(err)
	}
	f := &flakyRegistry{schemas: map[int]string{1: text}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestAvroValidator(t *testing.T) {
	ctx := context.Background()
	v1, v2 := eventSchemas(t)
	incompatible, err := schema.ParseFile("testdata/incompatible.avsc")
	if err != nil {
		t.Fatal(err)
	}
	local := localSchemas(t)
	ev := event.Event{ProducerID: "p", Seq: 7, Key: "k", Time: time.UnixMilli(1_700_000_000_000).UTC(), Type: event.TypeCreate, Payload: []byte{1, 2}}
	goodV1, err := event.NewEncoder(v1, 1).Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	goodV2, err := event.NewEncoder(v2, 2).Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}

	validate := newAvro(t, local, bridge.AvroTopics("events"), bridge.AvroTopicRegex(`avro\..*`))
	toV2 := newAvro(t, local, bridge.AvroTopics("events"), bridge.AvroTarget(v2, 20))
	toIncompatible := newAvro(t, local, bridge.AvroTopics("events"), bridge.AvroTarget(incompatible, 9))
	flaky, srv := newFlakyRegistry(t)
	reg, err := schema.NewRegistry(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	viaRegistry := newAvro(t, reg, bridge.AvroTopics("events"))
	// Its own cache: the other registry's has schema 1 once a case fetched it.
	uncached, err := schema.NewRegistry(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	downSrv := httptest.NewServer(http.NotFoundHandler())
	downSrv.Close() // nothing listens there any more
	gone, err := schema.NewRegistry(downSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	unreachable := newAvro(t, gone, bridge.AvroTopics("events"))

	for _, tc := range []struct {
		name       string
		v          *bridge.AvroValidator
		topic      string
		value      []byte
		down       bool
		wantReason string // "" accepted
		transient  bool
		wantID     int // re-encoded under this id; 0: value kept
	}{
		{name: "other topic passes anything", v: validate, topic: "raw", value: []byte("not avro")},
		{name: "tombstone passes", v: validate, topic: "events", value: nil},
		{name: "valid v1", v: validate, topic: "events", value: goodV1},
		{name: "valid v2", v: validate, topic: "events", value: goodV2},
		{name: "regex topic checked", v: validate, topic: "avro.orders", value: []byte("x"), wantReason: bridge.ReasonNotWireFormat},
		{name: "regex matches whole names only", v: validate, topic: "xavro.orders", value: []byte("x")},
		{name: "garbage", v: validate, topic: "events", value: badKinds[0].value(goodV1), wantReason: bridge.ReasonNotWireFormat},
		{name: "empty value", v: validate, topic: "events", value: []byte{}, wantReason: bridge.ReasonNotWireFormat},
		{name: "unknown schema id", v: validate, topic: "events", value: badKinds[1].value(goodV1), wantReason: bridge.ReasonUnknownSchema},
		{name: "truncated body", v: validate, topic: "events", value: badKinds[2].value(goodV1), wantReason: bridge.ReasonMalformed},
		{name: "trailing bytes", v: validate, topic: "events", value: append(append([]byte{}, goodV1...), 0), wantReason: bridge.ReasonMalformed},
		{name: "v1 re-encoded to v2", v: toV2, topic: "events", value: goodV1, wantID: 20},
		{name: "v2 renumbered", v: toV2, topic: "events", value: goodV2, wantID: 20},
		{name: "re-encode checks the body", v: toV2, topic: "events", value: badKinds[2].value(goodV1), wantReason: bridge.ReasonMalformed},
		{name: "incompatible target", v: toIncompatible, topic: "events", value: goodV1, wantReason: bridge.ReasonIncompatible},
		{name: "registry: valid", v: viaRegistry, topic: "events", value: goodV1},
		{name: "registry: unknown id", v: viaRegistry, topic: "events", value: badKinds[1].value(goodV1), wantReason: bridge.ReasonUnknownSchema},
		{name: "registry: 500 is transient", v: newAvro(t, uncached, bridge.AvroTopics("events")), topic: "events", value: goodV1, down: true, transient: true},
		{name: "registry: unreachable is transient", v: unreachable, topic: "events", value: goodV1, transient: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flaky.down.Store(tc.down)
			defer flaky.down.Store(false)
			out, err := tc.v.Validate(ctx, tc.topic, tc.value)
			switch {
			case tc.transient:
				if !errors.Is(err, bridge.ErrTransient) {
					t.Fatalf("err = %v, want ErrTransient", err)
				}
				if _, ok := errors.AsType[*bridge.Rejection](err); ok {
					t.Fatalf("a transient failure must not be a rejection: %v", err)
				}
				return
			case tc.wantReason != "":
				if err == nil || errors.Is(err, bridge.ErrTransient) {
					t.Fatalf("err = %v, want a rejection", err)
				}
				if got := bridge.ReasonOf(err); got != tc.wantReason {
					t.Fatalf("reason %q (%v), want %q", got, err, tc.wantReason)
				}
				return
			case err != nil:
				t.Fatalf("rejected: %v", err)
			}
			if tc.wantID == 0 {
				if out != nil {
					t.Fatalf("value replaced by %q", out)
				}
				return
			}
			id, _, err := schema.SplitWire(out)
			if err != nil || id != tc.wantID {
				t.Fatalf("re-encoded id %d (%v), want %d", id, err, tc.wantID)
			}
			got, _, err := event.Decode(ctx, localSchemas(t, schema.WithSchema(20, v2)), out)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID() != ev.ID() || got.Key != ev.Key || got.Type != ev.Type || !got.Time.Equal(ev.Time) {
				t.Fatalf("re-encoded event %+v, want %+v", got, ev)
			}
		})
	}
	if flaky.failed.Load() == 0 {
		t.Fatal("the registry never answered 500: the transient case did not reach it")
	}
}

func TestNewAvroValidatorConfig(t *testing.T) {
	_, v2 := eventSchemas(t)
	local := localSchemas(t)
	for _, tc := range []struct {
		name string
		src  schema.Source
		opts []bridge.AvroOpt
		want string
	}{
		{"no topics", local, nil, "no Avro topics"},
		{"no source", nil, []bridge.AvroOpt{bridge.AvroTopics("t")}, "no schema source"},
		{"bad regex", local, []bridge.AvroOpt{bridge.AvroTopicRegex("(")}, "regex"},
		{"target id out of range", local, []bridge.AvroOpt{bridge.AvroTopics("t"), bridge.AvroTarget(v2, -1)}, "target schema id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bridge.NewAvroValidator(tc.src, tc.opts...)
			if !errors.Is(err, bridge.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
}

// produceMixed writes n records per partition of topic, every eighth (from
// the sixth on) broken in one of badKinds' ways in turn and the rest ledgered
// events. It returns the broken ones' kinds by source position.
func produceMixed(t *testing.T, e *env, topic string, partitions int32, n int) map[[2]int64]badKind {
	t.Helper()
	ctx := context.Background()
	junk, err := bridgetest.NewEventProducer("junk") // bodies for broken records, never ledgered
	if err != nil {
		t.Fatal(err)
	}
	var all, good []*kgo.Record
	kinds := map[*kgo.Record]badKind{}
	for i := range n {
		for p := range partitions {
			if i%8 != 5 {
				r, err := e.events.Record(topic, p)
				if err != nil {
					t.Fatal(err)
				}
				all, good = append(all, r), append(good, r)
				continue
			}
			r, err := junk.Record(topic, p)
			if err != nil {
				t.Fatal(err)
			}
			k := badKinds[(i/8)%len(badKinds)]
			r.Value, r.Headers = k.value(r.Value), nil
			kinds[r] = k
			all = append(all, r)
		}
	}
	if err := e.srcCl.ProduceSync(ctx, all...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := e.events.Acked(good...); err != nil {
		t.Fatal(err)
	}
	bad := map[[2]int64]badKind{}
	for r, k := range kinds {
		bad[[2]int64{int64(r.Partition), r.Offset}] = k
	}
	return bad
}

// checkDeadLetters asserts that the dead-letter topic holds exactly the bad
// records, once each, with their source bytes, provenance and reasons.
func checkDeadLetters(t *testing.T, e *env, dlqTopic, srcTopic string, bad map[[2]int64]badKind) {
	t.Helper()
	got, err := bridgetest.ReadAll(context.Background(), e.dst.ListenAddrs(), 10*time.Second, dlqTopic)
	if err != nil {
		t.Fatal(err)
	}
	src := e.source()[srcTopic]
	seen := map[[2]int64]bool{}
	for _, p := range got[dlqTopic] {
		for _, r := range p {
			prov, ok := provenance.FromHeaders(r.Headers)
			at := [2]int64{int64(prov.Partition), prov.Offset}
			k, isBad := bad[at]
			switch {
			case !ok || prov.Topic != srcTopic || prov.Cluster != "source-cluster":
				t.Errorf("dead letter at %d without valid provenance: %+v", r.Offset, prov)
				continue
			case !isBad:
				t.Errorf("good record %s/%d@%d was dead-lettered", prov.Topic, prov.Partition, prov.Offset)
				continue
			case seen[at]:
				t.Errorf("source record %d@%d dead-lettered twice", prov.Partition, prov.Offset)
				continue
			}
			seen[at] = true
			hs := map[string]string{}
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
			if hs[bridge.HeaderDLQReasonCode] != k.reason || hs[bridge.HeaderDLQReason] == "" ||
				hs[bridge.HeaderDLQTargetTopic] != e.prefix+srcTopic || hs[bridge.HeaderDLQPartition] != strconv.Itoa(int(prov.Partition)) {
				t.Errorf("%s at source %d@%d: headers %v, want reason code %q", k.name, prov.Partition, prov.Offset, hs, k.reason)
			}
			var orig *kgo.Record
			for _, s := range src[prov.Partition] {
				if s.Offset == prov.Offset {
					orig = s
				}
			}
			if orig == nil || string(orig.Value) != string(r.Value) || string(orig.Key) != string(r.Key) {
				t.Errorf("dead letter for %d@%d does not carry the source record's key and value", prov.Partition, prov.Offset)
			}
		}
	}
	if len(seen) != len(bad) {
		t.Errorf("%d of %d bad records dead-lettered", len(seen), len(bad))
	}
}

// counter sums the series of the counter name whose labels include want.
func counter(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestAvroDeadLetterAcrossCrash interleaves broken Avro with good events,
// crashes the bridge in the middle (no graceful commit) and restarts it:
// every broken record is dead-lettered exactly once with its reason, every
// event is copied exactly once and in order, and a non-Avro topic passes.
func TestAvroDeadLetterAcrossCrash(t *testing.T) {
	e := newEnv(t, map[string]int32{"events": 3}, "")
	ctx := context.Background()
	bad := produceMixed(t, e, "events", 3, 60)
	if _, err := kadm.NewClient(e.srcCl).CreateTopic(ctx, 1, -1, nil, "raw"); err != nil {
		t.Fatal(err)
	}
	var raw []*kgo.Record
	for i := range 5 {
		raw = append(raw, &kgo.Record{Topic: "raw", Value: fmt.Appendf(nil, "plain text %d", i)})
	}
	if err := e.srcCl.ProduceSync(ctx, raw...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	validator := newAvro(t, localSchemas(t), bridge.AvroTopics("events"))
	opts := func(more ...bridge.Opt) []bridge.Opt {
		return e.opts("avro", append([]bridge.Opt{bridge.WithValidator(validator), bridge.Topics("raw"),
			bridge.Tasks(2), bridge.TxnMaxRecords(10)}, more...)...)
	}

	crashCtx, crash := context.WithCancel(ctx)
	defer crash()
	var ends atomic.Int64
	reg1 := prometheus.NewRegistry()
	b, err := bridge.New(opts(bridge.ShutdownTimeout(0), bridge.WithRegistry(reg1),
		bridge.WithHook(func(_ context.Context, _ int, p bridge.HookPoint) {
			if p == bridge.HookBeforeEndTxn && ends.Add(1) == 3 {
				crash()
			}
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(crashCtx); err != nil {
		t.Fatal(err)
	}
	if ends.Load() < 3 {
		t.Fatalf("the crash point was not reached (%d EndTxn)", ends.Load())
	}
	firstRun := counter(t, reg1, "airlock_bridge_dlq_records_total", map[string]string{"topic": "events"})

	reg2 := prometheus.NewRegistry()
	r := start(t, opts(bridge.WithRegistry(reg2))...)
	src := e.source()
	isBad := func(r *kgo.Record) bool { _, ok := bad[[2]int64{int64(r.Partition), r.Offset}]; return ok }
	e.waitCommitted("avro", src, isBad, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	if rep := e.verify(src, isBad)["events"]; rep.Copied != src["events"].Count()-len(bad) {
		t.Errorf("copied %d events, want %d", rep.Copied, src["events"].Count()-len(bad))
	}
	checkDeadLetters(t, e, "airlock-bridge.avro.dlq", "events", bad)
	dst, err := bridgetest.ReadAll(ctx, e.dst.ListenAddrs(), 10*time.Second, "raw")
	if err != nil {
		t.Fatal(err)
	}
	srcRaw, err := bridgetest.ReadAll(ctx, e.src.ListenAddrs(), 10*time.Second, "raw")
	if err != nil {
		t.Fatal(err)
	}
	if rep := bridgetest.Verify(srcRaw["raw"], dst["raw"], "source-cluster", "raw", nil, nil); !rep.OK() || rep.Copied != 5 {
		t.Errorf("non-Avro topic: %s", rep)
	}

	// Dead letters are counted when their transaction commits; the crashed
	// one's were never committed, and a commit may have been cut short.
	secondRun := counter(t, reg2, "airlock_bridge_dlq_records_total", map[string]string{"topic": "events"})
	if secondRun == 0 || firstRun+secondRun > float64(len(bad)) {
		t.Errorf("dlq_records_total: %v before the crash, %v after, want some after and at most %d in all", firstRun, secondRun, len(bad))
	}
	for _, k := range badKinds {
		if n := counter(t, reg1, "airlock_bridge_dlq_records_total", map[string]string{"reason": k.reason}) +
			counter(t, reg2, "airlock_bridge_dlq_records_total", map[string]string{"reason": k.reason}); n == 0 {
			t.Errorf("no dead letter counted with reason %q", k.reason)
		}
	}
}

// TestAvroReencode copies v1 and v2 events to the target re-encoded for
// schema v2 under the target registry's id 20.
func TestAvroReencode(t *testing.T) {
	e := newEnv(t, map[string]int32{"ev": 2}, "v2.")
	ctx := context.Background()
	v1, v2 := eventSchemas(t)
	e.produce(40)
	e.events.SetSchema(v2, 2)
	e.produce(10)
	e.events.SetSchema(v1, 1)
	bad := produceMixed(t, e, "ev", 2, 8) // one broken record per partition, the garbage kind

	local := localSchemas(t)
	reg := prometheus.NewRegistry()
	r := start(t, e.opts("reenc", bridge.WithRegistry(reg),
		bridge.WithValidator(newAvro(t, local, bridge.AvroTopics("ev"), bridge.AvroTarget(v2, 20))))...)
	src := e.source()
	isBad := func(r *kgo.Record) bool { _, ok := bad[[2]int64{int64(r.Partition), r.Offset}]; return ok }
	e.waitCommitted("reenc", src, isBad, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	dst := e.target()
	withTarget := localSchemas(t, schema.WithSchema(20, v2))
	n := 0
	for _, p := range dst["v2.ev"] {
		for _, rec := range p {
			id, native, err := schema.Decode(ctx, withTarget, rec.Value)
			if err != nil || id != 20 {
				t.Fatalf("target record %d@%d: schema id %d, %v; want a v2 record under id 20", rec.Partition, rec.Offset, id, err)
			}
			if region := native.(map[string]any)["region"]; region != "unknown" {
				t.Fatalf("target record %d@%d: region %v, want the v2 default", rec.Partition, rec.Offset, region)
			}
			n++
		}
	}
	if want := 2*58 - len(bad); n != want {
		t.Errorf("target holds %d records, want %d", n, want)
	}
	conv := schema.NewConverter(local, v2, 20)
	rep := bridgetest.Verify(src["ev"], dst["v2.ev"], "source-cluster", "ev", isBad, func(v []byte) []byte {
		out, err := conv.Convert(ctx, v)
		if err != nil {
			t.Fatalf("convert a source event: %v", err)
		}
		return out
	})
	if !rep.OK() {
		t.Errorf("re-encoded copy: %s", rep)
	}
	assertClean(t, bridgetest.CheckEvents(ctx, withTarget, []event.Ledger{e.events.Ledger()}, "source-cluster", src, dst,
		func(topic string) string { return "v2." + topic }))
	checkDeadLetters(t, e, "airlock-bridge.reenc.dlq", "ev", bad)
	if got := counter(t, reg, "airlock_bridge_dlq_records_total", map[string]string{"topic": "ev", "reason": bridge.ReasonNotWireFormat}); got != float64(len(bad)) {
		t.Errorf("dlq_records_total{reason=not_wire_format} = %v, want %d", got, len(bad))
	}
	if got := counter(t, reg, "airlock_bridge_records_copied_total", map[string]string{"topic": "ev"}); got != float64(n) {
		t.Errorf("records_copied_total = %v, want %d", got, n)
	}
}

// TestAvroRegistryDown starts the bridge while the schema registry answers
// 500: nothing is dead-lettered or copied, the bridge retries, and once the
// registry recovers it catches up with every event exactly once.
func TestAvroRegistryDown(t *testing.T) {
	e := newEnv(t, map[string]int32{"reg": 2}, "")
	e.produce(30)
	flaky, srv := newFlakyRegistry(t)
	flaky.down.Store(true)
	store, err := schema.NewRegistry(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	metrics := prometheus.NewRegistry()
	r := start(t, e.opts("regdown", bridge.WithRegistry(metrics),
		bridge.WithValidator(newAvro(t, store, bridge.AvroTopics("reg"))))...)
	retries := func() float64 {
		return counter(t, metrics, "airlock_bridge_validation_retries_total", map[string]string{"topic": "reg"})
	}
	eventually(t, 20*time.Second, "validations retried while the registry is down", func() (bool, string) {
		return flaky.failed.Load() >= 3 && retries() >= 3, fmt.Sprintf("500s %d, retries %v", flaky.failed.Load(), retries())
	})
	if n := counter(t, metrics, "airlock_bridge_dlq_records_total", nil); n != 0 {
		t.Fatalf("%v records dead-lettered while the registry was down", n)
	}
	if n := counter(t, metrics, "airlock_bridge_records_copied_total", nil); n != 0 {
		t.Fatalf("%v records copied without validation", n)
	}

	flaky.down.Store(false)
	src := e.source()
	e.waitCommitted("regdown", src, nil, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.verify(src, nil)
	dlq, err := bridgetest.ReadAll(context.Background(), e.dst.ListenAddrs(), 10*time.Second, "airlock-bridge.regdown.dlq")
	if err != nil {
		t.Fatal(err)
	}
	if n := dlq["airlock-bridge.regdown.dlq"].Count(); n != 0 {
		t.Fatalf("%d records dead-lettered", n)
	}
	if n := counter(t, metrics, "airlock_bridge_task_restarts_total", nil); n == 0 {
		t.Error("no task restarted: the outage did not abort any transaction")
	}
}
