package chaos

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// secs builds a series from (seconds, value) pairs.
func secs(pairs ...float64) Series {
	var s Series
	for i := 0; i+1 < len(pairs); i += 2 {
		s = append(s, Point{T: time.Duration(pairs[i] * float64(time.Second)), V: pairs[i+1]})
	}
	return s
}

func TestSeriesRecovery(t *testing.T) {
	tests := []struct {
		name      string
		lag       Series
		after     time.Duration
		threshold float64
		want      time.Duration
		ok        bool
	}{
		{"drains after heal", secs(0, 0, 1, 50, 2, 80, 3, 40, 4, 0, 5, 0), 2 * time.Second, 0, 2 * time.Second, true},
		{"never behind", secs(0, 0, 1, 0, 2, 0), time.Second, 0, 0, true},
		{"blip after catching up", secs(0, 10, 1, 0, 2, 5, 3, 0), 0, 0, 3 * time.Second, true},
		{"blip under threshold", secs(0, 10, 1, 0, 2, 5, 3, 0), 0, 5, time.Second, true},
		{"still behind", secs(0, 10, 1, 20, 2, 30), 0, 0, 0, false},
		{"no sample after heal", secs(0, 0, 1, 0), 5 * time.Second, 0, 0, false},
		{"empty", nil, 0, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.lag.Recovery(tc.after, tc.threshold)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Recovery = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSeriesRate(t *testing.T) {
	got := secs(0, 0, 1, 100, 3, 300, 3, 300, 4, 250).Rate()
	// The duplicate timestamp is skipped; a counter going back is a reset, 0.
	if want := secs(1, 100, 3, 100, 4, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("Rate = %v, want %v", got, want)
	}
	if secs(0, 1).Rate() != nil {
		t.Error("rate of one point")
	}
	if m := secs(0, 3, 1, 9, 2, 4).Max(); m != 9 {
		t.Errorf("Max = %v", m)
	}
}

func TestPointJSON(t *testing.T) {
	s := secs(0.5, 1.23456, 2, 100)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "[[0.500,1.235],[2.000,100]]" {
		t.Errorf("JSON %s", b)
	}
	var back Series
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back[0].T != 500*time.Millisecond || back[1].V != 100 {
		t.Errorf("round trip %v", back)
	}
	var p Point
	if err := json.Unmarshal([]byte("[1]"), &p); err == nil {
		t.Error("a one-number point decoded")
	}
}
