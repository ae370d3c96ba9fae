package nodeagent

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// --proxy-tls: auto passes through only to a server reached directly over https; passthrough
// refuses to start where it cannot work; terminate never passes through.
func TestProxyTLSModes(t *testing.T) {
	fwd := func(server string, viaProxy bool) *forwarder {
		t.Helper()
		u, _ := url.Parse(server)
		tr := &http.Transport{}
		if viaProxy {
			tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: "127.0.0.1:3128"})
		}
		f, err := newForwarder(u, tr, func() {}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, c := range []struct {
		mode, server string
		viaProxy     bool
		want         string // "dial", "nil" or an error's text
	}{
		{"", "https://mint.example:8443", false, "dial"},
		{"auto", "https://mint.example:8443", false, "dial"},
		{"passthrough", "https://mint.example:8443", false, "dial"},
		{"terminate", "https://mint.example:8443", false, "nil"},
		{"auto", "https://mint.example:8443", true, "nil"},
		{"auto", "https://mint.example:8443/mint", false, "nil"},
		{"auto", "http://mint.example:8080", false, "nil"},
		{"passthrough", "https://mint.example:8443", true, "HTTPS_PROXY"},
		{"passthrough", "http://mint.example:8080", false, "over http"},
		{"Passthru", "https://mint.example:8443", false, "want auto, passthrough or terminate"},
	} {
		d, err := passthroughDialer(c.mode, fwd(c.server, c.viaProxy), slog.New(slog.DiscardHandler))
		switch {
		case c.want == "dial" && (err != nil || d == nil), c.want == "nil" && (err != nil || d != nil):
			t.Errorf("%q to %s (proxy %v): %v, %v; want %s", c.mode, c.server, c.viaProxy, d != nil, err, c.want)
		case c.want != "dial" && c.want != "nil" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q to %s (proxy %v): %v, want an error with %q", c.mode, c.server, c.viaProxy, err, c.want)
		}
	}
}

// A misspelt --proxy-tls stops the agent at start, whether or not the proxy runs.
func TestProxyTLSIsCheckedAtStart(t *testing.T) {
	for _, proxyAddr := range []string{DefaultProxyAddr, ""} {
		err := Run(t.Context(), Config{DataDir: t.TempDir(), ProxyAddr: proxyAddr, ProxyTLS: "passthru"})
		if err == nil || !strings.Contains(err.Error(), "want auto, passthrough or terminate") {
			t.Errorf("--proxy-addr %q --proxy-tls passthru: %v", proxyAddr, err)
		}
	}
}
