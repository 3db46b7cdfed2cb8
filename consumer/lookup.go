package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/airlock-kafka/airlock/internal/event"
	"github.com/airlock-kafka/airlock/internal/provenance"
	"github.com/airlock-kafka/airlock/internal/schema"
)

// KafkaLookup is the SourceLookup the CLI uses: it reads the named positions from the
// source cluster (read_committed, so an aborted source record counts as absent) and
// decodes the events there with the same schema source as the target. The cluster
// name in provenance headers is not used to pick a cluster: one KafkaLookup is one
// source cluster.
type KafkaLookup struct {
	opts []kgo.Opt
	src  schema.Source
	idle time.Duration
}

// NewKafkaLookup returns a lookup over the cluster the client options reach (they must
// include kgo.SeedBrokers, plus TLS/SASL as needed). idle bounds the wait for a
// partition that stops returning records before the highest wanted offset (its tail
// is aborted records or markers); 0 means 5s.
func NewKafkaLookup(src schema.Source, idle time.Duration, opts ...kgo.Opt) *KafkaLookup {
	if idle <= 0 {
		idle = 5 * time.Second
	}
	return &KafkaLookup{opts: opts, src: src, idle: idle}
}

type topicPart struct {
	topic     string
	partition int32
}

// Lookup implements SourceLookup. It reads each partition once, from the lowest to the
// highest wanted offset.
func (k *KafkaLookup) Lookup(ctx context.Context, positions []provenance.Source) (map[provenance.Source]event.ID, error) {
	out := make(map[provenance.Source]event.ID, len(positions))
	if len(positions) == 0 {
		return out, nil
	}
	type span struct{ lo, hi int64 }
	spans := map[topicPart]*span{}
	byPos := map[topicPart]map[int64][]provenance.Source{}
	for _, p := range positions {
		tp := topicPart{p.Topic, p.Partition}
		s, ok := spans[tp]
		if !ok {
			s = &span{p.Offset, p.Offset}
			spans[tp] = s
			byPos[tp] = map[int64][]provenance.Source{}
		}
		s.lo, s.hi = min(s.lo, p.Offset), max(s.hi, p.Offset)
		byPos[tp][p.Offset] = append(byPos[tp][p.Offset], p)
	}
	assign := map[string]map[int32]kgo.Offset{}
	for tp, s := range spans {
		if assign[tp.topic] == nil {
			assign[tp.topic] = map[int32]kgo.Offset{}
		}
		assign[tp.topic][tp.partition] = kgo.NewOffset().At(s.lo)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.ConsumePartitions(assign),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}, k.opts...)...)
	if err != nil {
		return nil, fmt.Errorf("source kafka client: %w", err)
	}
	defer cl.Close()

	open := len(spans)
	last := time.Now()
	for open > 0 {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if time.Since(last) >= k.idle {
			break // what is left is not visible: reported as missing
		}
		pctx, cancel := context.WithTimeout(ctx, k.idle-time.Since(last))
		fetches := cl.PollFetches(pctx)
		cancel()
		var fetchErr error
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && fetchErr == nil {
				fetchErr = fmt.Errorf("fetch %s/%d: %w", topic, partition, err)
			}
		})
		if fetchErr != nil {
			return out, fetchErr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			last = time.Now()
			tp := topicPart{r.Topic, r.Partition}
			s, ok := spans[tp]
			if !ok || s.lo > s.hi {
				return
			}
			if wanted := byPos[tp][r.Offset]; len(wanted) > 0 {
				if ev, _, err := event.Decode(ctx, k.src, r.Value); err == nil {
					for _, p := range wanted {
						out[p] = ev.ID()
					}
				}
			}
			if r.Offset >= s.hi {
				s.lo = s.hi + 1 // done
				open--
			}
		})
	}
	return out, nil
}
