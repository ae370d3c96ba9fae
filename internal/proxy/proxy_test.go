package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/keys"
)

type testCA struct {
	*keys.CA
	issued atomic.Int32
}

func (c *testCA) IssueServerCert(dnsNames []string, ips []net.IP, ttl time.Duration) (tls.Certificate, error) {
	c.issued.Add(1)
	return c.CA.IssueServerCert(dnsNames, ips, ttl)
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	dir := t.TempDir()
	kek, err := keys.GenerateKEKFile(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := keys.LoadOrCreateCA(dir, kek)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{CA: ca}
}

// echo is the stand-in for mint's handler: it reports what it saw.
type echoed struct {
	Host, Path, Query, Proto, ServerName, Method string
	Body                                         int
	URLHost                                      string
}

var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	sn := ""
	if r.TLS != nil {
		sn = r.TLS.ServerName
	}
	json.NewEncoder(w).Encode(echoed{Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Proto: r.Proto, ServerName: sn,
		Method: r.Method, Body: len(body), URLHost: r.URL.Host})
})

type fixture struct {
	p   *Proxy
	ca  *testCA
	url *url.URL
}

func startProxy(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ca := newTestCA(t)
	cfg.CA = ca
	cfg.Addr = "127.0.0.1:0"
	if cfg.Handler == nil {
		cfg.Handler = echo
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	u, _ := url.Parse(p.URL())
	return &fixture{p: p, ca: ca, url: u}
}

// client is an ordinary Go client that uses the proxy and trusts mint's CA only.
func (f *fixture) client(h2 bool) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Certificate())
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:             http.ProxyURL(f.url),
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: h2,
	}}
}

func TestTunnelsServeAzureNamesWithMintsHandler(t *testing.T) {
	f := startProxy(t, Config{})
	for _, h2 := range []bool{false, true} {
		c := f.client(h2)
		for _, host := range []string{"login.microsoftonline.com", "management.azure.com", "kv1.vault.azure.net", "graph.microsoft.com", "sts.windows.net"} {
			resp, err := c.Post("https://"+host+"/some/path?api-version=1", "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatalf("h2=%v %s: %v", h2, host, err)
			}
			var got echoed
			json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			wantProto := "HTTP/1.1"
			if h2 {
				wantProto = "HTTP/2.0"
			}
			want := echoed{Host: host, Path: "/some/path", Query: "api-version=1", Proto: wantProto, ServerName: host, Method: "POST", Body: 5}
			if got != want {
				t.Errorf("h2=%v %s: handler saw %+v, want %+v", h2, host, got, want)
			}
			leaf := resp.TLS.PeerCertificates[0]
			if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != host || len(leaf.IPAddresses) != 0 {
				t.Errorf("%s: certificate names %v %v, want exactly %s", host, leaf.DNSNames, leaf.IPAddresses, host)
			}
			if leaf.PublicKeyAlgorithm != x509.ECDSA {
				t.Errorf("%s: leaf key %v, want ECDSA", host, leaf.PublicKeyAlgorithm)
			}
			if life := leaf.NotAfter.Sub(time.Now()); life > 25*time.Hour {
				t.Errorf("%s: certificate valid for %s, want a short life", host, life)
			}
		}
	}
	// One certificate per name, reused across tunnels and protocols.
	if n := f.ca.issued.Load(); n != 5 {
		t.Errorf("%d certificates issued for 5 names", n)
	}
}

// rawConnect sends a CONNECT request on a new connection and returns the response and the
// connection (open after a 200).
func rawConnect(t *testing.T, proxyAddr, target string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	return resp, conn, br
}

func TestConnectElsewhereIsRefusedWithoutAnyConnection(t *testing.T) {
	// A listener that must never see a connection, named every way a client could.
	bait, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bait.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := bait.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, baitPort, _ := net.SplitHostPort(bait.Addr().String())
	f := startProxy(t, Config{})
	for target, status := range map[string]int{
		"example.com:443":                          403,
		"127.0.0.1:" + baitPort:                    403,
		"localhost:" + baitPort:                    403,
		"[::1]:" + baitPort:                        403,
		"login.microsoftonline.com:" + baitPort:    403,
		"kv1.vault.azure.net.example.com:443":      403,
		"169.254.169.254:80":                       403,
		"login.microsoftonline.com":                400,
		"http://login.microsoftonline.com:443/":    400,
		"management.azure.com:443\r\nX-Evil: 1":    400,
		strings.Repeat("a", 300) + ".com:443":      400,
		"kv1.vault.azure.net:443/../../etc/passwd": 400,
	} {
		resp, conn, _ := rawConnect(t, f.p.Addr(), target)
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != status {
			t.Errorf("CONNECT %q: %d %s, want %d", target, resp.StatusCode, body, status)
			continue
		}
		if status == 403 {
			host, _, _ := net.SplitHostPort(target)
			if !strings.Contains(string(body), host) || !strings.Contains(string(body), "never forwards") {
				t.Errorf("CONNECT %q: refusal %q should name the host and say mint never forwards", target, body)
			}
			if ps := resp.Header.Get("Proxy-Status"); ps != "mint; error=http_request_denied" {
				t.Errorf("CONNECT %q: Proxy-Status %q", target, ps)
			}
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the proxy opened %d connections to the bait listener", n)
	}
}

func TestGoClientThroughProxyGetsTheRefusal(t *testing.T) {
	f := startProxy(t, Config{})
	_, err := f.client(false).Get("https://example.com/")
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("GET https://example.com through the proxy: %v, want a 403 from the proxy", err)
	}
}

func TestPlainHTTPIsRefusedExceptIMDS(t *testing.T) {
	var imdsSaw atomic.Value
	imds := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		imdsSaw.Store(r.URL.Host + " " + r.URL.Path + "?" + r.URL.RawQuery + " metadata=" + r.Header.Get("Metadata"))
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_request"}`)
	})
	f := startProxy(t, Config{IMDS: imds})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(f.url)}}

	req, _ := http.NewRequest("GET", "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x", nil)
	req.Header.Set("Metadata", "true")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || imdsSaw.Load() != "169.254.169.254 /metadata/identity/oauth2/token?api-version=2018-02-01&resource=x metadata=true" {
		t.Errorf("IMDS request: %d, handler saw %v", resp.StatusCode, imdsSaw.Load())
	}

	for _, u := range []string{"http://example.com/", "http://management.azure.com/subscriptions", "http://169.254.169.254:8080/metadata/identity/oauth2/token", "http://127.0.0.2/"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		host := strings.Split(strings.TrimPrefix(u, "http://"), "/")[0]
		if resp.StatusCode != 403 || !strings.Contains(string(body), host) || !strings.Contains(string(body), "never forwards") {
			t.Errorf("GET %s: %d %s", u, resp.StatusCode, body)
		}
		if strings.Contains(u, "management") && !strings.Contains(string(body), "https only") {
			t.Errorf("GET %s: %s should say the name is served over https", u, body)
		}
	}

	// Not a proxy request at all.
	resp, err = http.Get(f.p.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "HTTPS_PROXY") {
		t.Errorf("GET / on the proxy: %d %s", resp.StatusCode, body)
	}
}

func TestIMDSWithoutAgentIsUnreachable(t *testing.T) {
	f := startProxy(t, Config{})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(f.url)}}
	resp, err := c.Get("http://169.254.169.254/metadata/identity/oauth2/token")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// 403 + "unreachable" is what credential chains read as "no IMDS here".
	if resp.StatusCode != 403 || !strings.Contains(string(body), "unreachable") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

func TestTLSServerNameMustMatchTheConnectHost(t *testing.T) {
	f := startProxy(t, Config{})
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Certificate())
	for _, sni := range []string{"management.azure.com", "kv2.vault.azure.net", "example.com"} {
		resp, conn, _ := rawConnect(t, f.p.Addr(), "kv1.vault.azure.net:443")
		if resp.StatusCode != 200 {
			t.Fatalf("CONNECT: %d", resp.StatusCode)
		}
		tc := tls.Client(conn, &tls.Config{ServerName: sni, RootCAs: pool})
		if err := tc.Handshake(); err == nil {
			t.Errorf("handshake with SNI %s in a tunnel to kv1.vault.azure.net succeeded", sni)
		}
		conn.Close()
	}
	// Without SNI, the tunnel's own name is presented.
	resp, conn, _ := rawConnect(t, f.p.Addr(), "kv1.vault.azure.net:443")
	defer conn.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if names := tc.ConnectionState().PeerCertificates[0].DNSNames; len(names) != 1 || names[0] != "kv1.vault.azure.net" {
		t.Errorf("certificate for %v", names)
	}
}

// A client that opens a second tunnel to a name resumes its TLS session instead of a full
// handshake (TLS 1.3 session tickets), as it would with Azure.
func TestNewTunnelsResumeTLSSessions(t *testing.T) {
	f := startProxy(t, Config{})
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Certificate())
	cache := tls.NewLRUClientSessionCache(4)
	for i, wantResumed := range []bool{false, true} {
		resp, conn, _ := rawConnect(t, f.p.Addr(), "kv1.vault.azure.net:443")
		if resp.StatusCode != 200 {
			t.Fatalf("CONNECT: %d", resp.StatusCode)
		}
		tc := tls.Client(conn, &tls.Config{ServerName: "kv1.vault.azure.net", RootCAs: pool, ClientSessionCache: cache, NextProtos: []string{"http/1.1"}})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		// TLS 1.3 tickets arrive after the handshake: a request and its answer bring them.
		io.WriteString(tc, "GET / HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(tc), nil); err != nil {
			t.Fatal(err)
		}
		if got := tc.ConnectionState().DidResume; got != wantResumed {
			t.Errorf("tunnel %d: resumed %v, want %v", i+1, got, wantResumed)
		}
		tc.Close()
	}
}

func TestHostHeaderMustMatchTheTunnel(t *testing.T) {
	f := startProxy(t, Config{})
	c := f.client(false)
	req, _ := http.NewRequest("GET", "https://kv1.vault.azure.net/secrets/x", nil)
	req.Host = "kv2.vault.azure.net"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host kv2 in a tunnel to kv1: %d, want 421", resp.StatusCode)
	}
}

func TestBodyIsBounded(t *testing.T) {
	f := startProxy(t, Config{MaxBodyBytes: 1024})
	resp, err := f.client(false).Post("https://management.azure.com/x", "application/json", bytes.NewReader(make([]byte, 2048)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 KiB body with a 1 KiB limit: %d", resp.StatusCode)
	}
}

func TestTunnelsAreBounded(t *testing.T) {
	f := startProxy(t, Config{MaxTunnels: 1})
	resp, first, _ := rawConnect(t, f.p.Addr(), "login.microsoftonline.com:443")
	if resp.StatusCode != 200 {
		t.Fatalf("first tunnel: %d", resp.StatusCode)
	}
	resp, conn, _ := rawConnect(t, f.p.Addr(), "login.microsoftonline.com:443")
	conn.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second tunnel with MaxTunnels 1: %d, want 503", resp.StatusCode)
	}
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, conn, _ := rawConnect(t, f.p.Addr(), "login.microsoftonline.com:443")
		conn.Close()
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("closing the first tunnel did not free its slot: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIdleTunnelIsClosed(t *testing.T) {
	f := startProxy(t, Config{HeaderTimeout: 200 * time.Millisecond})
	resp, conn, _ := rawConnect(t, f.p.Addr(), "login.microsoftonline.com:443")
	defer conn.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	// No ClientHello: the handshake times out and the tunnel is closed.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := conn.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("silent tunnel still open after 5 s: %v", err)
	}
}

// earlyConn sends the CONNECT request together with the first TLS record, as clients that do
// not wait for the proxy's answer do, and strips the proxy's 200 before TLS reads.
type earlyConn struct {
	net.Conn
	connect  string
	sent     bool
	br       *bufio.Reader
	answered bool
}

func (c *earlyConn) Write(b []byte) (int, error) {
	if !c.sent {
		c.sent = true
		if _, err := c.Conn.Write(append([]byte(c.connect), b...)); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *earlyConn) Read(b []byte) (int, error) {
	if !c.answered {
		c.answered = true
		resp, err := http.ReadResponse(c.br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("CONNECT: %s", resp.Status)
		}
	}
	return c.br.Read(b)
}

func TestClientHelloSentBeforeTheProxyAnswers(t *testing.T) {
	f := startProxy(t, Config{})
	raw, err := net.Dial("tcp", f.p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	ec := &earlyConn{Conn: raw, connect: "CONNECT management.azure.com:443 HTTP/1.1\r\nHost: management.azure.com:443\r\n\r\n", br: bufio.NewReader(raw)}
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Certificate())
	tc := tls.Client(ec, &tls.Config{ServerName: "management.azure.com", RootCAs: pool})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tc, "GET /subscriptions HTTP/1.1\r\nHost: management.azure.com\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got echoed
	json.NewDecoder(resp.Body).Decode(&got)
	if got.Host != "management.azure.com" || got.Path != "/subscriptions" {
		t.Errorf("handler saw %+v", got)
	}
}

func TestCertificatesAreRenewedAndTheCacheBounded(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	c := newCertCache(ca, time.Hour, 2, func() time.Time { return now })
	a1, _ := c.get("a.example")
	a2, _ := c.get("a.example")
	if a1 != a2 || ca.issued.Load() != 1 {
		t.Fatalf("second get issued again")
	}
	now = now.Add(55 * time.Minute) // past renewAt (last tenth of the life)
	a3, _ := c.get("a.example")
	if a3 == a1 {
		t.Errorf("certificate not renewed near its expiry")
	}
	c.get("b.example")
	c.get("c.example")
	if n := c.len(); n != 2 {
		t.Errorf("cache holds %d certificates, bound is 2", n)
	}
}

func TestListenAddressMustBeLoopback(t *testing.T) {
	ca := newTestCA(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		if p, err := New(Config{Addr: addr, CA: ca, Handler: echo}); err == nil {
			p.ln.Close()
			t.Errorf("New(%s) succeeded", addr)
		}
	}
	p, err := New(Config{Addr: "[::1]:0", CA: ca, Handler: echo})
	if err == nil {
		p.ln.Close()
	}
}

func TestServeStopsWithItsContext(t *testing.T) {
	ca := newTestCA(t)
	p, err := New(Config{Addr: "127.0.0.1:0", CA: ca, Handler: echo})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	// An open (idle, kept-alive) tunnel does not keep the proxy alive.
	u, _ := url.Parse(p.URL())
	f := &fixture{p: p, ca: ca, url: u}
	resp, err := f.client(false).Get("https://login.microsoftonline.com/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return within 3 s")
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("still listening after Serve returned")
	}
}

func TestLocalVaultSuffixKeepsItsPortInHost(t *testing.T) {
	// A vaultUri such as https://kv1.vault.localhost:8443 is proxied too (Go proxies every name but
	// localhost itself); the Host keeps the port, which the vault's challenge must name.
	f := startProxy(t, Config{Vaults: append([]VaultHosts{{Suffix: "vault.localhost", Ports: []string{"8443"}}}, DefaultVaults...)})
	c := f.client(false)
	for url, wantHost := range map[string]string{
		"https://kv1.vault.localhost:8443/secrets/x": "kv1.vault.localhost:8443",
		"https://kv1.vault.azure.net/secrets/x":      "kv1.vault.azure.net",
	} {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		var got echoed
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got.Host != wantHost || got.ServerName != strings.Split(wantHost, ":")[0] {
			t.Errorf("%s: handler saw Host %q, SNI %q; want %q", url, got.Host, got.ServerName, wantHost)
		}
	}
	if _, err := c.Get("https://kv1.vault.localhost:9443/"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("kv1.vault.localhost:9443: %v, want the proxy's 403", err)
	}
}
