package bridge

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestNewerInstance(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	older, newer := newInstanceID(t0), newInstanceID(t0.Add(time.Millisecond))
	same1, same2 := "100-aa", "100-ab"
	for _, tc := range []struct {
		name string
		a, b string
		want bool
	}{
		{"later start", newer, older, true},
		{"earlier start", older, newer, false},
		{"same start, random breaks the tie", same2, same1, true},
		{"same start, the other way", same1, same2, false},
		{"itself", older, older, false},
		{"unparsable is never newer", "hand-written", older, false},
		{"anything beats unparsable", older, "hand-written", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := newerInstance(tc.a, tc.b); got != tc.want {
				t.Fatalf("newerInstance(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestOffsetMetadata(t *testing.T) {
	for _, tc := range []struct {
		md, topic, instance string
	}{
		{offsetMetadata("orders", "1-ab"), "orders", "1-ab"},
		{"orders", "orders", ""}, // written by a release before instance ids
		{"", "", ""},
	} {
		t.Run(tc.md, func(t *testing.T) {
			topic, instance := parseOffsetMetadata(tc.md)
			if topic != tc.topic || instance != tc.instance {
				t.Fatalf("parseOffsetMetadata(%q) = %q, %q; want %q, %q", tc.md, topic, instance, tc.topic, tc.instance)
			}
		})
	}
}

func TestJudgeFence(t *testing.T) {
	self := "200-00"
	p, q := tp{"t", 0}, tp{"t", 1}
	known := map[tp]int64{p: 10, q: 10}
	for _, tc := range []struct {
		name    string
		offsets map[tp]int64
		by      map[tp]string
		stop    bool
	}{
		{"nothing committed", map[tp]int64{}, map[tp]string{}, false},
		{"only our commits (a broker fenced us)", map[tp]int64{p: 12, q: 10}, map[tp]string{p: self, q: self}, false},
		{"an older instance (it stops, not us)", map[tp]int64{p: 10, q: 15}, map[tp]string{p: self, q: "100-00"}, false},
		{"a release without instance ids", map[tp]int64{p: 15}, map[tp]string{p: ""}, false},
		{"a newer instance moved an offset", map[tp]int64{p: 10, q: 15}, map[tp]string{p: self, q: "300-00"}, true},
		{"a newer id on an offset that did not move (a dead instance, clock ahead)", map[tp]int64{p: 10, q: 10}, map[tp]string{p: self, q: "300-00"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := &task{b: &Bridge{instance: self}, known: known, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			err := tk.judgeFence(tc.offsets, tc.by)
			if got := err != nil; got != tc.stop {
				t.Fatalf("judgeFence(%v, %v) = %v, want stop %v", tc.offsets, tc.by, err, tc.stop)
			}
			if tc.stop && (!errors.Is(err, ErrFenced) || !errors.Is(err, errNewerInstance)) {
				t.Fatalf("judgeFence error %v does not wrap ErrFenced and errNewerInstance", err)
			}
		})
	}
}
