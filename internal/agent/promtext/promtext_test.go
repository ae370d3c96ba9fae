package promtext

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The lean agent's /metrics says what the Prometheus client library says for the same
// observations: the same families, types, help, label sets, values and buckets. The test links
// the library (the binary does not) and compares the two parsed by Prometheus's own text parser.
func TestSameExpositionAsTheClientLibrary(t *testing.T) {
	a := New()
	reg := prometheus.NewRegistry()
	served := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mint_agent_token_requests_total", Help: "Token requests answered by the node agent, by dialect, status and cache (hit, miss).",
	}, []string{"dialect", "code", "cache"})
	upstream := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mint_agent_upstream_duration_seconds", Help: "Latency of the node agent's calls to the mint server, by result.", Buckets: LatencyBuckets,
	}, []string{"result"})
	conns := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mint_agent_proxy_upstream_connections_total", Help: "Connections the node's Azure-name proxy opened to the mint server: one per tunnel passed through, or its own TLS connections when it terminates.",
	})
	reg.MustRegister(served, upstream, conns)
	for range 3 {
		a.ProxyUpstreamConnection()
		conns.Inc()
	}

	for _, s := range []struct {
		dialect string
		code    int
		hit     bool
		n       int
	}{{"AppService", 200, true, 5}, {"AppService", 200, false, 2}, {"IMDS", 400, false, 1}, {`odd "dialect"\` + "\n", 200, true, 1}} {
		for range s.n {
			a.Served(s.dialect, s.code, s.hit)
			cache := "miss"
			if s.hit {
				cache = "hit"
			}
			served.WithLabelValues(s.dialect, itoa(s.code), cache).Inc()
		}
	}
	for _, d := range []time.Duration{30 * time.Microsecond, 50 * time.Microsecond, 51 * time.Microsecond, 3 * time.Millisecond, 2500 * time.Millisecond, 4 * time.Second} {
		a.UpstreamCall(d, nil)
		upstream.WithLabelValues("ok").Observe(d.Seconds())
	}
	a.UpstreamCall(time.Second, errors.New("refused"))
	upstream.WithLabelValues("error").Observe(1)

	ours := scrape(t, a.Handler())
	var want bytes.Buffer
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&want, mf); err != nil {
			t.Fatal(err)
		}
	}
	theirs := parse(t, want.Bytes())
	for name, w := range theirs {
		g, ok := ours[name]
		if !ok {
			t.Errorf("no %s", name)
			continue
		}
		if got, want := canonical(g), canonical(w); got != want {
			t.Errorf("%s differs:\n got  %s\n want %s", name, got, want)
		}
	}
}

// The Go and process gauges keep the names and types of the library's collectors, so that a
// dashboard (and mint bench, which reads go_memstats_heap_inuse_bytes) finds them.
func TestRuntimeMetricsMatchTheCollectors(t *testing.T) {
	ours := scrape(t, New().Handler())
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	lib := map[string]dto.MetricType{}
	for _, mf := range mfs {
		lib[mf.GetName()] = mf.GetType()
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_start_time_seconds", "process_cpu_seconds_total"} {
		if _, ok := ours[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for name, mf := range ours {
		if !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			continue
		}
		typ, ok := lib[name]
		if !ok {
			t.Errorf("%s is not a metric of the library's Go and process collectors", name)
		} else if typ != mf.GetType() {
			t.Errorf("%s is a %v, the library's a %v", name, mf.GetType(), typ)
		}
		if v := value(mf.GetMetric()[0]); v < 0 {
			t.Errorf("%s = %v", name, v)
		}
	}
}

func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	body, _ := io.ReadAll(rec.Body)
	// Every line is a comment or a sample; every family is introduced once.
	seen := map[string]bool{}
	for sc := bufio.NewScanner(bytes.NewReader(body)); sc.Scan(); {
		if name, ok := strings.CutPrefix(sc.Text(), "# TYPE "); ok {
			name, _, _ = strings.Cut(name, " ")
			if seen[name] {
				t.Errorf("%s introduced twice", name)
			}
			seen[name] = true
		}
	}
	return parse(t, body)
}

func parse(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return mfs
}

// canonical is a family as comparable text: type, help and each metric's labels and values,
// sorted, without the library's created timestamps.
func canonical(mf *dto.MetricFamily) string {
	var ms []string
	for _, m := range mf.GetMetric() {
		var b strings.Builder
		for _, l := range m.GetLabel() {
			b.WriteString(l.GetName() + "=" + l.GetValue() + ",")
		}
		b.WriteString(" ")
		if h := m.GetHistogram(); h != nil {
			b.WriteString("count=" + itoa(int(h.GetSampleCount())) + " sum=" + formatFloat(h.GetSampleSum()))
			for _, bk := range h.GetBucket() {
				b.WriteString(" " + formatFloat(bk.GetUpperBound()) + ":" + itoa(int(bk.GetCumulativeCount())))
			}
		} else {
			b.WriteString(formatFloat(value(m)))
		}
		ms = append(ms, b.String())
	}
	slices.Sort(ms)
	return mf.GetType().String() + " " + mf.GetHelp() + " [" + strings.Join(ms, " | ") + "]"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return -1
}

func itoa(n int) string { return formatFloat(float64(n)) }
