package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Window is one scheduled fault: applied At after the run starts, healed For
// later. Instant faults (leader moves) have For 0.
type Window struct {
	At    time.Duration
	For   time.Duration
	Fault FaultSpec
}

// End is when the window's fault is healed.
func (w Window) End() time.Duration { return w.At + w.For }

// String describes the window, e.g. "10s+5s blackhole downstream on source (all nodes)".
func (w Window) String() string {
	if w.For == 0 {
		return fmt.Sprintf("%v %s", w.At, w.Fault)
	}
	return fmt.Sprintf("%v+%v %s", w.At, w.For, w.Fault)
}

// validateWindows checks that every window has a fault and fits in d.
func validateWindows(ws []Window, d time.Duration) error {
	for i, w := range ws {
		switch {
		case w.Fault == nil:
			return fmt.Errorf("%w: window %d has no fault", ErrBadSpec, i)
		case w.At < 0 || w.For < 0:
			return fmt.Errorf("%w: window %d (%s) has a negative time", ErrBadSpec, i, w)
		case w.End() > d:
			return fmt.Errorf("%w: window %d (%s) ends after the fault phase (%v)", ErrBadSpec, i, w, d)
		case isInstant(w.Fault) && w.For != 0:
			return fmt.Errorf("%w: window %d (%s): an instant fault has no duration", ErrBadSpec, i, w)
		}
	}
	return nil
}

// scaleWindows stretches a schedule written for base to fit d, keeping every
// window at the same fraction of the run. Times are rounded to 10ms so
// schedules print cleanly.
func scaleWindows(ws []Window, base, d time.Duration) []Window {
	out := make([]Window, len(ws))
	for i, w := range ws {
		w.At = scale(w.At, base, d)
		w.For = scale(w.For, base, d)
		out[i] = w
	}
	return out
}

func scale(t, base, d time.Duration) time.Duration {
	if base == d || base == 0 {
		return t
	}
	return time.Duration(float64(t) * float64(d) / float64(base)).Round(10 * time.Millisecond)
}

// NemesisSpec draws a random schedule from Menu: one fault at a time, each
// lasting between MinFor and MaxFor (instant ones none), separated by gaps
// between MinGap and MaxGap. The last tenth of the run stays quiet so the
// bridge can catch up before the check.
type NemesisSpec struct {
	Menu           []FaultSpec
	MinFor, MaxFor time.Duration
	MinGap, MaxGap time.Duration
}

func (n NemesisSpec) validate() error {
	switch {
	case len(n.Menu) == 0:
		return fmt.Errorf("%w: nemesis with an empty menu", ErrBadSpec)
	case n.MinFor <= 0 || n.MaxFor < n.MinFor:
		return fmt.Errorf("%w: nemesis fault length %v..%v", ErrBadSpec, n.MinFor, n.MaxFor)
	case n.MinGap <= 0 || n.MaxGap < n.MinGap:
		return fmt.Errorf("%w: nemesis gap %v..%v", ErrBadSpec, n.MinGap, n.MaxGap)
	}
	return nil
}

// Windows returns the schedule for seed over a fault phase of d. It depends on
// nothing but its arguments: the same seed gives the same schedule, so a
// failing nemesis run can be replayed with --seed.
func (n NemesisSpec) Windows(seed int64, d time.Duration) []Window {
	// PCG with a fixed second word: the seed alone picks the stream.
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	end := d - d/10
	var out []Window
	t := between(r, n.MinGap, n.MaxGap)
	for t < end && len(n.Menu) > 0 {
		spec := n.Menu[r.IntN(len(n.Menu))]
		length := between(r, n.MinFor, n.MaxFor)
		if isInstant(spec) {
			length = 0
		} else if t+length > end {
			length = end - t
			if length < n.MinFor {
				break
			}
		}
		out = append(out, Window{At: t, For: length, Fault: spec})
		t += length + between(r, n.MinGap, n.MaxGap)
	}
	return out
}

// between draws a duration in [lo, hi], in steps of 100ms.
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	const step = 100 * time.Millisecond
	if hi <= lo {
		return lo
	}
	steps := int64((hi - lo) / step)
	return lo + time.Duration(r.Int64N(steps+1))*step
}
