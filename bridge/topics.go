package bridge

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxTopicName is Kafka's limit on topic name length.
const maxTopicName = 249

// checkTopicName reports whether Kafka accepts name as a topic name.
func checkTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > maxTopicName {
		return fmt.Errorf("%w: %q", ErrBadTopicName, name)
	}
	for _, r := range name {
		if !legalTopicRune(r) {
			return fmt.Errorf("%w: %q has %q (allowed: letters, digits, '.', '_', '-')", ErrBadTopicName, name, r)
		}
	}
	return nil
}

func legalTopicRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return r == '.' || r == '_' || r == '-'
}

// renamer maps source topic names to target topic names.
type renamer struct {
	tmpl   *template.Template
	prefix string
}

// renameData is what a rename template sees.
type renameData struct {
	Topic         string
	SourceCluster string
}

func newRenamer(text string) (*renamer, error) {
	if text == "" {
		text = DefaultRename
	}
	if !strings.Contains(text, "{{") {
		return &renamer{prefix: text}, nil
	}
	t, err := template.New("rename").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("rename template %q: %w", text, err)
	}
	// Execute once so a template that references unknown fields fails at
	// start, not at the first topic.
	if err := t.Execute(&strings.Builder{}, renameData{Topic: "t", SourceCluster: "c"}); err != nil {
		return nil, fmt.Errorf("rename template %q: %w", text, err)
	}
	return &renamer{tmpl: t}, nil
}

// target returns the target name of source topic topic.
func (r *renamer) target(topic, sourceCluster string) (string, error) {
	var name string
	if r.tmpl == nil {
		name = r.prefix + topic
	} else {
		var sb strings.Builder
		if err := r.tmpl.Execute(&sb, renameData{Topic: topic, SourceCluster: sourceCluster}); err != nil {
			return "", fmt.Errorf("rename %q: %w", topic, err)
		}
		name = sb.String()
	}
	if err := checkTopicName(name); err != nil {
		return "", fmt.Errorf("rename %q: %w", topic, err)
	}
	return name, nil
}

// TaskFor returns the task that owns source partition (topic, partition)
// among tasks tasks. It depends only on its arguments, so every instance
// agrees without talking; partitions of one topic go round-robin over the
// tasks from a start picked by the topic's hash.
func TaskFor(topic string, partition int32, tasks int) int {
	h := fnv.New32a()
	h.Write([]byte(topic))
	return int((uint64(h.Sum32()) + uint64(partition)) % uint64(tasks))
}

// selected reports whether source topic t is configured for copying.
func (c *cfg) selected(t string) bool {
	if strings.HasPrefix(t, "__") {
		return false
	}
	for _, own := range []string{c.checkpointTopic, c.dlqTopic, c.controlTopic} {
		if t == own {
			return false
		}
	}
	in := slices.Contains(c.topics, t)
	for _, re := range c.includeRE {
		in = in || re.MatchString(t)
	}
	if !in {
		return false
	}
	for _, re := range c.excludeRE {
		if re.MatchString(t) {
			return false
		}
	}
	return true
}

// tp is a source topic partition.
type tp struct {
	topic     string
	partition int32
}

func (t tp) String() string { return fmt.Sprintf("%s/%d", t.topic, t.partition) }

// topicPlan is how one source topic is copied.
type topicPlan struct {
	source     string
	target     string
	targetID   [16]byte
	partitions int32 // source partition count; the target has at least as many
}

// plan is one discovery's result: every copied topic.
type plan struct {
	topics   map[string]topicPlan // by source name
	replaced chan struct{}        // closed when a newer plan is published
}

// partitionsOf returns the source partitions task owns, sorted.
func (p *plan) partitionsOf(task, tasks int) []tp {
	var out []tp
	for _, t := range p.topics {
		for part := int32(0); part < t.partitions; part++ {
			if TaskFor(t.source, part, tasks) == task {
				out = append(out, tp{t.source, part})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out
}

// mapTopics selects source topics and names their targets. It fails on a
// collision, since copying two sources into one target would interleave them.
func (c *cfg) mapTopics(src map[string]topicState, sourceCluster string) (map[string]topicPlan, error) {
	r, err := newRenamer(c.rename)
	if err != nil {
		return nil, err
	}
	out := map[string]topicPlan{}
	byTarget := map[string]string{}
	names := make([]string, 0, len(src))
	for name := range src {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic collision reports
	for _, name := range names {
		d := src[name]
		if d.err != nil || d.internal || !c.selected(name) {
			continue
		}
		target, err := r.target(name, sourceCluster)
		if err != nil {
			return nil, err
		}
		if other, ok := byTarget[target]; ok {
			return nil, fmt.Errorf("%w: %q and %q both map to %q", ErrTopicCollision, other, name, target)
		}
		for _, own := range []string{c.checkpointTopic, c.dlqTopic, c.controlTopic} {
			if target == own {
				return nil, fmt.Errorf("%w: %q maps to the bridge's own topic %q", ErrTopicCollision, name, target)
			}
		}
		byTarget[target] = name
		out[name] = topicPlan{source: name, target: target, partitions: d.partitions}
	}
	return out, nil
}

// topicState is a fresh description of one topic.
type topicState struct {
	id         [16]byte
	partitions int32
	internal   bool
	err        error // kerr.UnknownTopicOrPartition when it does not exist
}

// describeTopics asks the cluster for topics (all of them when none are
// named) directly: kadm's listing goes through the client's metadata cache,
// which hides a topic or partitions created moments ago.
func describeTopics(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]topicState, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	out := make(map[string]topicState, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		out[*t.Topic] = topicState{id: t.TopicID, partitions: int32(len(t.Partitions)), internal: t.IsInternal, err: kerr.ErrorForCode(t.ErrorCode)}
	}
	return out, nil
}

// ensureTopic makes sure topic exists on the target with at least
// partitions partitions and returns its id.
func ensureTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32, rf int16, configs map[string]*string) ([16]byte, error) {
	adm := kadm.NewClient(cl)
	for attempt := 0; attempt < 10; attempt++ {
		if attempt > 0 {
			// Metadata lags creation on a real cluster; give it a moment.
			if err := sleepCtx(ctx, time.Duration(attempt)*50*time.Millisecond); err != nil {
				return [16]byte{}, err
			}
		}
		tds, err := describeTopics(ctx, cl, topic)
		if err != nil {
			return [16]byte{}, fmt.Errorf("describe target topic %s: %w", topic, err)
		}
		td, ok := tds[topic]
		switch {
		case !ok || errors.Is(td.err, kerr.UnknownTopicOrPartition):
			resp, err := adm.CreateTopic(ctx, partitions, rf, configs, topic)
			if err == nil && resp.NumPartitions >= partitions && resp.ID != [16]byte{} {
				return resp.ID, nil
			}
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				return [16]byte{}, fmt.Errorf("create target topic %s: %w", topic, err)
			}
			continue // re-describe: learn the id, or lost a race with another creator
		case td.err != nil:
			return [16]byte{}, fmt.Errorf("describe target topic %s: %w", topic, td.err)
		case td.partitions < partitions:
			resps, err := adm.UpdatePartitions(ctx, int(partitions), topic)
			if err == nil {
				err = resps.Error()
			}
			if err != nil && !errors.Is(err, kerr.InvalidPartitions) {
				return [16]byte{}, fmt.Errorf("grow target topic %s to %d partitions: %w", topic, partitions, err)
			}
			continue
		}
		return td.id, nil
	}
	return [16]byte{}, fmt.Errorf("target topic %s did not settle with %d partitions", topic, partitions)
}
