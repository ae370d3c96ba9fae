package proxy

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseAuthority(f *testing.F) {
	for _, seed := range []string{
		"login.microsoftonline.com:443", "kv1.vault.azure.net:443", "KV1.Vault.Azure.Net.:443", "example.com:443",
		"[::1]:443", "127.0.0.1:80", "169.254.169.254:80", "a:1", ":443", "host:", "[::1%25x]:443", "user@h:443",
		"h:0443", "h:65536", "a.b.c.d.e:443", "kv1.vault.localhost:8443", "kv1.vault.localhost:443", "kv--1.vault.azure.net:443", "\x00:443", "é.vault.azure.net:443",
	} {
		f.Add(seed)
	}
	names := NewNames(DefaultNames, append([]VaultHosts{{Suffix: "vault.localhost", Ports: []string{"8443"}}}, DefaultVaults...))
	f.Fuzz(func(t *testing.T, target string) {
		host, port, err := ParseAuthority(target)
		connectHost, connectPort, ref := names.Connect(target)
		if err != nil {
			if ref == nil || ref.Status != 400 {
				t.Fatalf("ParseAuthority(%q) failed (%v) but Connect gave %q, %v", target, err, connectHost, ref)
			}
			return
		}
		if host == "" || host != strings.ToLower(host) || strings.HasSuffix(host, ".") {
			t.Fatalf("ParseAuthority(%q) host %q is not normalised", target, host)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			t.Fatalf("ParseAuthority(%q) port %q", target, port)
		}
		// Parsing what was parsed gives the same answer.
		h2, p2, err := ParseAuthority(net.JoinHostPort(host, port))
		if err != nil || h2 != host || p2 != port {
			t.Fatalf("ParseAuthority(%q) = %q, %q; again: %q, %q, %v", target, host, port, h2, p2, err)
		}
		if ref == nil {
			if connectHost != host || connectPort != port || !names.Serves(host) || net.ParseIP(host) != nil ||
				port != "443" && !strings.HasSuffix(host, ".vault.localhost") {
				t.Fatalf("Connect(%q) accepted %q (port %s)", target, connectHost, port)
			}
			// The certificate name is a plain DNS name: no wildcard, no IP.
			if strings.ContainsAny(host, "*[]:") {
				t.Fatalf("Connect(%q) accepted %q", target, host)
			}
		} else if ref.Status != 403 {
			t.Fatalf("Connect(%q) = %d for a well-formed target", target, ref.Status)
		}
	})
}
