package portal

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"
)

// The sign-in chart: successes and failures per time bucket as a server-rendered SVG bar chart.
// It is an image to assistive technology (role="img" named by its <title> and described by its
// <desc>), and the page shows the same counts as a table for people who cannot see it. No
// script and no inline style: colours are presentation attributes, which the portal's CSP allows.

// chartBucket is one interval of the chart.
type chartBucket struct {
	Start            time.Time
	Success, Failure int
}

// chartLayout is the drawing's geometry (user units; the SVG scales to its container).
const (
	chartWidth   = 720
	chartHeight  = 240
	chartLeft    = 48 // room for the y axis labels
	chartRight   = 12
	chartTop     = 16
	chartBottom  = 40 // room for the x axis labels
	successColor = "#2e7d32"
	failureColor = "#c62828"
)

// bucketSize picks an interval that gives a readable number of bars for the range.
func bucketSize(from, to time.Time) time.Duration {
	switch d := to.Sub(from); {
	case d <= 2*time.Hour:
		return 5 * time.Minute
	case d <= 26*time.Hour:
		return time.Hour
	case d <= 8*24*time.Hour:
		return 6 * time.Hour
	default:
		return 24 * time.Hour
	}
}

// bucketSignIns counts entries per interval of size step from from (aligned to step) to to.
// Pure.
func bucketSignIns(from, to time.Time, step time.Duration, entries []signInEntry) []chartBucket {
	if step <= 0 || !to.After(from) {
		return nil
	}
	start := from.UTC().Truncate(step)
	n := int(to.Sub(start)/step) + 1
	if n > 400 {
		n = 400
	}
	out := make([]chartBucket, n)
	for i := range out {
		out[i].Start = start.Add(time.Duration(i) * step)
	}
	for _, e := range entries {
		i := int(e.CreatedDateTime.Sub(start) / step)
		if i < 0 || i >= n {
			continue
		}
		if e.failed() {
			out[i].Failure++
		} else {
			out[i].Success++
		}
	}
	return out
}

// renderChart draws buckets as grouped bars. title and desc name and describe the image; every
// text that reaches the SVG is escaped. Pure.
func renderChart(title, desc string, buckets []chartBucket, step time.Duration) template.HTML {
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="chart-title" aria-describedby="chart-desc">`,
		chartWidth, chartHeight, chartWidth, chartHeight)
	fmt.Fprintf(&b, `<title id="chart-title">%s</title><desc id="chart-desc">%s</desc>`, esc(title), esc(desc))
	plotW := float64(chartWidth - chartLeft - chartRight)
	plotH := float64(chartHeight - chartTop - chartBottom)
	baseY := float64(chartTop) + plotH
	max := 0
	for _, k := range buckets {
		if k.Success > max {
			max = k.Success
		}
		if k.Failure > max {
			max = k.Failure
		}
	}
	// Axes.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="#555"/>`, chartLeft, chartTop, chartLeft, baseY)
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555"/>`, chartLeft, baseY, chartWidth-chartRight, baseY)
	if max == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#333" font-size="14">No sign-ins in this period</text>`,
			chartLeft+int(plotW/2), chartTop+int(plotH/2))
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	top := niceCeil(max)
	for _, v := range []int{0, top / 2, top} {
		y := baseY - float64(v)/float64(top)*plotH
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#333" font-size="11">%d</text>`, chartLeft-6, y+4, v)
		if v > 0 {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, chartLeft+1, y, chartWidth-chartRight, y)
		}
	}
	slot := plotW / float64(len(buckets))
	bar := slot * 0.4
	if bar > 24 {
		bar = 24
	}
	labelEvery := len(buckets)/8 + 1
	for i, k := range buckets {
		x := float64(chartLeft) + float64(i)*slot + (slot-2*bar)/2
		for j, v := range []int{k.Success, k.Failure} {
			if v == 0 {
				continue
			}
			h := float64(v) / float64(top) * plotH
			color, what := successColor, "successful"
			if j == 1 {
				color, what = failureColor, "failed"
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %d %s</title></rect>`,
				x+float64(j)*bar, baseY-h, bar, h, color, esc(bucketLabel(k.Start, step)), v, what)
		}
		if i%labelEvery == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333" font-size="11">%s</text>`,
				float64(chartLeft)+float64(i)*slot+slot/2, baseY+16, esc(axisLabel(k.Start, step)))
		}
	}
	// Legend, in words as well as colour.
	ly := chartHeight - 8
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" fill="#333" font-size="12">Success</text>`,
		chartLeft, ly-9, successColor, chartLeft+14, ly)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" fill="#333" font-size="12">Failure</text>`,
		chartLeft+80, ly-9, failureColor, chartLeft+94, ly)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds a maximum up to 1, 2 or 5 times a power of ten, and to an even number so
// that the middle gridline is a whole count.
func niceCeil(n int) int {
	if n <= 2 {
		return 2
	}
	p := 1
	for p*10 <= n {
		p *= 10
	}
	for _, m := range []int{1, 2, 5, 10} {
		if m*p >= n && (m*p)%2 == 0 {
			return m * p
		}
	}
	return 10 * p
}

func bucketLabel(t time.Time, step time.Duration) string {
	if step >= 24*time.Hour {
		return t.UTC().Format("2006-01-02")
	}
	return t.UTC().Format("2006-01-02 15:04") + " UTC"
}

func axisLabel(t time.Time, step time.Duration) string {
	if step >= 24*time.Hour {
		return t.UTC().Format("Jan 2")
	}
	if step >= time.Hour {
		return t.UTC().Format("Jan 2 15h")
	}
	return t.UTC().Format("15:04")
}
