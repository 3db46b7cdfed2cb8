package testbroker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a snapshot of the cluster, served by GET /state.
type State struct {
	ClusterID string       `json:"cluster_id"`
	Version   string       `json:"version"`
	Nodes     []NodeState  `json:"nodes"`
	Topics    []TopicState `json:"topics"`
}

// NodeState is one node.
type NodeState struct {
	ID int32 `json:"id"`
	// Addr is the advertised host:port, what clients are told to dial.
	Addr        string     `json:"addr"`
	Host        string     `json:"host"`
	Port        int        `json:"port"`
	Connections int        `json:"connections"`
	PausedUntil *time.Time `json:"paused_until,omitempty"`
}

// TopicState is one topic.
type TopicState struct {
	Name       string           `json:"name"`
	Partitions []PartitionState `json:"partitions"`
}

// PartitionState is one partition.
type PartitionState struct {
	Partition      int32 `json:"partition"`
	Leader         int32 `json:"leader"`
	Epoch          int32 `json:"epoch"`
	HighWatermark  int64 `json:"high_watermark"`
	LogStartOffset int64 `json:"log_start_offset"`
}

// Leader returns the leader of topic/partition in s, or -1.
func (s State) Leader(topic string, partition int32) int32 {
	for _, t := range s.Topics {
		if t.Name != topic {
			continue
		}
		for _, p := range t.Partitions {
			if p.Partition == partition {
				return p.Leader
			}
		}
	}
	return -1
}

// State returns a snapshot of nodes and topics.
func (b *Broker) State() (State, error) {
	if err := b.enter(); err != nil {
		return State{}, err
	}
	defer b.life.RUnlock()
	st := State{ClusterID: b.cfg.clusterID, Version: b.versionName(), Nodes: []NodeState{}, Topics: []TopicState{}}
	if st.ClusterID == "" {
		st.ClusterID = "kfake" // kfake's default
	}
	now := time.Now()
	b.mu.Lock()
	for _, id := range b.nodeIDs() {
		l := b.nodes[id]
		ns := NodeState{ID: id, Addr: l.addr.String(), Host: l.addr.host, Port: l.addr.port, Connections: l.Conns()}
		if p := b.pauses[id]; p != nil && now.Before(p.until) {
			until := p.until
			ns.PausedUntil = &until
		}
		st.Nodes = append(st.Nodes, ns)
	}
	b.mu.Unlock()

	for _, name := range b.topics.names() {
		infos := b.cluster.PartitionInfos(name)
		if infos == nil {
			b.topics.remove(name) // deleted
			continue
		}
		ts := TopicState{Name: name, Partitions: make([]PartitionState, 0, len(infos))}
		for _, pi := range infos {
			ts.Partitions = append(ts.Partitions, PartitionState{
				Partition:      pi.Partition,
				Leader:         pi.Leader,
				Epoch:          pi.Epoch,
				HighWatermark:  pi.HighWatermark,
				LogStartOffset: pi.LogStartOffset,
			})
		}
		st.Topics = append(st.Topics, ts)
	}
	return st, nil
}

// kfake can report a topic by name but cannot list them, so the broker keeps the
// names it has seen: seeds, persisted topics, and the names in CreateTopics
// (and, with auto-creation, Metadata) requests. State drops names that do not
// exist (never created, or deleted).

// maxTopicNames bounds the set: metadata requests for topics that never get
// created would otherwise grow it without limit.
const maxTopicNames = 100_000

type topicSet struct {
	mu sync.Mutex
	m  map[string]struct{}
}

func newTopicSet() *topicSet { return &topicSet{m: make(map[string]struct{})} }

func (s *topicSet) add(name string) {
	if name == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) < maxTopicNames {
		s.m[name] = struct{}{}
	}
}

func (s *topicSet) remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
}

func (s *topicSet) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.m))
	for n := range s.m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// observeTopics installs control functions that only read topic names; they never
// handle a request.
func (b *Broker) observeTopics() {
	b.cluster.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if r, ok := req.(*kmsg.CreateTopicsRequest); ok {
			for _, t := range r.Topics {
				b.topics.add(t.Topic)
			}
		}
		return nil, nil, false
	})
	if !b.cfg.autoCreate {
		return
	}
	b.cluster.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if r, ok := req.(*kmsg.MetadataRequest); ok {
			for _, t := range r.Topics {
				if t.Topic != nil {
					b.topics.add(*t.Topic)
				}
			}
		}
		return nil, nil, false
	})
}

// persistedTopics reads the topic names from kfake's topics.json in a data dir; a
// dir without one (first start) holds none.
func persistedTopics(dir string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "topics.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read persisted topics: %w", err)
	}
	var pt struct {
		Topics []struct {
			Name string `json:"name"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(raw, &pt); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "topics.json"), err)
	}
	out := make([]string, 0, len(pt.Topics))
	for _, t := range pt.Topics {
		out = append(out, t.Name)
	}
	return out, nil
}
