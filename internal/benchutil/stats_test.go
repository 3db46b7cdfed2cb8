package benchutil

import (
	"math"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want Summary
	}{
		{name: "empty", in: nil, want: Summary{}},
		{name: "only NaN", in: []float64{nan, nan}, want: Summary{}},
		{name: "one", in: []float64{3}, want: Summary{Median: 3, Min: 3, Max: 3, N: 1}},
		{name: "odd, unsorted", in: []float64{5, 1, 3}, want: Summary{Median: 3, Min: 1, Max: 5, N: 3}},
		{name: "even averages the middle", in: []float64{4, 1, 2, 10}, want: Summary{Median: 3, Min: 1, Max: 10, N: 4}},
		{name: "NaN ignored", in: []float64{nan, 2, 8, nan}, want: Summary{Median: 5, Min: 2, Max: 8, N: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.in); got != tt.want {
				t.Fatalf("Summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100-i) * time.Microsecond // reversed: Percentile must sort
	}
	tests := []struct {
		q    float64
		in   []time.Duration
		want time.Duration
	}{
		{q: 0.5, in: ds, want: 50 * time.Microsecond},
		{q: 0.99, in: ds, want: 99 * time.Microsecond},
		{q: 1, in: ds, want: 100 * time.Microsecond},
		{q: 0.001, in: ds, want: 1 * time.Microsecond},
		{q: 0.5, in: []time.Duration{7}, want: 7},
		{q: 0.5, in: nil, want: 0},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			if got := Percentile(tt.in, tt.q); got != tt.want {
				t.Fatalf("Percentile(q=%v) = %s, want %s", tt.q, got, tt.want)
			}
		})
	}
	if ds[0] != 100*time.Microsecond {
		t.Fatal("Percentile sorted its input in place")
	}
}
