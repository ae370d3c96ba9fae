package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServePathsAsIsNeverRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/subscriptions/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("arm " + r.URL.Path)) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("sts " + r.URL.Path)) })
	h := servePathsAsIs(mux)
	for _, tc := range []struct{ path, want string }{
		{"//subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01", "arm /subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions"},
		{"///subscriptions//s1", "arm /subscriptions/s1"},
		{"/subscriptions/s1", "arm /subscriptions/s1"},
		{"//tenant/oauth2/v2.0/token", "sts /tenant/oauth2/v2.0/token"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://mint.example"+tc.path, nil))
		if rec.Code != http.StatusOK || rec.Body.String() != tc.want {
			t.Errorf("%s: %d %q, want 200 %q", tc.path, rec.Code, rec.Body.String(), tc.want)
		}
	}
}

func FuzzCollapseSlashes(f *testing.F) {
	for _, s := range []string{"", "/", "//", "//subscriptions//x/", "a//b///c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := collapseSlashes(p)
		if strings.Contains(got, "//") || collapseSlashes(got) != got || strings.ReplaceAll(got, "/", "") != strings.ReplaceAll(p, "/", "") {
			t.Fatalf("collapseSlashes(%q) = %q", p, got)
		}
	})
}
