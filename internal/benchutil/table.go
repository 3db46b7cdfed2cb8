package benchutil

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// RenderTable writes rows under header as aligned text columns: the first column
// left-aligned (labels), the others right-aligned (numbers), two spaces apart.
// Rows shorter than the header are padded with empty cells.
func RenderTable(w io.Writer, header []string, rows [][]string) error {
	widths := make([]int, len(header))
	all := append([][]string{header}, rows...)
	for _, r := range all {
		for i := range min(len(r), len(widths)) {
			widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
		}
	}
	var b strings.Builder
	for _, r := range all {
		for i, wd := range widths {
			cell := ""
			if i < len(r) {
				cell = r[i]
			}
			pad := strings.Repeat(" ", wd-utf8.RuneCountInString(cell))
			if i == 0 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString("  " + pad + cell)
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatSummary renders s as "median [min..max]" with prec decimals, or "-" when
// nothing was measured. A single round prints only its value.
func FormatSummary(s Summary, prec int) string {
	if s.N == 0 {
		return "-"
	}
	f := func(x float64) string { return formatNum(x, prec) }
	if s.N == 1 || s.Min == s.Max {
		return f(s.Median)
	}
	return fmt.Sprintf("%s [%s..%s]", f(s.Median), f(s.Min), f(s.Max))
}

// formatNum prints x with prec decimals, without a "-0".
func formatNum(x float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, x)
	if strings.Trim(s, "-0.") == "" {
		return fmt.Sprintf("%.*f", prec, math.Abs(x))
	}
	return s
}
