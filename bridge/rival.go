package bridge

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// errNewerInstance stops a static task: after fencing it, another instance
// with the same name, started later, committed its partitions.
var errNewerInstance = errors.New("a newer instance with the same name commits this task's partitions")

// An instance id names one run of a bridge process: "<start unix nanos>-<random>".
// Every offset commit carries it (see offsetMetadata), so that a fenced static
// task can tell who fenced it. A rival instance started under the same name
// commits with its own id; a target broker that aborted our transaction in a
// restart commits nothing. Only the first may stop an instance, or a
// flapping broker would stop the bridge that is supposed to ride it out. Of
// two rivals the newer one wins, as Kafka's fencing would have it, and both
// agree on which that is.
func newInstanceID(now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on supported platforms
	return strconv.FormatInt(now.UnixNano(), 10) + "-" + hex.EncodeToString(r[:])
}

// newerInstance reports whether instance id a started after b. Ids that do
// not parse (written by an older release, or by hand) are never newer.
func newerInstance(a, b string) bool {
	at, ar, aok := parseInstanceID(a)
	bt, br, bok := parseInstanceID(b)
	switch {
	case !aok:
		return false
	case !bok:
		return true
	case at != bt:
		return at > bt
	}
	return ar > br
}

func parseInstanceID(id string) (nanos int64, random string, ok bool) {
	ts, random, found := strings.Cut(id, "-")
	if !found {
		return 0, "", false
	}
	nanos, err := strconv.ParseInt(ts, 10, 64)
	return nanos, random, err == nil
}

// The metadata of a committed offset: the source topic (which the offsets
// group is keyed without, see offsets.go), then the committing instance.
// Topic names cannot contain ';'.
const metadataBy = ";by="

func offsetMetadata(topic, instance string) string { return topic + metadataBy + instance }

// parseOffsetMetadata splits what offsetMetadata wrote. Metadata of older
// releases holds the topic alone.
func parseOffsetMetadata(md string) (topic, instance string) {
	topic, instance, _ = strings.Cut(md, metadataBy)
	return topic, instance
}

// judgeFence runs when a static task that was fenced has taken its id back
// and read its offsets and their committers. It returns an error wrapping
// ErrFenced and errNewerInstance when a newer instance moved one of them
// since this task last read or committed it.
func (t *task) judgeFence(offsets map[tp]int64, by map[tp]string) error {
	self := t.b.instance
	for p, other := range by {
		if other == self || other == "" || !newerInstance(other, self) {
			continue
		}
		if k, ok := t.known[p]; ok && offsets[p] == k {
			continue // committed before we last looked: not a live rival
		}
		return fmt.Errorf("%w: %w: %s/%d committed by instance %s (this one is %s)",
			ErrFenced, errNewerInstance, p.topic, p.partition, other, self)
	}
	t.log.Info("no newer instance committed since the fence (a target broker restart or a transaction timeout fences too); copying on")
	return nil
}
