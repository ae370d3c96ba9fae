package server

import (
	"net/http"
	"strings"
)

// servePathsAsIs answers a path with repeated slashes as Azure does: as the same path with single
// slashes, never with a redirect. The Azure SDK for JavaScript joins its endpoint and a scope or
// id in the documented form ("/subscriptions/...") into "https://host//subscriptions/...", and
// follows a redirect without its Authorization header, so http.ServeMux's 307 to the cleaned
// path turns every such call into a 401. The request reaches the mux (and every endpoint family
// behind it: ARM, Graph, the vault data plane, the STS) with its path's slash runs collapsed;
// anything else in the path is left as sent.
func servePathsAsIs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "//") || strings.Contains(r.URL.RawPath, "//") {
			r2 := r.Clone(r.Context())
			r2.URL.Path = collapseSlashes(r.URL.Path)
			r2.URL.RawPath = collapseSlashes(r.URL.RawPath)
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// collapseSlashes replaces each run of slashes in p by one.
func collapseSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
