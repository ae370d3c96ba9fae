package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseAuthority(t *testing.T) {
	tests := []struct {
		in, host, port string
		wantErr        bool
	}{
		{in: "login.microsoftonline.com:443", host: "login.microsoftonline.com", port: "443"},
		{in: "Login.MicrosoftOnline.COM:443", host: "login.microsoftonline.com", port: "443"},
		{in: "login.microsoftonline.com.:443", host: "login.microsoftonline.com", port: "443"},
		{in: "kv1.vault.azure.net:443", host: "kv1.vault.azure.net", port: "443"},
		{in: "127.0.0.1:8443", host: "127.0.0.1", port: "8443"},
		{in: "[::1]:443", host: "::1", port: "443"},
		{in: "[2001:DB8::1]:443", host: "2001:db8::1", port: "443"},
		{in: "x:65535", host: "x", port: "65535"},
		{in: "", wantErr: true},
		{in: "login.microsoftonline.com", wantErr: true},
		{in: "login.microsoftonline.com:", wantErr: true},
		{in: "login.microsoftonline.com:0", wantErr: true},
		{in: "login.microsoftonline.com:0443", wantErr: true},
		{in: "login.microsoftonline.com:65536", wantErr: true},
		{in: "login.microsoftonline.com:+443", wantErr: true},
		{in: "login.microsoftonline.com:443 ", wantErr: true},
		{in: "user@login.microsoftonline.com:443", wantErr: true},
		{in: "login.microsoftonline.com/x:443", wantErr: true},
		{in: "http://login.microsoftonline.com:443", wantErr: true},
		{in: "-login.microsoftonline.com:443", wantErr: true},
		{in: "login..microsoftonline.com:443", wantErr: true},
		{in: "login_x.com:443", wantErr: true},
		{in: ".:443", wantErr: true},
		{in: ":443", wantErr: true},
		{in: "::1:443", wantErr: true},
		{in: "[::1%eth0]:443", wantErr: true},
		{in: "[127.0.0.1]:443", wantErr: true},
		{in: "[::1:443", wantErr: true},
		{in: strings.Repeat("a", 64) + ".com:443", wantErr: true},
		{in: strings.Repeat("a.", 130) + "com:443", wantErr: true},
	}
	for _, tt := range tests {
		host, port, err := ParseAuthority(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseAuthority(%q) = %q, %q; want an error", tt.in, host, port)
			}
			continue
		}
		if err != nil || host != tt.host || port != tt.port {
			t.Errorf("ParseAuthority(%q) = %q, %q, %v; want %q, %q", tt.in, host, port, err, tt.host, tt.port)
		}
	}
}

func TestNamesConnect(t *testing.T) {
	n := NewNames(DefaultNames, DefaultVaults)
	tests := []struct {
		target string
		host   string
		status int // 0: accepted
		says   string
	}{
		{target: "login.microsoftonline.com:443", host: "login.microsoftonline.com"},
		{target: "LOGIN.WINDOWS.NET:443", host: "login.windows.net"},
		{target: "login.microsoft.com:443", host: "login.microsoft.com"},
		{target: "sts.windows.net:443", host: "sts.windows.net"},
		{target: "management.azure.com:443", host: "management.azure.com"},
		{target: "management.core.windows.net:443", host: "management.core.windows.net"},
		{target: "graph.microsoft.com:443", host: "graph.microsoft.com"},
		{target: "kv1.vault.azure.net:443", host: "kv1.vault.azure.net"},
		{target: "My-Vault-01.vault.azure.net:443", host: "my-vault-01.vault.azure.net"},
		{target: "a23456789012345678901234.vault.azure.net:443", host: "a23456789012345678901234.vault.azure.net"},
		{target: "example.com:443", status: http.StatusForbidden, says: "refusing CONNECT example.com:443"},
		{target: "login.microsoftonline.com:80", status: http.StatusForbidden, says: "port 443 only"},
		{target: "management.azure.com:8443", status: http.StatusForbidden, says: "port 443 only"},
		{target: "127.0.0.1:443", status: http.StatusForbidden, says: "127.0.0.1"},
		{target: "[::1]:443", status: http.StatusForbidden, says: "[::1]:443"},
		{target: "169.254.169.254:443", status: http.StatusForbidden, says: "169.254.169.254"},
		{target: "vault.azure.net:443", status: http.StatusForbidden},
		{target: "kv.vault.azure.net:443", status: http.StatusForbidden},                        // too short for a vault name
		{target: "a234567890123456789012345.vault.azure.net:443", status: http.StatusForbidden}, // too long
		{target: "1kv.vault.azure.net:443", status: http.StatusForbidden},
		{target: "kv--1.vault.azure.net:443", status: http.StatusForbidden},
		{target: "a.kv1.vault.azure.net:443", status: http.StatusForbidden},
		{target: "kv1.vault.azure.net.example.com:443", status: http.StatusForbidden},
		{target: "xlogin.microsoftonline.com:443", status: http.StatusForbidden},
		{target: "kv1.vault.azure.cn:443", status: http.StatusForbidden},
		{target: "login.microsoftonline.com", status: http.StatusBadRequest, says: "no port"},
		{target: "user:pw@login.microsoftonline.com:443", status: http.StatusBadRequest},
	}
	for _, tt := range tests {
		host, port, ref := n.Connect(tt.target)
		if tt.status == 0 {
			if ref != nil || host != tt.host || port != "443" {
				t.Errorf("Connect(%q) = %q, %q, %v; want %q, 443", tt.target, host, port, ref, tt.host)
			}
			continue
		}
		if ref == nil {
			t.Errorf("Connect(%q) = %q; want status %d", tt.target, host, tt.status)
			continue
		}
		if ref.Status != tt.status || !strings.Contains(ref.Message, tt.says) {
			t.Errorf("Connect(%q) = %d %q; want %d containing %q", tt.target, ref.Status, ref.Message, tt.status, tt.says)
		}
		if ref.Status == http.StatusForbidden && !strings.Contains(ref.Message, "never forwards") {
			t.Errorf("Connect(%q) refusal %q does not say that mint never forwards", tt.target, ref.Message)
		}
	}
}

func TestVaultHostsAreConfigurable(t *testing.T) {
	n := NewNames(nil, []VaultHosts{{Suffix: ".Vault.Azure.CN"}, {Suffix: "vault.localhost", Ports: []string{"8443", "x", "8443"}}})
	for target, want := range map[string]string{
		"kv1.vault.azure.cn:443":        "443",
		"kv1.vault.localhost:8443":      "8443",
		"KV1.VAULT.LOCALHOST.:8443":     "8443",
		"kv1.vault.localhost:443":       "",
		"kv1.vault.azure.cn:8443":       "",
		"kv1.vault.azure.net:443":       "",
		"login.microsoftonline.com:443": "",
		"kv1.vault.localhost.cn:8443":   "",
		"kv1.xvault.localhost:8443":     "",
		"kv1.kv2.vault.localhost:8443":  "",
		"localhost:8443":                "",
		"vault.localhost:8443":          "",
	} {
		_, port, ref := n.Connect(target)
		if port != want || (ref == nil) != (want != "") {
			t.Errorf("Connect(%q) = port %q, refusal %v; want port %q", target, port, ref, want)
		}
	}
	if got := n.Describe(); got != "<vault>.vault.azure.cn, <vault>.vault.localhost:8443" {
		t.Errorf("Describe() = %q", got)
	}
	if _, _, ref := n.Connect("kv1.vault.localhost:9999"); ref == nil || !strings.Contains(ref.Message, "port 8443 only") {
		t.Errorf("wrong port: %v", ref)
	}
}

func TestIsIMDS(t *testing.T) {
	for hostport, want := range map[string]bool{
		"169.254.169.254":       true,
		"169.254.169.254:80":    true,
		"169.254.169.254:8080":  false,
		"169.254.169.2544":      false,
		"169.254.169.25":        false,
		"metadata.azure.com":    false,
		"[::ffff:a9fe:a9fe]:80": false,
		"":                      false,
	} {
		if got := IsIMDS(hostport); got != want {
			t.Errorf("IsIMDS(%q) = %v, want %v", hostport, got, want)
		}
	}
}

func TestHostHeaderMatches(t *testing.T) {
	for _, tt := range []struct {
		hdr  string
		t    tunnelTarget
		want bool
	}{
		{"", tunnelTarget{"kv1.vault.azure.net", "443"}, true},
		{"kv1.vault.azure.net", tunnelTarget{"kv1.vault.azure.net", "443"}, true},
		{"KV1.vault.azure.net", tunnelTarget{"kv1.vault.azure.net", "443"}, true},
		{"kv1.vault.azure.net:443", tunnelTarget{"kv1.vault.azure.net", "443"}, true},
		{"kv1.vault.azure.net.", tunnelTarget{"kv1.vault.azure.net", "443"}, true},
		{"kv1.vault.azure.net:8443", tunnelTarget{"kv1.vault.azure.net", "443"}, false},
		{"kv2.vault.azure.net", tunnelTarget{"kv1.vault.azure.net", "443"}, false},
		{"management.azure.com", tunnelTarget{"kv1.vault.azure.net", "443"}, false},
		{"kv1.vault.localhost:8443", tunnelTarget{"kv1.vault.localhost", "8443"}, true},
		{"kv1.vault.localhost", tunnelTarget{"kv1.vault.localhost", "8443"}, true},
		{"kv1.vault.localhost:443", tunnelTarget{"kv1.vault.localhost", "8443"}, false},
	} {
		if got := hostHeaderMatches(tt.hdr, tt.t); got != tt.want {
			t.Errorf("hostHeaderMatches(%q, %v) = %v, want %v", tt.hdr, tt.t, got, tt.want)
		}
	}
	if h := (tunnelTarget{"kv1.vault.localhost", "8443"}).hostHeader(); h != "kv1.vault.localhost:8443" {
		t.Errorf("hostHeader %q", h)
	}
	if h := (tunnelTarget{"kv1.vault.azure.net", "443"}).hostHeader(); h != "kv1.vault.azure.net" {
		t.Errorf("hostHeader %q", h)
	}
}
