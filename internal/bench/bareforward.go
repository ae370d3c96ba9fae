package bench

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// bareForwarder is the node-proxy figure's floor of cost: the two TLS legs a node's proxy adds,
// and nothing else. It answers CONNECT, terminates TLS with a P-256 certificate for every
// <vault>.vault.azure.net (as the node's), opens a TLS connection of its own to mint, and copies
// the decrypted bytes both ways: no HTTP parsing, no per-request checks, no pool. A client
// through it pays what two more TLS legs over loopback cost; what the node's proxy costs beyond
// it is the proxy's own.
type bareForwarder struct {
	ln       net.Listener
	url      *url.URL
	pool     *x509.CertPool // trusts the forwarder's certificate
	upstream string         // mint's host:port
	tls      *tls.Config    // toward mint
	cert     tls.Certificate

	mu    sync.Mutex
	conns map[net.Conn]bool
}

// startBareForwarder forwards tunnels to mint at upstream (host:port), trusting it with roots.
func startBareForwarder(upstream, serverName string, roots *x509.CertPool) (*bareForwarder, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench forwarder"}, DNSNames: []string{"*.vault.azure.net"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &bareForwarder{ln: ln, url: &url.URL{Scheme: "http", Host: ln.Addr().String()}, pool: pool, upstream: upstream,
		tls:  &tls.Config{RootCAs: roots, ServerName: serverName},
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, conns: map[net.Conn]bool{}}
	go f.serve()
	return f, nil
}

func (f *bareForwarder) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.tunnel(c)
	}
}

func (f *bareForwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		c.Close()
		return false
	}
	f.conns[c] = true
	return true
}

func (f *bareForwarder) untrack(c net.Conn) {
	c.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.conns, c)
}

// tunnel serves one client connection: CONNECT, 200, TLS, then bytes both ways.
func (f *bareForwarder) tunnel(c net.Conn) {
	if !f.track(c) {
		return
	}
	defer f.untrack(c)
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	client := tls.Server(&bufferedConn{Conn: c, r: br}, &tls.Config{Certificates: []tls.Certificate{f.cert}, NextProtos: []string{"http/1.1"}})
	if err := client.Handshake(); err != nil {
		return
	}
	raw, err := net.Dial("tcp", f.upstream)
	if err != nil {
		return
	}
	if !f.track(raw) {
		return
	}
	defer f.untrack(raw)
	server := tls.Client(raw, f.tls)
	done := make(chan struct{})
	go func() {
		io.Copy(client, server)
		client.Close()
		close(done)
	}()
	io.Copy(server, client)
	server.Close()
	<-done
}

// close stops the forwarder and its tunnels.
func (f *bareForwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

// bufferedConn reads what the CONNECT's reader already buffered (a ClientHello sent early)
// before the connection itself.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }
