package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/connlimit"
)

// countingDialer is a Passthrough that dials addr and counts its dials.
func countingDialer(addr string, dials *atomic.Int32) PassthroughDialer {
	return func(ctx context.Context) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
}

// startNameServer is the stand-in for mint's server: the echo handler behind TLS that picks
// its certificate by server name with ServerNameCertificates, h2 and HTTP/1.1.
func startNameServer(t *testing.T, ca CertIssuer) *httptest.Server {
	t.Helper()
	names := NewServerNameCertificates(ca, time.Hour, 16)
	srv := httptest.NewUnstartedServer(echo)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}, GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return names.For(hello.ServerName)
	}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestPassthroughEndsTheClientsTLSAtTheServer(t *testing.T) {
	ca := newTestCA(t)
	srv := startNameServer(t, ca)
	var dials atomic.Int32
	f := startProxy(t, Config{Passthrough: countingDialer(srv.Listener.Addr().String(), &dials)})
	f.ca = ca // the client trusts the CA the server issues with
	for _, h2 := range []bool{false, true} {
		c := f.client(h2)
		for _, host := range []string{"login.microsoftonline.com", "management.azure.com", "kv1.vault.azure.net", "graph.microsoft.com"} {
			resp, err := c.Post("https://"+host+"/some/path?api-version=1", "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatalf("h2=%v %s: %v", h2, host, err)
			}
			var got echoed
			json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			want := echoed{Host: host, Path: "/some/path", Query: "api-version=1", Proto: "HTTP/1.1", ServerName: host, Method: "POST", Body: 5}
			if h2 {
				want.Proto = "HTTP/2.0"
			}
			if got != want {
				t.Errorf("h2=%v %s: the server saw %+v, want %+v", h2, host, got, want)
			}
			if leaf := resp.TLS.PeerCertificates[0]; len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != host {
				t.Errorf("%s: the server presented %v, want exactly %s", host, leaf.DNSNames, host)
			}
		}
		c.CloseIdleConnections()
	}
	if n := dials.Load(); n != 8 {
		t.Errorf("%d connections to the server for 8 tunnels", n)
	}
	if n := f.p.certs.len(); n != 0 {
		t.Errorf("the proxy issued %d certificates of its own; passthrough needs none", n)
	}
	// Names it does not serve are still refused before anything is dialled.
	for _, target := range []string{"example.com:443", "kv1.vault.azure.net:8443", "kv1.blob.core.windows.net:443"} {
		resp, conn, _ := rawConnect(t, f.p.Addr(), target)
		conn.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("CONNECT %s: %d, want 403", target, resp.StatusCode)
		}
	}
	if n := dials.Load(); n != 8 {
		t.Errorf("refused CONNECTs dialled the server (%d dials)", n)
	}
	// The server's own name (or none) still gets its own certificate.
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, ServerName: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if leaf := conn.ConnectionState().PeerCertificates[0]; leaf.CheckSignatureFrom(ca.Certificate()) == nil {
		t.Errorf("for another name the server presented a leaf of the CA's for %v, want httptest's own certificate", leaf.DNSNames)
	}
	conn.Close()
}

// clientHello is the first flight of a TLS client asking for serverName: its ClientHello.
func clientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	go tls.Client(a, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16<<10)
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	return buf[:n]
}

// rawUpstream accepts connections and hands them to the test.
func rawUpstream(t *testing.T) (net.Listener, chan net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	return ln, conns
}

func TestPassthroughCopiesBytesBothWaysAndPropagatesClose(t *testing.T) {
	ln, conns := rawUpstream(t)
	var dials atomic.Int32
	f := startProxy(t, Config{Passthrough: countingDialer(ln.Addr().String(), &dials)})
	resp, conn, br := rawConnect(t, f.p.Addr(), "kv1.vault.azure.net:443")
	defer conn.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	hello := clientHello(t, "KV1.vault.azure.net.")
	conn.Write(append(append([]byte(nil), hello...), "ping"...))
	up := <-conns
	defer up.Close()
	up.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(hello)+4)
	if _, err := io.ReadFull(up, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(hello)], hello) || string(got[len(hello):]) != "ping" {
		t.Fatalf("the server received other bytes than the client sent")
	}
	up.Write([]byte("pong"))
	pong := make([]byte, 4)
	if _, err := io.ReadFull(br, pong); err != nil || string(pong) != "pong" {
		t.Fatalf("client read %q, %v", pong, err)
	}
	// The client ends its stream: the server sees the end, and can still answer.
	conn.(*net.TCPConn).CloseWrite()
	if n, err := up.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("the server read %d, %v after the client's close, want EOF", n, err)
	}
	up.Write([]byte("bye"))
	up.Close()
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "bye" {
		t.Fatalf("client read %q, %v after the server's close, want bye and EOF", rest, err)
	}
	waitFor(t, func() bool { return len(f.p.slots) == 0 }, "the tunnel's slot freed")
}

func TestPassthroughRefusesAServerNameThatIsNotTheConnectHost(t *testing.T) {
	ln, conns := rawUpstream(t)
	var dials atomic.Int32
	f := startProxy(t, Config{Passthrough: countingDialer(ln.Addr().String(), &dials)})
	_, conn, br := rawConnect(t, f.p.Addr(), "kv1.vault.azure.net:443")
	defer conn.Close()
	tc := tls.Client(&bufConn{Conn: conn, r: br}, &tls.Config{ServerName: "graph.microsoft.com", InsecureSkipVerify: true})
	err := tc.Handshake()
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("handshake for another name: %v, want the proxy's alert", err)
	}
	up := <-conns // dialled before the 200; closed without a byte of the client's
	up.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := up.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("the server read %d bytes (%v); want none", n, err)
	}
	up.Close()
	waitFor(t, func() bool { return len(f.p.slots) == 0 }, "the tunnel's slot freed")
}

func TestPassthroughTerminatesAClientWithoutServerName(t *testing.T) {
	ln, conns := rawUpstream(t)
	var dials atomic.Int32
	f := startProxy(t, Config{Passthrough: countingDialer(ln.Addr().String(), &dials)})
	_, conn, br := rawConnect(t, f.p.Addr(), "kv1.vault.azure.net:443")
	defer conn.Close()
	tc := tls.Client(&bufConn{Conn: conn, r: br}, &tls.Config{InsecureSkipVerify: true}) // no ServerName: no SNI
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if names := tc.ConnectionState().PeerCertificates[0].DNSNames; len(names) != 1 || names[0] != "kv1.vault.azure.net" {
		t.Fatalf("the proxy presented %v", names)
	}
	io.WriteString(tc, "GET /x HTTP/1.1\r\nHost: kv1.vault.azure.net\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got echoed
	json.NewDecoder(resp.Body).Decode(&got)
	if got.Host != "kv1.vault.azure.net" || got.Path != "/x" {
		t.Errorf("the proxy's handler saw %+v", got)
	}
	up := <-conns
	up.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := up.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("the server read %d bytes (%v); want none", n, err)
	}
	up.Close()
}

func TestPassthroughAnswers502WhenTheServerIsAway(t *testing.T) {
	ln, _ := rawUpstream(t)
	addr := ln.Addr().String()
	ln.Close()
	var dials atomic.Int32
	f := startProxy(t, Config{Passthrough: countingDialer(addr, &dials)})
	resp, conn, _ := rawConnect(t, f.p.Addr(), "kv1.vault.azure.net:443")
	conn.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(resp.Header.Get("Proxy-Status"), "proxy_internal_response") {
		t.Fatalf("CONNECT with the server away: %d %v", resp.StatusCode, resp.Header)
	}
	if len(f.p.slots) != 0 {
		t.Errorf("the refused tunnel kept its slot")
	}
}

type bufConn struct {
	net.Conn
	r io.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A tunnel's connection, as the proxy's listener accepts it (counted by connlimit), unwraps to
// the *net.TCPConn io.Copy splices with.
func TestRawConnReachesTheTCPConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wrapped := connlimit.Wrap(ln, connlimit.Limits{Total: 4}, nil)
	defer wrapped.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	c, err := wrapped.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := &tunnelConn{pendingConn: pendingConn{Conn: c}, release: func() {}}
	if _, ok := rawConn(tc).(*net.TCPConn); !ok {
		t.Fatalf("rawConn gave a %T", rawConn(tc))
	}
	tc.pending = []byte("x") // bytes still to replay: the wrapper must be used
	if rawConn(tc) != net.Conn(tc) {
		t.Fatalf("rawConn skipped pending bytes")
	}
}

// FuzzReadServerName feeds random bytes as a tunnel's first flight: reading the server name
// never panics; what it accepts names the CONNECT host (or none), and the bytes it returns to be
// sent on are exactly the ones read, from the start.
func FuzzReadServerName(f *testing.F) {
	const host = "kv1.vault.azure.net"
	for _, name := range []string{host, "KV1.vault.azure.net.", "graph.microsoft.com", ""} {
		f.Add(clientHello(f, name))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: kv1.vault.azure.net\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newPipeConn(in)
		var serverName string
		var hello []byte
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			serverName, hello, err = readServerName(c, host)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("reading the server name of %d bytes did not end", len(in))
		}
		if err != nil {
			if hello != nil {
				t.Fatalf("an error (%v) with bytes to send on", err)
			}
			return
		}
		if serverName != "" && normalizeHost(serverName) != host {
			t.Fatalf("accepted server name %q for %s", serverName, host)
		}
		if !bytes.HasPrefix(in, hello) || len(hello) == 0 {
			t.Fatalf("the hello to send on (%d bytes) is not what was read", len(hello))
		}
		if c.out.Len() != 0 {
			t.Fatalf("wrote %d bytes to a client whose hello was accepted", c.out.Len())
		}
	})
}
