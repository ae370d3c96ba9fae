package proxy

import (
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/mint-id/mint/internal/envfile"
)

// Environment is what routes a program's Azure traffic through the proxy at proxyURL:
// HTTPS_PROXY for the Azure names, HTTP_PROXY for IMDS, and NO_PROXY for mint's own endpoint
// (Go never proxies loopback, Node and Python do unless told). A non-loopback public URL's host
// joins NO_PROXY, since the proxy would refuse it.
func Environment(proxyURL, baseURL string) []envfile.Var {
	noProxy := []string{"127.0.0.1", "localhost"}
	if u, err := url.Parse(baseURL); err == nil && u.Hostname() != "" {
		h := strings.ToLower(u.Hostname())
		ip := net.ParseIP(h)
		if !slices.Contains(noProxy, h) && (ip == nil || !ip.IsLoopback()) {
			noProxy = append(noProxy, h)
		}
	}
	return []envfile.Var{
		{Name: "HTTPS_PROXY", Value: proxyURL},
		{Name: "HTTP_PROXY", Value: proxyURL},
		{Name: "NO_PROXY", Value: strings.Join(noProxy, ",")},
	}
}
