package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/proxy"
)

// A node agent's Azure-name proxy passes its workloads' TLS for Azure's names through to the
// server unread (internal/proxy, passthrough.go): the server's TLS listener then receives a
// ClientHello for login.microsoftonline.com, management.azure.com, graph.microsoft.com or
// <vault>.vault.azure.net, and answers it with a leaf for exactly that name from the
// installation's CA, the CA workloads already trust for those names. Every other server name
// (the server's own, an IP address, none) gets the serving certificate as before.

const (
	// azureNameCertLifetime is the validity of a leaf for one Azure name; it is renewed when a
	// tenth remains, so a rotation of the CA reaches the Azure names within a day.
	azureNameCertLifetime = 24 * time.Hour
	// azureNameCerts bounds the leaves kept: one per vault name in use, plus the fixed names.
	azureNameCerts = 1024
)

// serverTLSConfig presents leaf, or the Azure name's own certificate for a ClientHello that
// names one of them.
func serverTLSConfig(leaf tls.Certificate, azure *proxy.ServerNameCertificates) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{leaf},
		MinVersion:   tls.VersionTLS12,
		// nil, nil for a name that is not Azure's: crypto/tls then presents Certificates[0].
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return azure.For(hello.ServerName)
		},
	}
}

// withAzureNameHosts answers 421 Misdirected Request to a request on a connection opened for
// one of Azure's names whose Host is another name: the node's proxy checks the server name
// against the CONNECT host, but passes the requests inside unread, and the server routes by
// Host. Nothing would be reachable that way that the node cannot reach at the server's own
// name, but a connection for kv1.vault.azure.net answering as graph.microsoft.com or as the
// server is not what Azure does, nor what the terminating proxy did (421 there too).
func withAzureNameHosts(azure *proxy.ServerNameCertificates, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || r.TLS.ServerName == "" || !azure.Serves(r.TLS.ServerName) {
			next.ServeHTTP(w, r)
			return
		}
		if r.Host == "" {
			// HTTP/1.0 may send none: the connection's name is the request's, as the
			// terminating proxy took the tunnel's.
			r.Host = strings.ToLower(strings.TrimSuffix(r.TLS.ServerName, "."))
		}
		if !sameHost(r.Host, r.TLS.ServerName) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusMisdirectedRequest)
			w.Write([]byte("mint: this connection is for " + strings.ToLower(r.TLS.ServerName) + "; send requests for other hosts on a connection of their own\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameHost says whether a Host header (name, or name:port) names serverName.
func sameHost(host, serverName string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), strings.TrimSuffix(serverName, "."))
}

// newAzureNameCerts issues the Azure names' leaves with the installation's CA.
func newAzureNameCerts(ca proxy.CertIssuer) *proxy.ServerNameCertificates {
	return proxy.NewServerNameCertificates(ca, azureNameCertLifetime, azureNameCerts)
}
