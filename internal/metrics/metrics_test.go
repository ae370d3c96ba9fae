package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// Instrument counts each request under its family, method and status class, whether the
// observer was kept from an earlier request or looked up (a method it does not keep).
func TestInstrumentCountsByMethodAndClass(t *testing.T) {
	m := New()
	h := m.Instrument("vault", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		case "/silent":
		default:
			w.Write([]byte("ok"))
		}
	}))
	for _, req := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/"}, {"GET", "/silent"}, {"GET", "/missing"}, {"PUT", "/missing"}, {"OPTIONS", "/"}, {"OPTIONS", "/"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	want := map[[2]string]uint64{{"GET", "2xx"}: 3, {"GET", "4xx"}: 1, {"PUT", "4xx"}: 1, {"OPTIONS", "2xx"}: 2}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[[2]string]uint64{}
	for _, f := range families {
		if f.GetName() != "mint_http_request_duration_seconds" {
			continue
		}
		for _, metric := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["family"] != "vault" {
				t.Fatalf("family %q", labels["family"])
			}
			got[[2]string{labels["method"], labels["code"]}] = histogramCount(metric.GetHistogram())
		}
	}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("%v: %d requests counted, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

func histogramCount(h *dto.Histogram) uint64 { return h.GetSampleCount() }
