package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Upstream and proxy addresses used by the rewriter tables.
var (
	upA, upB   = "10.0.0.1:9092", "kafka-b.internal:9093"
	advA, advB = "proxy-a:19092", "proxy-b:19093"
	upCtl      = "controller.internal:9094"
	advCtl     = "proxy-ctl:19094"
)

// rewriteProxy is a proxy whose only mappings are static external ones, so the
// rewriters can be tested without opening listeners.
func rewriteProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := New(
		BootstrapMapping(Mapping{Upstream: "bootstrap.internal:9092", Listen: proxyHost + ":0"}),
		ExternalMapping(upA, advA), ExternalMapping(upB, advB), ExternalMapping(upCtl, advCtl),
		DisableDynamicListeners(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.closeListeners)
	return p
}

func hp(t *testing.T, addr string) (string, int32) {
	t.Helper()
	h, p, err := splitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// unknownTags returns tags a newer broker might send, which must survive the
// decode/encode round trip.
func unknownTags() kmsg.Tags {
	var t kmsg.Tags
	t.Set(99, []byte("future"))
	return t
}

// rewriteCase builds a response with addresses at from (upstream) and at to
// (expected after rewriting); both must be otherwise identical.
type rewriteCase struct {
	key   int16
	minV  int16
	build func(t *testing.T, addr func(i int) string, v int16) kmsg.Response
}

func addrsFrom(list ...string) func(int) string { return func(i int) string { return list[i] } }

func rewriteCases() []rewriteCase {
	endpoint := func(t *testing.T, a string) (string, int32) { return hp(t, a) }
	return []rewriteCase{
		{key: 3, build: func(t *testing.T, addr func(int) string, v int16) kmsg.Response {
			r := kmsg.NewPtrMetadataResponse()
			r.SetVersion(v)
			for i, id := range []int32{1, 2} {
				b := kmsg.NewMetadataResponseBroker()
				b.NodeID = id
				b.Host, b.Port = endpoint(t, addr(i))
				b.Rack = kmsg.StringPtr("rack-1")
				if r.IsFlexible() {
					b.UnknownTags = unknownTags()
				}
				r.Brokers = append(r.Brokers, b)
			}
			r.ClusterID = kmsg.StringPtr("cluster-x")
			r.ControllerID = 2
			tp := kmsg.NewMetadataResponseTopic()
			tp.Topic = kmsg.StringPtr("orders")
			pt := kmsg.NewMetadataResponseTopicPartition()
			pt.Partition, pt.Leader, pt.Replicas, pt.ISR = 0, 1, []int32{1, 2}, []int32{1, 2}
			tp.Partitions = append(tp.Partitions, pt)
			r.Topics = append(r.Topics, tp)
			if r.IsFlexible() {
				r.UnknownTags = unknownTags()
			}
			return r
		}},
		{key: 10, build: func(t *testing.T, addr func(int) string, v int16) kmsg.Response {
			r := kmsg.NewPtrFindCoordinatorResponse()
			r.SetVersion(v)
			r.NodeID = 1
			r.Host, r.Port = endpoint(t, addr(0))
			for i, id := range []int32{1, 2} {
				c := kmsg.NewFindCoordinatorResponseCoordinator()
				c.Key, c.NodeID = "group-"+string(rune('a'+i)), id
				c.Host, c.Port = endpoint(t, addr(i))
				r.Coordinators = append(r.Coordinators, c)
			}
			// An errored coordinator has no address and must be left alone.
			bad := kmsg.NewFindCoordinatorResponseCoordinator()
			bad.Key, bad.NodeID, bad.Host, bad.Port, bad.ErrorCode = "group-z", -1, "", -1, 15
			r.Coordinators = append(r.Coordinators, bad)
			if r.IsFlexible() {
				r.UnknownTags = unknownTags()
			}
			return r
		}},
		{key: 60, build: func(t *testing.T, addr func(int) string, v int16) kmsg.Response {
			r := kmsg.NewPtrDescribeClusterResponse()
			r.SetVersion(v)
			r.ClusterID, r.ControllerID = "cluster-x", 1
			for i, id := range []int32{1, 2, 3000} {
				b := kmsg.NewDescribeClusterResponseBroker()
				b.NodeID = id
				b.Host, b.Port = endpoint(t, addr(i))
				b.UnknownTags = unknownTags()
				r.Brokers = append(r.Brokers, b)
			}
			r.UnknownTags = unknownTags()
			return r
		}},
		{key: 0, minV: 10, build: func(t *testing.T, addr func(int) string, v int16) kmsg.Response {
			r := kmsg.NewPtrProduceResponse()
			r.SetVersion(v)
			tp := kmsg.NewProduceResponseTopic()
			tp.Topic = "orders"
			pt := kmsg.NewProduceResponseTopicPartition()
			pt.Partition, pt.ErrorCode, pt.BaseOffset = 3, 6, -1
			pt.CurrentLeader.LeaderID, pt.CurrentLeader.LeaderEpoch = 2, 7
			tp.Partitions = append(tp.Partitions, pt)
			r.Topics = append(r.Topics, tp)
			b := kmsg.NewProduceResponseBroker()
			b.NodeID = 2
			b.Host, b.Port = endpoint(t, addr(1))
			r.Brokers = append(r.Brokers, b)
			r.UnknownTags = unknownTags()
			return r
		}},
		{key: 1, minV: 16, build: func(t *testing.T, addr func(int) string, v int16) kmsg.Response {
			r := kmsg.NewPtrFetchResponse()
			r.SetVersion(v)
			r.SessionID = 77
			tp := kmsg.NewFetchResponseTopic()
			tp.Topic, tp.TopicID = "orders", [16]byte{1, 2, 3}
			pt := kmsg.NewFetchResponseTopicPartition()
			pt.Partition, pt.ErrorCode, pt.HighWatermark = 1, 6, 100
			pt.CurrentLeader.LeaderID, pt.CurrentLeader.LeaderEpoch = 1, 3
			pt.RecordBatches = []byte("opaque record bytes stay as they are")
			tp.Partitions = append(tp.Partitions, pt)
			r.Topics = append(r.Topics, tp)
			b := kmsg.NewFetchResponseBroker()
			b.NodeID = 1
			b.Host, b.Port = endpoint(t, addr(0))
			b.Rack = kmsg.StringPtr("r")
			r.Brokers = append(r.Brokers, b)
			return r
		}},
		{key: 78, build: func(t *testing.T, addr func(int) string, v int16) kmsg.Response {
			r := kmsg.NewPtrShareFetchResponse()
			r.SetVersion(v)
			for i, id := range []int32{1, 2} {
				b := kmsg.NewShareFetchResponseNodeEndpoint()
				b.NodeID = id
				b.Host, b.Port = endpoint(t, addr(i))
				r.NodeEndpoints = append(r.NodeEndpoints, b)
			}
			return r
		}},
		{key: 79, build: func(t *testing.T, addr func(int) string, v int16) kmsg.Response {
			r := kmsg.NewPtrShareAcknowledgeResponse()
			r.SetVersion(v)
			for i, id := range []int32{1, 2} {
				b := kmsg.NewShareAcknowledgeResponseNodeEndpoint()
				b.NodeID = id
				b.Host, b.Port = endpoint(t, addr(i))
				r.NodeEndpoints = append(r.NodeEndpoints, b)
			}
			return r
		}},
		{key: 55, minV: 2, build: func(t *testing.T, addr func(int) string, v int16) kmsg.Response {
			r := kmsg.NewPtrDescribeQuorumResponse()
			r.SetVersion(v)
			for i, id := range []int32{1, 3000} {
				n := kmsg.NewDescribeQuorumResponseNode()
				n.NodeID = id
				l := kmsg.NewDescribeQuorumResponseNodeListener()
				l.Name = "CONTROLLER"
				h, p := endpoint(t, addr(i))
				l.Host, l.Port = h, uint16(p)
				n.Listeners = append(n.Listeners, l)
				r.Nodes = append(r.Nodes, n)
			}
			return r
		}},
	}
}

// frameOf wraps a response body into a frame as a broker sends it.
func frameOf(resp kmsg.Response, corr int32) []byte {
	out := make([]byte, 8)
	binary.BigEndian.PutUint32(out[4:], uint32(corr))
	if resp.Key() != 18 && resp.IsFlexible() {
		out = append(out, 0)
	}
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

func TestRewritersEveryVersion(t *testing.T) {
	p := rewriteProxy(t)
	for _, tc := range rewriteCases() {
		maxV := kmsg.ResponseForKey(tc.key).MaxVersion()
		for v := tc.minV; v <= maxV; v++ {
			t.Run(keyName(tc.key)+"/v"+itoa(v), func(t *testing.T) {
				in := frameOf(tc.build(t, addrsFrom(upA, upB, upCtl), v), 42)
				want := frameOf(tc.build(t, addrsFrom(advA, advB, advCtl), v), 42)
				rw := rewriterFor(tc.key, v)
				if rw == nil {
					t.Fatalf("no rewriter for %s v%d", keyName(tc.key), v)
				}
				got, _, err := p.rewriteFrame(in, inflight{corr: 42, key: tc.key, version: v}, rw)
				if err != nil {
					t.Fatalf("rewrite: %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("rewritten frame differs from the expected encoding\n got %q\nwant %q", got, want)
				}
				for _, up := range []string{upA, upB, upCtl} {
					h, _ := hp(t, up)
					if bytes.Contains(got, []byte(h)) {
						t.Fatalf("upstream host %s survived", h)
					}
				}
			})
		}
	}
}

func TestRewriterBelowMinVersionStreams(t *testing.T) {
	for _, c := range []struct{ key, v int16 }{{0, 9}, {1, 15}, {55, 1}, {2, 5}, {8, 3}} {
		if rewriterFor(c.key, c.v) != nil {
			t.Errorf("%s v%d carries no broker address, yet has a rewriter", keyName(c.key), c.v)
		}
	}
}

func TestRewriteRefusesUnmappedBroker(t *testing.T) {
	p := rewriteProxy(t)
	for _, tc := range rewriteCases() {
		v := kmsg.ResponseForKey(tc.key).MaxVersion()
		t.Run(keyName(tc.key), func(t *testing.T) {
			in := frameOf(tc.build(t, addrsFrom("unknown.internal:9999", "unknown.internal:9999", "unknown.internal:9999"), v), 1)
			_, _, err := p.rewriteFrame(in, inflight{corr: 1, key: tc.key, version: v}, rewriterFor(tc.key, v))
			var ue *UnmappedError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnmapped) {
				t.Fatalf("want UnmappedError, got %v", err)
			}
			if ue.Addr != "unknown.internal:9999" {
				t.Fatalf("error names %q", ue.Addr)
			}
			if !bytes.Contains([]byte(err.Error()), []byte("--external-server-mapping")) {
				t.Fatalf("error does not name the flag that would map the broker: %v", err)
			}
		})
	}
}

func TestAPIVersionsClamp(t *testing.T) {
	p := rewriteProxy(t)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(3)
	add := func(key, maxV int16) {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, 0, maxV
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	add(3, 99)  // Metadata from the future: clamp
	add(1, 99)  // Fetch from the future: clamp
	add(2, 99)  // ListOffsets is streamed: keep
	add(600, 2) // unknown to kmsg: keep, and learn it
	add(10, 2)  // below kmsg's max: keep
	frame := frameOf(resp, 7)
	out, changed, err := p.rewriteFrame(frame, inflight{corr: 7, key: 18, version: 3}, rewriteAPIVersions)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	got := kmsg.NewPtrApiVersionsResponse()
	got.SetVersion(3)
	if err := got.ReadFrom(out[8:]); err != nil {
		t.Fatal(err)
	}
	want := map[int16]int16{3: lookupKey(3).maxVer, 1: lookupKey(1).maxVer, 2: 99, 600: 2, 10: 2}
	for _, k := range got.ApiKeys {
		if want[k.ApiKey] != k.MaxVersion {
			t.Errorf("key %d max %d, want %d", k.ApiKey, k.MaxVersion, want[k.ApiKey])
		}
	}
	if !p.keyKnown(600) {
		t.Error("key 600 advertised by the broker is not passed through")
	}
	if p.keyKnown(601) {
		t.Error("key 601 advertised by nobody is accepted")
	}
}

func TestAPIVersionsUnsupportedVersionFallsBackToV0(t *testing.T) {
	p := rewriteProxy(t)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = 35
	k := kmsg.NewApiVersionsResponseApiKey()
	k.ApiKey, k.MaxVersion = 18, 2
	resp.ApiKeys = append(resp.ApiKeys, k)
	frame := frameOf(resp, 9)
	out, _, err := p.rewriteFrame(frame, inflight{corr: 9, key: 18, version: 4}, rewriteAPIVersions)
	if err != nil {
		t.Fatalf("v0 fallback: %v", err)
	}
	if !bytes.Equal(out, frame) {
		t.Fatal("an UNSUPPORTED_VERSION answer must pass unchanged")
	}
}

func itoa(v int16) string { return strconv.Itoa(int(v)) }
