package chaos

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Timeline picture geometry, in SVG user units (pixels).
const (
	svgWidth     = 1000
	svgLeft      = 72
	svgRight     = 24
	svgTitleH    = 50 // title and legend
	svgLaneH     = 15
	svgMaxLanes  = 6
	svgPanelH    = 170
	svgPanelGap  = 34
	svgAxisH     = 40
	svgCharW     = 6.2 // average width of an 11px sans-serif character
	svgMaxLabel  = 52
	svgFontStack = "DejaVu Sans, Helvetica, Arial, sans-serif"
)

// faultColours returns the fill and a darker stroke/label tone of the i-th
// distinct fault: windows of the same fault share a colour, so a long
// nemesis run reads by colour.
func faultColours(i int) (fill, dark string) {
	palette := [...][2]string{
		{"#f4a261", "#b35c1e"},
		{"#9b5de5", "#5f2aa6"},
		{"#2a9d8f", "#1b655c"},
		{"#e76f51", "#a63a20"},
		{"#8ecae6", "#2c6f8f"},
		{"#e9c46a", "#8f7216"},
		{"#f15bb5", "#a3206f"},
		{"#90be6d", "#4d7a2c"},
		{"#bdb2ff", "#5a4fb0"},
		{"#ff9f1c", "#a35f00"},
		{"#6c757d", "#343a40"},
		{"#4cc9f0", "#1a7fa0"},
	}
	c := palette[i%len(palette)]
	return c[0], c[1]
}

// Series colours.
const (
	colCopied = "#1f77b4"
	colAcked  = "#2ca02c"
	colLag    = "#d62728"
	colHeal   = "#444444"
	colCaught = "#2ca02c"
)

// WriteSVG draws the run as an SVG timeline: throughput (records copied by
// the bridge and acknowledged by the source, per second) above, lag below,
// fault windows shaded across both with their labels on top, the last heal
// and the moment the bridge caught up marked. The output depends only on the
// report, byte for byte.
func (r *Report) WriteSVG(w io.Writer) error {
	ew := &errWriter{w: w}
	copied := r.Series[SeriesCopied].Rate()
	acked := r.Series[SeriesAcked].Rate()
	lag := r.Series[SeriesLag]

	tMax := r.Elapsed.D()
	for _, s := range []Series{copied, acked, lag} {
		if p, ok := s.Last(); ok && p.T > tMax {
			tMax = p.T
		}
	}
	spans := r.faultSpans()
	for _, s := range spans {
		if s.end > tMax {
			tMax = s.end
		}
	}
	if tMax <= 0 {
		tMax = time.Second
	}
	for i := range spans {
		if spans[i].open {
			spans[i].end = tMax // applied and never healed: it lasted to the end
		}
	}
	xTicks, xMax := niceTicks(tMax.Seconds(), 10)
	plotW := float64(svgWidth - svgLeft - svgRight)
	x := func(t time.Duration) float64 { return svgLeft + t.Seconds()/xMax*plotW }

	// Full labels when they fit in the lanes; otherwise step ids above and a
	// key of the distinct faults below.
	lanes, fits := assignLanes(spans, x, false)
	compact := !fits
	if compact {
		lanes, _ = assignLanes(spans, x, true)
	}
	kinds := distinctFaults(spans)
	nLanes := 0
	for _, l := range lanes {
		nLanes = max(nLanes, l+1)
	}
	lanesTop := float64(svgTitleH)
	top1 := lanesTop + float64(nLanes*svgLaneH) + 8
	top2 := top1 + svgPanelH + svgPanelGap
	bottom := top2 + svgPanelH
	height := bottom + svgAxisH
	keyTop := height
	if compact {
		height += float64((len(kinds)+1)/2*svgLaneH) + 10
	}

	ew.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%s" viewBox="0 0 %d %s" font-family="%s" font-size="11">`+"\n",
		svgWidth, num(height), svgWidth, num(height), svgFontStack)
	ew.printf(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")

	// Title and legend.
	verdict, vcol := "PASS", "#2ca02c"
	if !r.OK {
		verdict, vcol = "FAIL", "#d62728"
	}
	ew.printf(`<text x="%d" y="18" font-size="14" font-weight="bold">%s <tspan font-weight="normal">(%s form, seed %d)</tspan> <tspan fill="%s">%s</tspan></text>`+"\n",
		svgLeft, esc(r.Scenario), esc(string(r.Form)), r.Seed, vcol, verdict)
	legend := []struct{ col, dash, label string }{
		{colCopied, "", "copied by the bridge /s"},
		{colAcked, "", "acknowledged by the source /s"},
		{colLag, "", "lag (records)"},
		{colHeal, "4,3", "last heal"},
		{colCaught, "2,2", "caught up"},
	}
	lx := float64(svgLeft)
	for _, l := range legend {
		dash := ""
		if l.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, l.dash)
		}
		ew.printf(`<line x1="%s" y1="34" x2="%s" y2="34" stroke="%s" stroke-width="2"%s/>`+"\n", num(lx), num(lx+18), l.col, dash)
		ew.printf(`<text x="%s" y="38">%s</text>`+"\n", num(lx+22), esc(l.label))
		lx += 22 + float64(len(l.label))*svgCharW + 18
	}
	fill0, dark0 := faultColours(0)
	ew.printf(`<rect x="%s" y="28" width="14" height="11" fill="%s" fill-opacity="0.3" stroke="%s"/>`+"\n", num(lx), fill0, dark0)
	ew.printf(`<text x="%s" y="38">fault window</text>`+"\n", num(lx+18))

	// Fault windows: shading over both panels, labels in lanes above.
	for i, s := range spans {
		fill, dark := faultColours(kinds[s.label])
		x0, x1 := x(s.start), x(s.end)
		tip := fmt.Sprintf("%s %s: %s to %s", s.step, s.label, fmtDur(s.start), fmtDur(s.end))
		if s.open {
			tip = fmt.Sprintf("%s %s: from %s, never healed", s.step, s.label, fmtDur(s.start))
		}
		if s.instant {
			ew.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="5,3"><title>%s</title></line>`+"\n",
				num(x0), num(top1), num(x0), num(bottom), dark, esc(tip))
		} else {
			for _, top := range []float64{top1, top2} {
				ew.printf(`<rect x="%s" y="%s" width="%s" height="%d" fill="%s" fill-opacity="0.28" stroke="%s" stroke-opacity="0.6"><title>%s</title></rect>`+"\n",
					num(x0), num(top), num(math.Max(x1-x0, 1)), svgPanelH, fill, dark, esc(tip))
			}
		}
		ly := lanesTop + float64(lanes[i]*svgLaneH) + 11
		ew.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-opacity="0.5"/>`+"\n", num(x0), num(ly+2), num(x0), num(top1), dark)
		ew.printf(`<text x="%s" y="%s" fill="%s">%s</text>`+"\n", num(x0+2), num(ly), dark, esc(s.text(compact)))
	}

	// Panels.
	panel(ew, top1, "throughput (records/s)", x, xTicks, []plotLine{{copied, colCopied}, {acked, colAcked}})
	panel(ew, top2, "lag (records)", x, xTicks, []plotLine{{lag, colLag}})

	// Time axis under the lower panel.
	for _, t := range xTicks {
		px := x(time.Duration(t * float64(time.Second)))
		ew.printf(`<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num(px), num(bottom+16), esc(tickLabel(t)+"s"))
	}
	ew.printf(`<text x="%s" y="%s" text-anchor="middle">time since start</text>`+"\n", num(svgLeft+plotW/2), num(bottom+32))

	// Last heal and caught-up markers, over both panels.
	if len(spans) > 0 {
		hx := x(r.LastHeal.D())
		ew.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="4,3"><title>last heal at %s</title></line>`+"\n",
			num(hx), num(top1), num(hx), num(bottom), colHeal, fmtDur(r.LastHeal.D()))
		if r.Recovery != nil {
			cx := x(r.LastHeal.D() + r.Recovery.D())
			ew.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2" stroke-dasharray="2,2"><title>caught up %s after the last heal</title></line>`+"\n",
				num(cx), num(top2), num(cx), num(bottom), colCaught, r.Recovery)
			ew.printf(`<text x="%s" y="%s" fill="%s">caught up +%s</text>`+"\n", num(cx+4), num(top2+24), colCaught, esc(r.Recovery.String()))
		}
	}
	if compact {
		faultKey(ew, kinds, keyTop, plotW)
	}
	ew.printf("</svg>\n")
	return ew.err
}

type plotLine struct {
	s   Series
	col string
}

// panel draws one chart: frame, y grid and labels, x grid, and the lines.
func panel(ew *errWriter, top float64, title string, x func(time.Duration) float64, xTicks []float64, lines []plotLine) {
	plotW := float64(svgWidth - svgLeft - svgRight)
	var yMaxRaw float64
	for _, l := range lines {
		yMaxRaw = math.Max(yMaxRaw, l.s.Max())
	}
	if yMaxRaw <= 0 {
		yMaxRaw = 1
	}
	yTicks, yMax := niceTicks(yMaxRaw, 5)
	y := func(v float64) float64 { return top + svgPanelH - v/yMax*svgPanelH }

	ew.printf(`<rect x="%d" y="%s" width="%s" height="%d" fill="none" stroke="#888888"/>`+"\n", svgLeft, num(top), num(plotW), svgPanelH)
	for _, t := range yTicks {
		py := y(t)
		ew.printf(`<line x1="%d" y1="%s" x2="%s" y2="%s" stroke="#dddddd"/>`+"\n", svgLeft, num(py), num(svgLeft+plotW), num(py))
		ew.printf(`<text x="%d" y="%s" text-anchor="end">%s</text>`+"\n", svgLeft-6, num(py+4), esc(tickLabel(t)))
	}
	for _, t := range xTicks {
		px := x(time.Duration(t * float64(time.Second)))
		ew.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#eeeeee"/>`+"\n", num(px), num(top), num(px), num(top+svgPanelH))
	}
	for _, l := range lines {
		if len(l.s) == 0 {
			continue
		}
		pts := make([]string, 0, len(l.s))
		for _, p := range l.s {
			pts = append(pts, num(x(p.T))+","+num(y(p.V)))
		}
		ew.printf(`<polyline fill="none" stroke="%s" stroke-width="1.8" stroke-linejoin="round" points="%s"/>`+"\n", l.col, strings.Join(pts, " "))
	}
	// The title last, with a white halo, so lines and shading never hide it.
	ew.printf(`<text x="%d" y="%s" font-weight="bold" stroke="#ffffff" stroke-width="4" paint-order="stroke">%s</text>`+"\n", svgLeft+6, num(top+14), esc(title))
}

// span is a fault window as drawn: when it was really active.
type span struct {
	step, label string
	start, end  time.Duration
	instant     bool
	open        bool // applied, never healed
}

func (s span) text(compact bool) string {
	if compact {
		return s.step
	}
	t := s.step + " " + s.label
	if s.open {
		t += " (never healed)"
	}
	if r := []rune(t); len(r) > svgMaxLabel {
		t = string(r[:svgMaxLabel-1]) + "…"
	}
	return t
}

// faultSpans returns the windows as they happened (as planned where a time is
// missing), in start order.
func (r *Report) faultSpans() []span {
	out := make([]span, 0, len(r.Faults))
	for _, f := range r.Faults {
		s := span{step: f.Step, label: f.Fault, start: f.At.D(), end: f.At.D() + f.For.D(), instant: f.For == 0}
		if f.Applied != nil {
			s.start = f.Applied.D()
			if s.instant {
				s.end = s.start
			}
		}
		if f.Healed != nil && !s.instant {
			s.end = f.Healed.D()
		}
		s.open = f.Applied != nil && f.Healed == nil && !s.instant
		if s.end < s.start {
			s.end = s.start
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// assignLanes gives each label the first lane where it does not overlap the
// previous label; past svgMaxLanes, the lane that frees up first, and fits
// is false.
func assignLanes(spans []span, x func(time.Duration) float64, compact bool) (lanes []int, fits bool) {
	var ends []float64
	lanes = make([]int, len(spans))
	fits = true
	for i, s := range spans {
		x0 := x(s.start)
		x1 := x0 + 2 + float64(len([]rune(s.text(compact))))*svgCharW + 6
		lane := -1
		for l, e := range ends {
			if e <= x0 {
				lane = l
				break
			}
		}
		if lane < 0 && len(ends) < svgMaxLanes {
			ends = append(ends, 0)
			lane = len(ends) - 1
		}
		if lane < 0 {
			fits = false
			lane = 0
			for l, e := range ends {
				if e < ends[lane] {
					lane = l
				}
			}
		}
		ends[lane] = x1
		lanes[i] = lane
	}
	return lanes, fits
}

// distinctFaults numbers the distinct fault descriptions in order of first
// appearance, for colours and the key.
func distinctFaults(spans []span) map[string]int {
	out := map[string]int{}
	for _, s := range spans {
		if _, ok := out[s.label]; !ok {
			out[s.label] = len(out)
		}
	}
	return out
}

// faultKey lists the distinct faults with their colours in two columns under
// the time axis (compact mode, where the lanes show step ids only).
func faultKey(ew *errWriter, kinds map[string]int, top, plotW float64) {
	labels := make([]string, len(kinds))
	for l, i := range kinds {
		labels[i] = l
	}
	colW := plotW / 2
	maxChars := int((colW - 24) / svgCharW)
	rows := (len(labels) + 1) / 2
	for i, l := range labels {
		fill, dark := faultColours(i)
		x := float64(svgLeft) + float64(i/rows)*colW
		y := top + float64(i%rows*svgLaneH)
		if rs := []rune(l); len(rs) > maxChars {
			l = string(rs[:maxChars-1]) + "…"
		}
		ew.printf(`<rect x="%s" y="%s" width="14" height="11" fill="%s" fill-opacity="0.5" stroke="%s"/>`+"\n", num(x), num(y), fill, dark)
		ew.printf(`<text x="%s" y="%s" fill="%s">%s</text>`+"\n", num(x+20), num(y+10), dark, esc(l))
	}
}

// niceTicks returns about n tick values from 0 covering maxV at a 1-2-5 step,
// and the axis maximum (the last tick).
func niceTicks(maxV float64, n int) ([]float64, float64) {
	if maxV <= 0 {
		maxV = 1
	}
	raw := maxV / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	top := math.Ceil(maxV/step-1e-9) * step
	for i := 0; ; i++ {
		t := float64(i) * step
		if t > top+step/2 {
			break
		}
		ticks = append(ticks, t)
	}
	return ticks, top
}

// tickLabel prints a tick value compactly: 1500 -> 1.5k.
func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return formatNum(math.Round(v/1e5)/10) + "M"
	case v >= 1e4:
		return formatNum(math.Round(v/1e2)/10) + "k"
	}
	return formatNum(v)
}

// num formats a coordinate with one decimal, for stable, compact output.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func esc(s string) string { return html.EscapeString(s) }
