package testbroker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func adminServer(t *testing.T, b *Broker) string {
	t.Helper()
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func getState(t *testing.T, url string) State {
	t.Helper()
	code, body := httpDo(t, "GET", url+"/state")
	if code != 200 {
		t.Fatalf("GET /state: %d %s", code, body)
	}
	var st State
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("decode state: %v\n%s", err, body)
	}
	return st
}

// clientLeader returns the leader a client learns from metadata.
func clientLeader(t *testing.T, cl *kgo.Client, topic string, partition int32) int32 {
	t.Helper()
	md, err := kadm.NewClient(cl).Metadata(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	return md.Topics[topic].Partitions[partition].Leader
}

func TestAdminMoveLeader(t *testing.T) {
	b := newBroker(t, WithNodes(2), WithSeedTopics(SeedTopic{"t", 1}))
	url := adminServer(t, b)
	from := getState(t, url).Leader("t", 0)
	if from < 0 {
		t.Fatalf("no leader for t/0 in state")
	}
	to := 1 - from
	code, body := httpDo(t, "POST", url+"/move-leader?topic=t&partition=0&node="+itoa(to))
	if code != 200 {
		t.Fatalf("move-leader: %d %s", code, body)
	}
	if got, _ := b.LeaderFor("t", 0); got != to {
		t.Errorf("LeaderFor = %d, want %d", got, to)
	}
	if got := getState(t, url).Leader("t", 0); got != to {
		t.Errorf("state leader = %d, want %d", got, to)
	}
	if got := clientLeader(t, newClient(t, b), "t", 0); got != to {
		t.Errorf("metadata leader = %d, want %d", got, to)
	}
	produceConsume(t, b, "t", 5) // clients follow the move
}

func TestAdminShuffleLeadersBumpsEpochs(t *testing.T) {
	b := newBroker(t, WithNodes(3), WithSeedTopics(SeedTopic{"t", 6}))
	url := adminServer(t, b)
	code, body := httpDo(t, "POST", url+"/shuffle-leaders")
	if code != 200 {
		t.Fatalf("shuffle-leaders: %d %s", code, body)
	}
	for _, p := range getState(t, url).Topics[0].Partitions {
		if p.Epoch < 1 {
			t.Errorf("partition %d epoch %d after shuffle, want >= 1", p.Partition, p.Epoch)
		}
		if p.Leader < 0 || p.Leader > 2 {
			t.Errorf("partition %d leader %d", p.Partition, p.Leader)
		}
	}
}

func TestAdminRemoveNodeClosesConnections(t *testing.T) {
	b := newBroker(t, WithNodes(2), WithSeedTopics(SeedTopic{"t", 4}))
	url := adminServer(t, b)
	conn, err := net.Dial("tcp", strings.Replace(b.Addrs()[1], "localhost", "127.0.0.1", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	waitFor(t, "node 1 to count the connection", func() bool { return getState(t, url).Nodes[1].Connections == 1 })

	code, body := httpDo(t, "POST", url+"/remove-node?node=1")
	if code != 200 {
		t.Fatalf("remove-node: %d %s", code, body)
	}
	if err := conn.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("read on a removed node's connection: %v, want EOF", err)
	}
	st := getState(t, url)
	if len(st.Nodes) != 1 || st.Nodes[0].ID != 0 {
		t.Errorf("state nodes %+v, want only node 0", st.Nodes)
	}
	for _, p := range st.Topics[0].Partitions {
		if p.Leader != 0 {
			t.Errorf("partition %d led by %d after removing node 1", p.Partition, p.Leader)
		}
	}
	if hosts := metadataHosts(t, newClient(t, b)); len(hosts) != 1 {
		t.Errorf("metadata lists %v, want one broker", hosts)
	}
	produceConsume(t, b, "t", 5)

	code, _ = httpDo(t, "POST", url+"/remove-node?node=0")
	if code != http.StatusConflict {
		t.Errorf("removing the last node: %d, want 409", code)
	}
}

func TestAdminAddNode(t *testing.T) {
	b := newBroker(t, WithSeedTopics(SeedTopic{"t", 4}))
	url := adminServer(t, b)
	code, body := httpDo(t, "POST", url+"/add-node?node=5")
	if code != 200 {
		t.Fatalf("add-node: %d %s", code, body)
	}
	var added struct {
		Node int32
		Addr string
	}
	if err := json.Unmarshal([]byte(body), &added); err != nil || added.Node != 5 || !strings.HasPrefix(added.Addr, "localhost:") {
		t.Fatalf("add-node answered %s (%v)", body, err)
	}
	hosts := metadataHosts(t, newClient(t, b))
	if hosts[5] != added.Addr {
		t.Errorf("metadata lists %v, want node 5 at %s", hosts, added.Addr)
	}
	produceConsume(t, b, "t", 8)

	code, _ = httpDo(t, "POST", url+"/add-node?node=5")
	if code != http.StatusConflict {
		t.Errorf("adding node 5 twice: %d, want 409", code)
	}
}

func TestAdminPauseNodeHoldsRequests(t *testing.T) {
	b := newBroker(t, WithNodes(2))
	url := adminServer(t, b)
	// Two clients that know both brokers; the second one's timed-out request may
	// cost kgo its connection, which must not disturb the first.
	cl, probe := newClient(t, b), newClient(t, b)
	for _, c := range []*kgo.Client{cl, probe} {
		if _, err := kadm.NewClient(c).BrokerMetadata(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	code, body := httpDo(t, "POST", url+"/pause-node?node=0&duration=1m")
	if code != 200 {
		t.Fatalf("pause-node: %d %s", code, body)
	}
	st := getState(t, url)
	if st.Nodes[0].PausedUntil == nil || st.Nodes[1].PausedUntil != nil {
		t.Errorf("state pauses: node0 %v node1 %v", st.Nodes[0].PausedUntil, st.Nodes[1].PausedUntil)
	}

	// A paused node answers nothing; the other node still does.
	held := make(chan error, 1)
	go func() {
		_, err := cl.Broker(0).Request(ctxT(t), kmsg.NewPtrMetadataRequest())
		held <- err
	}()
	if _, err := cl.Broker(1).Request(ctxT(t), kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("request to the running node: %v", err)
	}
	// The second client gets no answer within half a second, where a running node
	// answers in microseconds.
	short, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := probe.Broker(0).Request(short, kmsg.NewPtrMetadataRequest()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request to the paused node: %v, want no answer (deadline exceeded)", err)
	}
	select {
	case err := <-held:
		t.Fatalf("paused node answered (err %v)", err)
	default:
	}

	code, body = httpDo(t, "POST", url+"/resume-node?node=0")
	if code != 200 {
		t.Fatalf("resume-node: %d %s", code, body)
	}
	select {
	case err := <-held:
		if err != nil {
			t.Fatalf("held request after resume: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("held request not answered after resume")
	}
	if getState(t, url).Nodes[0].PausedUntil != nil {
		t.Error("node 0 still paused in state after resume")
	}
}

func TestAdminPauseExpires(t *testing.T) {
	b := newBroker(t)
	cl := newClient(t, b)
	if _, err := b.PauseNode(0, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Held until the pause expires, then answered: the request succeeds within the
	// test bound without anyone resuming the node.
	if _, err := cl.Broker(0).Request(ctxT(t), kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("request after the pause expired: %v", err)
	}
}

func TestAdminBadRequests(t *testing.T) {
	b := newBroker(t, WithNodes(2), WithSeedTopics(SeedTopic{"t", 1}))
	url := adminServer(t, b)
	tests := []struct {
		method, path string
		code         int
	}{
		{"GET", "/move-leader?topic=t&partition=0&node=1", http.StatusMethodNotAllowed},
		{"POST", "/move-leader?partition=0&node=1", http.StatusBadRequest},
		{"POST", "/move-leader?topic=t&partition=x&node=1", http.StatusBadRequest},
		{"POST", "/move-leader?topic=t&partition=0", http.StatusBadRequest},
		{"POST", "/move-leader?topic=t&partition=0&node=9", http.StatusNotFound},
		{"POST", "/move-leader?topic=nope&partition=0&node=1", http.StatusNotFound},
		{"POST", "/move-leader?topic=t&partition=3&node=1", http.StatusNotFound},
		{"POST", "/remove-node", http.StatusBadRequest},
		{"POST", "/remove-node?node=9", http.StatusNotFound},
		{"POST", "/add-node?port=70000", http.StatusBadRequest},
		{"POST", "/add-node?node=0", http.StatusConflict},
		{"POST", "/pause-node?node=0", http.StatusBadRequest},
		{"POST", "/pause-node?node=0&duration=soon", http.StatusBadRequest},
		{"POST", "/pause-node?node=0&duration=-1s", http.StatusBadRequest},
		{"POST", "/pause-node?node=0&duration=2h", http.StatusBadRequest},
		{"POST", "/pause-node?node=9&duration=1s", http.StatusNotFound},
		{"POST", "/resume-node?node=9", http.StatusNotFound},
		{"GET", "/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, body := httpDo(t, tt.method, url+tt.path)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %s", code, tt.code, body)
			}
			if tt.code == http.StatusBadRequest && !strings.Contains(body, `"error"`) {
				t.Errorf("no error message in %s", body)
			}
		})
	}
	if got, _ := b.LeaderFor("t", 0); got < 0 {
		t.Errorf("bad requests broke the cluster: leader %d", got)
	}
}

func TestAdminAfterClose(t *testing.T) {
	b, err := New(WithListenHost("127.0.0.1"), WithAdvertiseHost("localhost"), WithSeedTopics(SeedTopic{"t", 1}))
	if err != nil {
		t.Fatal(err)
	}
	url := adminServer(t, b)
	b.Close()
	for _, p := range []string{"GET /healthz", "GET /state", "POST /shuffle-leaders", "POST /move-leader?topic=t&partition=0&node=0"} {
		method, path, _ := strings.Cut(p, " ")
		if code, _ := httpDo(t, method, url+path); code != http.StatusServiceUnavailable {
			t.Errorf("%s after Close: %d, want 503", p, code)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := ctxT(t)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(ne.Err.Error(), "reset")
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
