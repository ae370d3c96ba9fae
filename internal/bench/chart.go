package bench

import (
	"cmp"
	"fmt"
	"html"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Target is a figure's goal in numbers, so that a chart can mark it and say whether it was met;
// Figure.Goal says the same in words.
type Target struct {
	// MinRatio: the figure's Ratio to its ceiling must be at least this.
	MinRatio float64 `json:"minRatio,omitempty"`
	// Min: the value must be at least this (in Unit).
	Min float64 `json:"min,omitempty"`
	// Max: the value, or the p99 when OnP99, must be at most this (in Unit, or LatencyUnit).
	Max   float64 `json:"max,omitempty"`
	OnP99 bool    `json:"onP99,omitempty"`
}

// Met says whether f reached its target; ok is false when f has none or was not measured.
func (f Figure) Met() (met, ok bool) {
	t := f.Target
	if t == nil || f.Skipped != "" {
		return false, false
	}
	met = true
	if t.MinRatio > 0 {
		met = met && f.Ratio >= t.MinRatio
	}
	if t.Min > 0 {
		met = met && f.Value >= t.Min
	}
	if t.Max > 0 {
		v := f.Value
		if t.OnP99 {
			v = f.P99
		}
		met = met && v <= t.Max
	}
	return met, true
}

// chartRow is one bar: what was measured, what it is drawn against, and where the goal is, all
// in one unit.
type chartRow struct {
	label     string
	value     float64
	reference float64 // the ceiling, or the goal's limit when there is no ceiling
	goal      float64 // 0: no goal marker
	valueText string
	refText   string
	met, ok   bool
}

func rowOf(f Figure) (chartRow, bool) {
	if f.Skipped != "" {
		return chartRow{}, false
	}
	met, ok := f.Met()
	r := chartRow{label: f.Name, met: met, ok: ok}
	switch {
	case f.Ceiling > 0:
		r.value, r.reference = f.Value, f.Ceiling
		r.valueText = fmt.Sprintf("%s %s (%.2f×)", num(f.Value), f.Unit, f.Ratio)
		r.refText = "ceiling " + num(f.Ceiling)
		if f.Target != nil && f.Target.MinRatio > 0 {
			r.goal = f.Target.MinRatio * f.Ceiling
		}
	case f.Target != nil && f.Target.Max > 0:
		r.value, r.reference, r.goal = f.Value, f.Target.Max, f.Target.Max
		unit, which := f.Unit, ""
		if f.Target.OnP99 {
			r.value, unit, which = f.P99, f.LatencyUnit, "p99 "
		}
		r.valueText = fmt.Sprintf("%s%s %s", which, num(r.value), unit)
		r.refText = "goal < " + num(f.Target.Max)
	case f.Target != nil && f.Target.Min > 0:
		r.value, r.reference, r.goal = f.Value, f.Target.Min, f.Target.Min
		r.valueText = fmt.Sprintf("%s %s", num(f.Value), f.Unit)
		r.refText = "goal ≥ " + num(f.Target.Min)
	default:
		return chartRow{}, false
	}
	return r, true
}

// WriteSVG draws the figures that have a ceiling or a numeric goal as bars: the measured value
// (green where the goal is met, orange where it is missed, grey where there is no goal) over a
// light bar for its ceiling or goal limit, with the goal marked by a vertical line. Each row is
// scaled on its own, so rows of different units can share one picture.
func (r *Report) WriteSVG(w io.Writer) error {
	var rows []chartRow
	for _, f := range r.Figures {
		if row, ok := rowOf(f); ok {
			rows = append(rows, row)
		}
	}
	const (
		width, labelW, barW = 1000.0, 430.0, 400.0
		rowH, top           = 34.0, 56.0
	)
	curves := scaleCurves(r.Figures)
	barsH := top + rowH*float64(len(rows)) + 30
	height := barsH
	if len(curves) > 0 {
		height += scalePanelH
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12" role="img" aria-labelledby="title">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<title id="title">mint bench, %s: each figure against its ceiling or goal</title>`+"\n", html.EscapeString(r.Time.Format("2006-01-02 15:04 UTC")))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">mint bench, %s, %d CPUs, load %s → %s</text>`+"\n",
		html.EscapeString(r.Time.Format("2006-01-02 15:04 UTC")), r.CPUs, html.EscapeString(r.LoadBefore), html.EscapeString(r.LoadAfter))
	fmt.Fprintf(&b, `<text x="10" y="42" fill="#555">bar: measured value; light bar: ceiling in the same run (or the goal's limit); line: goal. Green met, orange missed.</text>`+"\n")
	for i, row := range rows {
		y := top + rowH*float64(i)
		scale := barW / math.Max(math.Max(row.value, row.reference), math.Max(row.goal, 1e-9)) / 1.05
		colour := "#8a8a8a"
		if row.ok && row.met {
			colour = "#2e7d32"
		} else if row.ok {
			colour = "#e65100"
		}
		fmt.Fprintf(&b, `<text x="10" y="%.1f">%s</text>`+"\n", y+15, html.EscapeString(shorten(row.label, 70)))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="18" fill="#e3e3e3"/>`+"\n", labelW, y+2, row.reference*scale)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="10" fill="%s"/>`+"\n", labelW, y+6, row.value*scale, colour)
		if row.goal > 0 {
			gx := labelW + row.goal*scale
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="2"/>`+"\n", gx, y, gx, y+22)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s · %s</text>`+"\n", labelW+barW+12, y+15, html.EscapeString(row.valueText), html.EscapeString(row.refText))
	}
	if len(curves) > 0 {
		writeScalePanel(&b, curves, barsH, width)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// scalePanelH is the height of the scale curve's panel under the bars.
const scalePanelH = 320.0

// scaleSeries is one line of the scale curve: one p99 on one store, by directory size.
type scaleSeries struct {
	name   string
	colour string
	dashed bool
	points [][2]float64 // identities, p99 ms; by identities
}

var scaleKey = regexp.MustCompile(`^scale(Token|Vault|List|Graph|GraphSearch)P99(SQLite|PostgreSQL)_([0-9]+)$`)

// scaleCurves gathers the scale figures (mint bench --scale) into lines; none when the report
// has none.
func scaleCurves(figs []Figure) []scaleSeries {
	names := map[string]string{"Token": "fresh token", "Vault": "vault GET", "List": "list first page", "Graph": "Graph SP first page",
		"GraphSearch": "Graph SP $search"}
	colours := map[string]string{"Token": "#1565c0", "Vault": "#2e7d32", "List": "#6a1b9a", "Graph": "#e65100", "GraphSearch": "#00838f"}
	byName := map[string]*scaleSeries{}
	var out []*scaleSeries
	for _, f := range figs {
		m := scaleKey.FindStringSubmatch(f.Key)
		if m == nil || f.Skipped != "" {
			continue
		}
		n, err := strconv.Atoi(m[3])
		if err != nil || n <= 0 {
			continue
		}
		name := names[m[1]] + " p99, " + m[2]
		s := byName[name]
		if s == nil {
			s = &scaleSeries{name: name, colour: colours[m[1]], dashed: m[2] == "PostgreSQL"}
			byName[name] = s
			out = append(out, s)
		}
		s.points = append(s.points, [2]float64{float64(n), f.Value})
	}
	series := make([]scaleSeries, 0, len(out))
	for _, s := range out {
		slices.SortFunc(s.points, func(a, b [2]float64) int { return cmp.Compare(a[0], b[0]) })
		series = append(series, *s)
	}
	return series
}

// writeScalePanel draws the scale curve at top: x the identities (log scale), y the p99 (ms).
func writeScalePanel(b *strings.Builder, curves []scaleSeries, top, width float64) {
	const left, plotW, plotH = 80.0, 560.0, 220.0
	y0 := top + 40
	minN, maxN, maxMS := math.Inf(1), 0.0, 0.0
	var sizes []float64
	for _, s := range curves {
		for _, p := range s.points {
			minN, maxN, maxMS = math.Min(minN, p[0]), math.Max(maxN, p[0]), math.Max(maxMS, p[1])
			if !slices.Contains(sizes, p[0]) {
				sizes = append(sizes, p[0])
			}
		}
	}
	maxMS = math.Max(maxMS*1.1, 1e-3)
	span := math.Log10(maxN) - math.Log10(minN)
	x := func(n float64) float64 {
		if span == 0 {
			return left + plotW/2
		}
		return left + plotW*(math.Log10(n)-math.Log10(minN))/span
	}
	y := func(v float64) float64 { return y0 + plotH - plotH*v/maxMS }
	fmt.Fprintf(b, `<text x="10" y="%.1f" font-size="15" font-weight="bold">Scale: p99 by directory size (identities, log scale); goal: the largest within 1.3× of the smallest</text>`+"\n", top+18)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", left, y0+plotH, left+plotW, y0+plotH)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", left, y0, left, y0+plotH)
	for _, n := range sizes {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(n), y0+plotH+16, commas(int(n)))
	}
	for _, v := range []float64{0, maxMS / 2, maxMS} {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s ms</text>`+"\n", left-6, y(v)+4, num(v))
	}
	for i, s := range curves {
		var pts []string
		for _, p := range s.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p[0]), y(p[1])))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), s.colour, dash)
		ly := y0 + 14 + 20*float64(i)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", left+plotW+30, ly-4, left+plotW+60, ly-4, s.colour, dash)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+plotW+66, ly, html.EscapeString(s.name))
	}
	_ = width
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
