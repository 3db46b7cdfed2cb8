package benchutil

import (
	"math"
	"slices"
	"time"
)

// Summary is how one measured quantity spread over the rounds of a run.
type Summary struct {
	// Median is the middle round (the mean of the two middle ones for an even
	// count): one slow round from a neighbour's load does not move it.
	Median float64 `json:"median"`
	// Min and Max bound the rounds, showing how noisy the machine was.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// N counts the rounds that measured the quantity; 0 means "not measured on this
	// path" and the other fields are meaningless.
	N int `json:"n"`
}

// Summarize returns the median, minimum and maximum of xs, ignoring NaNs (rounds
// where the quantity does not apply).
func Summarize(xs []float64) Summary {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Summary{}
	}
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return Summary{Median: med, Min: v[0], Max: v[n-1], N: n}
}

// Percentile returns the q-quantile (0 < q <= 1) of ds by the nearest-rank
// method, so the value returned is one that was observed. ds is not modified.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(rank, len(s)-1))]
}
