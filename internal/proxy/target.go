package proxy

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// DefaultNames are the Azure host names the proxy answers for over CONNECT, besides the vault
// names: Entra's authority hosts (login.microsoftonline.com and its aliases, which MSAL trusts
// and sends instance discovery to), the management endpoint under both of its names, and Graph.
var DefaultNames = []string{
	"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net",
	"management.azure.com", "management.core.windows.net",
	"graph.microsoft.com",
}

// AzureVaultSuffix is Key Vault's own DNS suffix: https://<vault>.vault.azure.net.
const AzureVaultSuffix = "vault.azure.net"

// VaultHosts are the vault host names <vault>.<Suffix>, served on Ports (default 443).
type VaultHosts struct {
	Suffix string
	Ports  []string
}

// DefaultVaults are Key Vault's own names, on 443.
var DefaultVaults = []VaultHosts{{Suffix: AzureVaultSuffix, Ports: []string{"443"}}}

// IMDSHost is the managed-identity endpoint's address, reached with plain http.
const IMDSHost = "169.254.169.254"

// maxAuthority bounds a request target before any parsing: a DNS name (253) and a port.
const maxAuthority = 253 + 1 + 5

// Refusal is why the proxy will not serve a request: an HTTP status and a message that names
// the host and says what to do.
type Refusal struct {
	Status  int
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// Names decides which hosts (and ports) the proxy answers for. The zero value answers for
// nothing.
type Names struct {
	exact   map[string]bool // on 443
	vaults  []VaultHosts
	storage map[string]bool // Storage services forwarded to an emulator (<account>.<service>.core.windows.net on 443)
}

var port443 = []string{"443"}

// NewNames returns the matcher for exact host names (on port 443) and vault host names (both
// compared case-insensitively; a leading dot on a suffix is ignored).
func NewNames(exact []string, vaults []VaultHosts) *Names {
	n := &Names{exact: map[string]bool{}}
	for _, h := range exact {
		if h = normalizeHost(h); h != "" {
			n.exact[h] = true
		}
	}
	for _, v := range vaults {
		suffix := normalizeHost(strings.TrimPrefix(strings.TrimSpace(v.Suffix), "."))
		if suffix == "" {
			continue
		}
		var ports []string
		for _, p := range v.Ports {
			if validPort(p) && !contains(ports, p) {
				ports = append(ports, p)
			}
		}
		if len(ports) == 0 {
			ports = port443
		}
		n.vaults = append(n.vaults, VaultHosts{Suffix: suffix, Ports: ports})
	}
	return n
}

// ports are the ports host (lower case, no port) is served on; nil when it is not served.
func (n *Names) ports(host string) []string {
	if n.exact[host] || n.storage[storageService(host)] {
		return port443
	}
	for _, v := range n.vaults {
		if name, ok := strings.CutSuffix(host, "."+v.Suffix); ok && validVaultName(name) {
			return v.Ports
		}
	}
	return nil
}

// Serves reports whether host (lower case, no port) is one of the names the proxy answers for.
func (n *Names) Serves(host string) bool { return n.ports(host) != nil }

// Describe lists the names served, for refusal messages.
func (n *Names) Describe() string {
	var parts []string
	for _, h := range DefaultNames {
		if n.exact[h] {
			parts = append(parts, h)
		}
	}
	var others []string
	for h := range n.exact {
		if !contains(DefaultNames, h) {
			others = append(others, h)
		}
	}
	slices.Sort(others)
	parts = append(parts, others...)
	for _, v := range n.vaults {
		name := "<vault>." + v.Suffix
		if !slices.Equal(v.Ports, port443) {
			name += ":" + strings.Join(v.Ports, "|")
		}
		parts = append(parts, name)
	}
	for _, service := range []string{"blob", "queue", "table"} {
		if n.storage[service] {
			parts = append(parts, "<account>."+StorageServices[service])
		}
	}
	return strings.Join(parts, ", ")
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// Connect checks a CONNECT request target (authority-form, host:port) and returns the host name
// to terminate TLS for and the port: one the proxy serves, on a port it is served on (443 for
// Azure's names). Anything else is refused before any tunnel exists.
func (n *Names) Connect(target string) (host, port string, ref *Refusal) {
	host, port, err := ParseAuthority(target)
	if err != nil {
		return "", "", &Refusal{http.StatusBadRequest, fmt.Sprintf("mint proxy: bad CONNECT target %q: %v", truncate(target, 100), err)}
	}
	ports := n.ports(host)
	if ports == nil && storageService(host) != "" {
		return "", "", &Refusal{http.StatusForbidden, fmt.Sprintf("mint proxy: refusing CONNECT %s: Azure Storage names are served only when forwarded to a "+
			"local emulator (mint dev or mint agent --forward-storage https://127.0.0.1:10000 for Azurite's blob service); "+
			"mint's proxy never forwards traffic anywhere else. To reach %s directly, add it to NO_PROXY.", net.JoinHostPort(host, port), host)}
	}
	if ports == nil {
		return "", "", &Refusal{http.StatusForbidden, fmt.Sprintf("mint proxy: refusing CONNECT %s: mint's Azure-name proxy answers only for %s "+
			"(and http://%s for managed identity); it never forwards traffic anywhere. To reach %s directly, add it to NO_PROXY.",
			net.JoinHostPort(host, port), n.Describe(), IMDSHost, host)}
	}
	if !slices.Contains(ports, port) {
		return "", "", &Refusal{http.StatusForbidden, fmt.Sprintf("mint proxy: refusing CONNECT %s: %s is served on port %s only; "+
			"mint's proxy never forwards traffic anywhere.", net.JoinHostPort(host, port), host, strings.Join(ports, " and "))}
	}
	return host, port, nil
}

// IsIMDS reports whether an absolute-form http request's host[:port] names the managed-identity
// endpoint (169.254.169.254, port 80 if any).
func IsIMDS(hostport string) bool {
	host, port := hostport, ""
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	return host == IMDSHost && (port == "" || port == "80")
}

// ParseAuthority parses a CONNECT request target, RFC 9110's authority-form "host:port": a DNS
// name, an IPv4 address or a bracketed IPv6 address, and a decimal port in 1..65535. The host is
// returned in lower case without a trailing dot. User info, paths and anything else are errors.
func ParseAuthority(target string) (host, port string, err error) {
	if target == "" {
		return "", "", fmt.Errorf("empty target")
	}
	if len(target) > maxAuthority+3 { // +3: "[" "]" and a trailing dot
		return "", "", fmt.Errorf("target longer than %d bytes", maxAuthority)
	}
	i := strings.LastIndexByte(target, ':')
	if i < 0 {
		return "", "", fmt.Errorf("no port: want host:port")
	}
	host, port = target[:i], target[i+1:]
	if !validPort(port) {
		return "", "", fmt.Errorf("bad port %q", truncate(port, 10))
	}
	if strings.HasPrefix(host, "[") {
		inner, ok := strings.CutSuffix(host[1:], "]")
		ip := net.ParseIP(inner)
		if !ok || ip == nil || ip.To4() != nil || strings.Contains(inner, "%") {
			return "", "", fmt.Errorf("bad IPv6 address %q", truncate(host, 60))
		}
		return strings.ToLower(inner), port, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() == nil {
			return "", "", fmt.Errorf("an IPv6 address must be in brackets")
		}
		return host, port, nil
	}
	host = strings.TrimSuffix(host, ".")
	if !validDNSName(host) {
		return "", "", fmt.Errorf("bad host name %q", truncate(host, 60))
	}
	return strings.ToLower(host), port, nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// validDNSName accepts LDH names: labels of 1 to 63 letters, digits and hyphens, not starting or
// ending with a hyphen, 253 bytes in all.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validVaultName applies Key Vault's naming rule to the first label of a vault host: 3 to 24
// letters, digits and hyphens, starting with a letter, ending with a letter or digit, no "--".
func validVaultName(s string) bool {
	if len(s) < 3 || len(s) > 24 || strings.Contains(s, "--") {
		return false
	}
	first, last := s[0], s[len(s)-1]
	if !(first >= 'a' && first <= 'z') || last == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func normalizeHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
}

// hostOnly strips the port from a host[:port] (and lower-cases it).
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return normalizeHost(h)
	}
	return normalizeHost(hostport)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
