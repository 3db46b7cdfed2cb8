package chaos

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Point is one sample of a series: T since the run started.
type Point struct {
	T time.Duration
	V float64
}

// MarshalJSON writes [seconds, value]: compact, and what plotting tools take.
func (p Point) MarshalJSON() ([]byte, error) {
	return []byte("[" + strconv.FormatFloat(p.T.Seconds(), 'f', 3, 64) + "," + formatNum(p.V) + "]"), nil
}

// UnmarshalJSON reads [seconds, value].
func (p *Point) UnmarshalJSON(b []byte) error {
	var a []float64
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if len(a) != 2 {
		return fmt.Errorf("point: want [seconds, value], got %d numbers", len(a))
	}
	p.T = time.Duration(a[0] * float64(time.Second)).Round(time.Millisecond)
	p.V = a[1]
	return nil
}

// formatNum formats v with at most 3 decimals and no trailing zeros, so JSON
// and SVG output are byte-stable.
func formatNum(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// Series is a time series in time order.
type Series []Point

// Max returns the largest value (0 for an empty series).
func (s Series) Max() float64 {
	var m float64
	for i, p := range s {
		if i == 0 || p.V > m {
			m = p.V
		}
	}
	return m
}

// Last returns the newest point.
func (s Series) Last() (Point, bool) {
	if len(s) == 0 {
		return Point{}, false
	}
	return s[len(s)-1], true
}

// Rate turns a cumulative series (a counter) into a per-second rate, one
// point per interval, stamped at the interval's end.
func (s Series) Rate() Series {
	if len(s) < 2 {
		return nil
	}
	out := make(Series, 0, len(s)-1)
	for i := 1; i < len(s); i++ {
		dt := (s[i].T - s[i-1].T).Seconds()
		if dt <= 0 {
			continue
		}
		v := (s[i].V - s[i-1].V) / dt
		if v < 0 {
			v = 0 // a counter that went backwards is a reset the sampler missed
		}
		out = append(out, Point{T: s[i].T, V: v})
	}
	return out
}

// Recovery returns how long after `after` the series came down to threshold
// for good: the time of the first point of the final run of points at or
// below threshold, minus after (0 if that run started before after). ok is
// false when the newest point is still above threshold, or no point is newer
// than after: recovery was not observed.
func (s Series) Recovery(after time.Duration, threshold float64) (d time.Duration, ok bool) {
	if len(s) == 0 || s[len(s)-1].T < after {
		return 0, false
	}
	k := len(s)
	for k > 0 && s[k-1].V <= threshold {
		k--
	}
	if k == len(s) {
		return 0, false
	}
	if d = s[k].T - after; d < 0 {
		d = 0
	}
	return d, true
}
