package benchutil

import (
	"strings"
	"testing"
)

func TestRenderTable(t *testing.T) {
	var b strings.Builder
	err := RenderTable(&b, []string{"path", "MB/s", "x"}, [][]string{
		{"direct", "1200", "-"},
		{"airlock-proxy", "95 [90..99]"}, // short row: padded
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"path                  MB/s  x\n" +
		"direct                1200  -\n" +
		"airlock-proxy  95 [90..99]   \n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestFormatSummary(t *testing.T) {
	tests := []struct {
		s    Summary
		prec int
		want string
	}{
		{s: Summary{}, prec: 1, want: "-"},
		{s: Summary{Median: 1.234, Min: 1.234, Max: 1.234, N: 1}, prec: 2, want: "1.23"},
		{s: Summary{Median: 5, Min: 5, Max: 5, N: 3}, prec: 0, want: "5"},
		{s: Summary{Median: 312.4, Min: 290, Max: 330.6, N: 5}, prec: 0, want: "312 [290..331]"},
		{s: Summary{Median: -0.001, Min: -3, Max: 0, N: 3}, prec: 1, want: "0.0 [-3.0..0.0]"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FormatSummary(tt.s, tt.prec); got != tt.want {
				t.Fatalf("FormatSummary(%+v, %d) = %q, want %q", tt.s, tt.prec, got, tt.want)
			}
		})
	}
}
