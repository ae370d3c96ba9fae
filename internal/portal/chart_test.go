package portal

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// wellFormed parses the SVG as XML: a stray '<' from an unescaped text would break it.
func wellFormed(t *testing.T, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
	}
}

func TestChartEscapesText(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	svg := string(renderChart(`<script>alert(1)</script> & "x"`, `desc </desc><script>`, []chartBucket{{Start: at, Success: 3, Failure: 1}}, time.Hour))
	wellFormed(t, svg)
	if strings.Contains(svg, "<script>") || !strings.Contains(svg, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;") {
		t.Fatalf("title or description not escaped:\n%s", svg)
	}
	for _, want := range []string{`role="img"`, `aria-labelledby="chart-title" aria-describedby="chart-desc"`, `<title id="chart-title">`, `<desc id="chart-desc">`,
		"2026-03-01 10:00 UTC: 3 successful", "2026-03-01 10:00 UTC: 1 failed", ">Success<", ">Failure<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "style=") || strings.Contains(svg, "<script") {
		t.Error("the chart carries inline style or script, which the portal's CSP forbids")
	}
}

func TestChartEmpty(t *testing.T) {
	for _, buckets := range [][]chartBucket{nil, {{Start: time.Unix(0, 0)}}} {
		svg := string(renderChart("t", "d", buckets, time.Hour))
		wellFormed(t, svg)
		if !strings.Contains(svg, "No sign-ins in this period") || strings.Contains(svg, "<rect") {
			t.Fatalf("empty chart:\n%s", svg)
		}
	}
}

func TestChartOnePoint(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)
	svg := string(renderChart("t", "d", []chartBucket{{Start: at, Failure: 1}}, 5*time.Minute))
	wellFormed(t, svg)
	if n := strings.Count(svg, "<rect"); n != 1+2 { // one bar and the legend's two swatches
		t.Fatalf("%d rects:\n%s", n, svg)
	}
	if !strings.Contains(svg, ">10:05<") || strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Fatalf("one point:\n%s", svg)
	}
}

func TestBucketSignIns(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 30, 0, 0, time.UTC)
	to := from.Add(3 * time.Hour)
	ok := signInEntry{CreatedDateTime: from.Add(10 * time.Minute)}
	bad := signInEntry{CreatedDateTime: from.Add(2 * time.Hour), Result: "failure"}
	bad.Status.ErrorCode = 50126
	outside := signInEntry{CreatedDateTime: from.Add(-2 * time.Hour)}
	bs := bucketSignIns(from, to, time.Hour, []signInEntry{ok, bad, outside})
	if len(bs) != 4 || !bs[0].Start.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("buckets = %+v", bs)
	}
	if bs[0].Success != 1 || bs[2].Failure != 1 || bs[1].Success+bs[1].Failure+bs[3].Success+bs[3].Failure != 0 {
		t.Fatalf("counts = %+v", bs)
	}
	if bucketSignIns(to, from, time.Hour, nil) != nil {
		t.Fatal("an empty range has buckets")
	}
}

func TestNiceCeil(t *testing.T) {
	for n, want := range map[int]int{0: 2, 1: 2, 3: 10, 7: 10, 11: 20, 99: 100, 101: 200, 450: 500} {
		if got := niceCeil(n); got != want || got < n {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestSummarizeTokens(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	mk := func(ago time.Duration, aud, uti string) signInEntry {
		return signInEntry{CreatedDateTime: now.Add(-ago), ResourceID: aud, UniqueTokenIdentifier: uti, AzureResourceID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.App/containerApps/web"}
	}
	// Newest first, as the log lists them: a reuse of t1 from the cache, t2, t1's issue, an old t0.
	entries := []signInEntry{mk(time.Minute, "https://vault.azure.net", "t1"), mk(time.Hour, "https://management.azure.com/", "t2"),
		mk(3*time.Hour, "https://vault.azure.net", "t1"), mk(30*time.Hour, "https://vault.azure.net", "t0")}
	failed := mk(0, "https://storage.azure.com/", "")
	failed.Result = "failure"
	entries = append([]signInEntry{failed}, entries...)
	auds, holders := summarizeTokens(entries, now, 24*time.Hour)
	if len(auds) != 2 || auds[0].Audience != "https://vault.azure.net" || auds[0].Count != 3 || !auds[0].Last.Equal(now.Add(-time.Minute)) {
		t.Fatalf("audiences = %+v", auds)
	}
	if len(holders) != 2 || holders[0].TokenID != "t2" || holders[1].TokenID != "t1" || !holders[1].ExpiresBy.Equal(now.Add(21*time.Hour)) {
		t.Fatalf("holders = %+v", holders)
	}
}

func TestSignInFilterFromForm(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	got := signInFilter(signInFilters{Tab: "managedidentity", Status: "failure", Principal: "o'brien@x", App: "a1", Resource: "https://vault.azure.net"}, from, from.Add(time.Hour))
	want := "createdDateTime ge 2026-03-01T00:00:00Z and createdDateTime le 2026-03-01T01:00:00Z and signInEventTypes/any(t: t eq 'managedIdentity')" +
		" and status/errorCode ne 0 and userPrincipalName eq 'o''brien@x' and appId eq 'a1' and resourceId eq 'https://vault.azure.net'"
	if got != want {
		t.Fatalf("filter:\n got %s\nwant %s", got, want)
	}
	if g := signInFilter(signInFilters{Principal: "6f1c7ad4-58a3-4b0e-9c3f-1f7f0e1f7a10"}, from, from); !strings.Contains(g, "servicePrincipalId eq '6f1c7ad4-58a3-4b0e-9c3f-1f7f0e1f7a10'") {
		t.Fatalf("an object id filters by servicePrincipalId: %s", g)
	}
}

// FuzzSignInWindow: the date-range form either gives a range whose end is after its start or
// an error to show by the field; never a panic.
func FuzzSignInWindow(f *testing.F) {
	for _, s := range [][3]string{{"custom", "2026-03-01T00:00", "2026-03-02T00:00"}, {"24h", "", ""}, {"custom", "x", ""}, {"bogus", "", ""}} {
		f.Add(s[0], s[1], s[2])
	}
	now := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, rng, from, to string) {
		a, b, err := signInWindow(signInFilters{Range: rng, From: from, To: to}, now)
		if err == nil && !b.After(a) {
			t.Fatalf("%q %q %q: range %v..%v", rng, from, to, a, b)
		}
	})
}
