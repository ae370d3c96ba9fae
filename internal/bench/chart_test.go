package bench

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFigureMet(t *testing.T) {
	for _, c := range []struct {
		name    string
		f       Figure
		met, ok bool
	}{
		{"no target", Figure{Value: 1}, false, false},
		{"skipped", Figure{Skipped: "skipped: no PostgreSQL", Target: &Target{Min: 500}}, false, false},
		{"ratio met", Figure{Ratio: 0.9, Target: &Target{MinRatio: 0.85}}, true, true},
		{"ratio missed", Figure{Ratio: 0.7, Target: &Target{MinRatio: 0.85}}, false, true},
		{"min met", Figure{Value: 832, Target: &Target{Min: 500}}, true, true},
		{"max on value missed", Figure{Value: 30.3, Target: &Target{Max: 15}}, false, true},
		{"max on p99 met though the median is higher than nothing", Figure{Value: 10, P99: 90, Target: &Target{Max: 100, OnP99: true}}, true, true},
		{"max on p99 missed", Figure{Value: 10, P99: 120, Target: &Target{Max: 100, OnP99: true}}, false, true},
	} {
		met, ok := c.f.Met()
		if met != c.met || ok != c.ok {
			t.Errorf("%s: Met() = %v, %v; want %v, %v", c.name, met, ok, c.met, c.ok)
		}
	}
}

func TestWriteSVGDrawsEachFigureWithAGoalAndEscapesNames(t *testing.T) {
	r := &Report{Time: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), CPUs: 2, LoadBefore: "1.0 1.0 1.0", LoadAfter: "2.0 1.5 1.0",
		Figures: []Figure{
			{Name: "fresh tokens", Value: 1700, Unit: "tokens/s", Ceiling: 2400, Ratio: 1700.0 / 2400, Target: &Target{MinRatio: 0.85}},
			{Name: "raw signing", Value: 2400, Unit: "signatures/s"}, // no goal, no ceiling: not drawn
			{Name: "agent <RSS> & co", Value: 30.3, Unit: "MiB", Target: &Target{Max: 15}},
			{Name: "creates", Value: 832, Unit: "identities/s", Target: &Target{Min: 500}},
			{Name: "first token", Value: 10, P99: 17.6, Unit: "ms", LatencyUnit: "ms", Target: &Target{Max: 100, OnP99: true}},
			{Name: "postgres", Skipped: "skipped: no PostgreSQL", Target: &Target{Min: 500}},
		}}
	var b strings.Builder
	if err := r.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	// Well-formed XML, so the escaping of names held.
	dec := xml.NewDecoder(strings.NewReader(svg))
	texts := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "line" {
			texts++
		}
	}
	if texts != 4 {
		t.Errorf("%d goal markers, want 4 (one per drawn figure with a goal)", texts)
	}
	for _, want := range []string{"agent &lt;RSS&gt; &amp; co", "fresh tokens", "p99 17.6 ms", "goal ≥ 500", "ceiling 2400"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	for _, absent := range []string{"raw signing", "postgres"} {
		if strings.Contains(svg, ">"+absent+"<") {
			t.Errorf("chart draws %q, which has no goal or was skipped", absent)
		}
	}
	if got := strings.Count(svg, `fill="#e65100"`); got != 2 {
		t.Errorf("%d missed (orange) bars, want 2 (tokens ratio, agent RSS)", got)
	}
}

func TestWriteSVGDrawsTheScaleCurveOnlyWithScaleFigures(t *testing.T) {
	r := &Report{Time: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), CPUs: 2}
	for _, p := range []struct {
		store string
		n     int
		token float64
	}{{"SQLite", 1000, 20}, {"SQLite", 100000, 22}, {"SQLite", 1000000, 30}, {"PostgreSQL", 1000, 25}, {"PostgreSQL", 1000000, 26}} {
		suffix := p.store + "_" + strconv.Itoa(p.n)
		r.Figures = append(r.Figures,
			Figure{Key: "scaleTokenP99" + suffix, Value: p.token, Unit: "ms"},
			Figure{Key: "scaleVaultP99" + suffix, Value: p.token / 4, Unit: "ms"},
			Figure{Key: "scaleRSS" + suffix, Value: 40, Unit: "MiB"}) // not a line
	}
	var b strings.Builder
	if err := r.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	if got := strings.Count(svg, "<polyline"); got != 4 {
		t.Errorf("%d lines, want 4 (token and vault p99 on each store)", got)
	}
	for _, want := range []string{"fresh token p99, SQLite", "vault GET p99, PostgreSQL", "1,000,000", `stroke-dasharray`} {
		if !strings.Contains(svg, want) {
			t.Errorf("scale panel lacks %q", want)
		}
	}
	// The SQLite token line has three points, in order of size.
	curves := scaleCurves(r.Figures)
	if len(curves) != 4 || len(curves[0].points) != 3 || curves[0].points[2] != [2]float64{1000000, 30} {
		t.Errorf("curves %+v", curves)
	}

	r.Figures = []Figure{{Name: "creates", Value: 832, Unit: "identities/s", Target: &Target{Min: 500}}}
	b.Reset()
	if err := r.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<polyline") || strings.Contains(b.String(), "Scale:") {
		t.Error("a report without scale figures drew the scale panel")
	}
}
