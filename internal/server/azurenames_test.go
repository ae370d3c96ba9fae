package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

// The server's TLS listener answers a ClientHello for one of Azure's names (what a node's proxy
// passes through) with a leaf for exactly that name from the installation's CA, over h2 or
// HTTP/1.1, and every other name (or none) with its own serving certificate; a request on such
// a connection for another Host is misdirected.
func TestServerPicksItsCertificateByServerName(t *testing.T) {
	s, _ := newDevServer(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	roots := x509.NewCertPool()
	roots.AddCert(s.CA.Certificate())

	handshake := func(serverName string, alpn ...string) tls.ConnectionState {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr(), &tls.Config{ServerName: serverName, RootCAs: roots, NextProtos: alpn,
			InsecureSkipVerify: serverName == ""}) // no server name: nothing to verify against
		if err != nil {
			t.Fatalf("handshake for %q: %v", serverName, err)
		}
		defer c.Close()
		return c.ConnectionState()
	}
	for _, name := range []string{"login.microsoftonline.com", "sts.windows.net", "management.azure.com", "graph.microsoft.com", "kv1.vault.azure.net", "KV2.Vault.Azure.Net"} {
		st := handshake(name, "h2", "http/1.1")
		leaf := st.PeerCertificates[0]
		if want := []string{normalize(name)}; !slices.Equal(leaf.DNSNames, want) || len(leaf.IPAddresses) != 0 {
			t.Errorf("%s: leaf for %v %v, want exactly %v", name, leaf.DNSNames, leaf.IPAddresses, want)
		}
		if st.NegotiatedProtocol != "h2" {
			t.Errorf("%s: ALPN %q, want h2", name, st.NegotiatedProtocol)
		}
	}
	for _, name := range []string{"localhost", "", "example.com.vault.azure.net.evil", "a.b.vault.azure.net", "login.microsoftonline.com.evil"} {
		c, err := tls.Dial("tcp", s.Addr(), &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("handshake for %q: %v", name, err)
		}
		leaf := c.ConnectionState().PeerCertificates[0]
		c.Close()
		if !slices.Contains(leaf.DNSNames, "localhost") {
			t.Errorf("server name %q: leaf for %v, want the server's own certificate", name, leaf.DNSNames)
		}
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, s.Addr())
		},
	}}
	get := func(url, host string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s (Host %s): %v", url, host, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("https://graph.microsoft.com/healthz", ""); code != http.StatusOK {
		t.Errorf("GET /healthz as graph.microsoft.com: %d", code)
	}
	for _, host := range []string{"localhost", "graph.microsoft.com", "kv2.vault.azure.net"} {
		if code := get("https://kv1.vault.azure.net/healthz", host); code != http.StatusMisdirectedRequest {
			t.Errorf("Host %s on a connection for kv1.vault.azure.net: %d, want 421", host, code)
		}
	}
	if code := get("https://kv1.vault.azure.net:443/healthz", "kv1.vault.azure.net:443"); code == http.StatusMisdirectedRequest {
		t.Errorf("the vault's own Host with its port was misdirected")
	}
	// HTTP/1.0 without a Host: the connection's name is the request's.
	c, err := tls.Dial("tcp", s.Addr(), &tls.Config{ServerName: "kv1.vault.azure.net", RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusMisdirectedRequest || resp.StatusCode == http.StatusOK {
		t.Errorf("HTTP/1.0 without Host on a connection for kv1.vault.azure.net: %d, want the vault's answer", resp.StatusCode)
	}
}

func normalize(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
