package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Azure Storage names (https://<account>.<service>.core.windows.net) are not mint's: the proxy
// serves them only when told to forward them to a local emulator, Azurite
// (https://github.com/Azure/Azurite). Azurite reads the account from the Host when the Host is a
// name with a dot that is not an IP address ("production-style URL", its
// extractStoragePartsFromPath), so a request for devstoreaccount1.blob.core.windows.net needs no
// rewriting: it is forwarded as it came, Host, path and Authorization intact, and Azurite
// answers for account devstoreaccount1 exactly as Azure Storage would. Only the connection goes
// elsewhere: to the emulator's address, over HTTPS, trusting the emulator's certificate.

// The usage of the --forward-storage flags, which mint dev and mint agent both take.
const (
	ForwardStorageUsage = "forward https://<account>.blob.core.windows.net through the proxy to a local Storage emulator, e.g. Azurite's https://127.0.0.1:10000 " +
		"(queue=URL and table=URL for those services; repeatable)"
	ForwardStorageCAUsage = "PEM file of the CA that issued the Storage emulator's certificate (default: system roots and SSL_CERT_FILE)"
)

// StorageServices are the Storage services whose names can be forwarded, and their DNS suffixes.
var StorageServices = map[string]string{
	"blob":  "blob.core.windows.net",
	"queue": "queue.core.windows.net",
	"table": "table.core.windows.net",
}

// NodeStorageNames are the storage names a node's proxy certificate covers (served only when
// the node's agent forwards them).
var NodeStorageNames = []string{"*.blob.core.windows.net", "*.queue.core.windows.net", "*.table.core.windows.net"}

// StorageForward sends one Storage service's names to an emulator.
type StorageForward struct {
	Service string   // "blob", "queue" or "table"
	Target  *url.URL // https://host:port of the emulator's service
}

// ParseStorageForwards parses --forward-storage values: "https://host:port" (the blob service,
// Azurite's 10000) or "<service>=https://host:port" for blob, queue or table. Each service once.
func ParseStorageForwards(values []string) ([]StorageForward, error) {
	var out []StorageForward
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		service, raw := "blob", v
		if s, rest, ok := strings.Cut(v, "="); ok && !strings.Contains(s, "/") {
			service, raw = strings.ToLower(strings.TrimSpace(s)), strings.TrimSpace(rest)
		}
		if _, ok := StorageServices[service]; !ok {
			return nil, fmt.Errorf("--forward-storage %q: unknown service %q (blob, queue or table)", truncate(v, 100), truncate(service, 20))
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("--forward-storage %q: want the emulator's URL https://host:port (nothing after it)", truncate(v, 100))
		}
		if !strings.EqualFold(u.Scheme, "https") {
			// Bearer tokens are not sent in clear, and Azurite accepts them only over HTTPS.
			return nil, fmt.Errorf("--forward-storage %q: the emulator must be reached over https (Azurite: --cert and --key, with --oauth basic)", truncate(v, 100))
		}
		if slices.ContainsFunc(out, func(f StorageForward) bool { return f.Service == service }) {
			return nil, fmt.Errorf("--forward-storage: %s is forwarded twice", service)
		}
		out = append(out, StorageForward{Service: service, Target: &url.URL{Scheme: "https", Host: u.Host}})
	}
	return out, nil
}

// StorageTLS is the TLS configuration for reaching the emulators: the system roots (and
// SSL_CERT_FILE) plus the PEM certificates in caFile, when given. Without caFile, RootCAs is
// nil: crypto/tls loads the same system roots at the first handshake, not at start (they are
// ~0.3 MB of heap, and most proxies forward no storage).
func StorageTLS(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--forward-storage-ca-file: %w", err)
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--forward-storage-ca-file %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// storageService is the Storage service host names (lower case, no port) is a name of, when it
// is <account>.<suffix> with a valid account name; "" otherwise.
func storageService(host string) string {
	for service, suffix := range StorageServices {
		if account, ok := strings.CutSuffix(host, "."+suffix); ok && validStorageAccount(account) {
			return service
		}
	}
	return ""
}

// validStorageAccount applies Storage's account naming rule: 3 to 24 lower-case letters and
// digits. (Azurite's "-secondary" suffix is not an Azure name.)
func validStorageAccount(s string) bool {
	if len(s) < 3 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// newStorageForwarders builds one reverse proxy per forwarded service. The request keeps its
// Host (the Azure name: Azurite takes the account from it), path, query and headers,
// Authorization included; only the connection goes to the emulator.
func newStorageForwarders(forwards []StorageForward, tlsConfig *tls.Config, log *slog.Logger) map[string]http.Handler {
	if len(forwards) == 0 {
		return nil
	}
	if tlsConfig == nil {
		tlsConfig, _ = StorageTLS("")
	}
	tr := &http.Transport{
		TLSClientConfig:       tlsConfig,
		Proxy:                 nil, // the emulator is reached directly, never through HTTPS_PROXY (this proxy)
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
	}
	out := map[string]http.Handler{}
	for _, f := range forwards {
		target := f.Target
		out[f.Service] = &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.Out.URL.Scheme, r.Out.URL.Host = target.Scheme, target.Host
				r.Out.Host = r.In.Host
			},
			Transport:     tr,
			FlushInterval: -1, // stream downloads as they come
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				log.Warn("proxy: storage emulator unreachable", "host", r.Host, "emulator", target.Host, "err", err)
				storageError(w, http.StatusBadGateway, fmt.Sprintf("mint proxy: the storage emulator at %s (--forward-storage) did not answer for %s: %v", target, r.Host, err))
			},
		}
	}
	return out
}

// storageError answers in Storage's error shape (an XML <Error> with Code and Message).
func storageError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-ms-error-code", "ServerBusy")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>`)
	xml.EscapeText(w, []byte(msg))
	io.WriteString(w, `</Message></Error>`)
}
