package testbed

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LagMeter measures how far the bridge is behind the source the way MirrorMaker
// users read it: source end offsets minus the source offsets the bridge
// committed on the target (its offsets group), summed over partitions. It
// reads both brokers directly from the test process, not through the proxies,
// so toxics on the bridge's path do not slow the measurement down.
type LagMeter struct {
	src, dst *kadm.Client
	group    string
	topics   []string
	// target names each source topic on the target: the bridge commits a
	// source partition's offset under the target topic's name.
	target func(string) string
}

// NewLagMeter returns a meter for a bridge's source topics. Close it.
func (tb *Testbed) NewLagMeter(br *BridgeInstance, topics ...string) (*LagMeter, error) {
	src, dst := tb.Side(Source), tb.Side(Target)
	if src == nil || dst == nil {
		return nil, fmt.Errorf("lag meter: %w", ErrNoTopology)
	}
	sc, err := kgo.NewClient(src.Broker.KgoOpts()...)
	if err != nil {
		return nil, fmt.Errorf("lag meter: source client: %w", err)
	}
	dc, err := kgo.NewClient(dst.Broker.KgoOpts()...)
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("lag meter: target client: %w", err)
	}
	return &LagMeter{src: kadm.NewClient(sc), dst: kadm.NewClient(dc), group: br.OffsetsGroup(), topics: topics, target: br.TargetTopic}, nil
}

// Lag returns the records the bridge has not committed yet. A partition with no
// committed offset counts from 0.
func (m *LagMeter) Lag(ctx context.Context) (int64, error) {
	ends, err := m.src.ListEndOffsets(ctx, m.topics...)
	if err != nil {
		return 0, fmt.Errorf("source end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return 0, fmt.Errorf("source end offsets: %w", err)
	}
	committed, err := m.dst.FetchOffsets(ctx, m.group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		// Nothing committed yet: the whole source is lag.
		committed, err = kadm.OffsetResponses{}, nil
	}
	if err != nil {
		return 0, fmt.Errorf("offsets of group %s: %w", m.group, err)
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		done := int64(0)
		if c, ok := committed.Lookup(m.target(o.Topic), o.Partition); ok && c.Err == nil && c.At > 0 {
			done = c.At
		}
		if o.Offset > done {
			lag += o.Offset - done
		}
	})
	return lag, nil
}

// Committed returns the sum of the source offsets the bridge committed on the
// target: it only grows while the bridge makes progress, restarts included.
func (m *LagMeter) Committed(ctx context.Context) (int64, error) {
	committed, err := m.dst.FetchOffsets(ctx, m.group)
	if err != nil {
		return 0, fmt.Errorf("offsets of group %s: %w", m.group, err)
	}
	var sum int64
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At > 0 {
			sum += o.At
		}
	})
	return sum, nil
}

// Close closes the meter's clients.
func (m *LagMeter) Close() {
	m.src.Close()
	m.dst.Close()
}
