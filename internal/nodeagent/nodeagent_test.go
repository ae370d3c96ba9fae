package nodeagent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selfSigned is a server certificate for 127.0.0.1 and example.com that is its own CA, and the
// path of its PEM.
func selfSigned(t *testing.T, name string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"example.com"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

func tlsServer(t *testing.T, cert tls.Certificate) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestServerTLSChecksTheCAFileThenTheSystemRoots: the agent's client trusts --ca-file, then the
// system roots (here SSL_CERT_FILE) loaded only when the CA file does not verify the chain; a
// chain neither signs, or a certificate for another name, is refused.
func TestServerTLSChecksTheCAFileThenTheSystemRoots(t *testing.T) {
	serverCert, serverCA := selfSigned(t, "server")
	systemCert, systemCA := selfSigned(t, "system")
	_, otherCA := selfSigned(t, "other")
	t.Setenv("SSL_CERT_FILE", systemCA) // read once per process, at the first system pool load
	server, system := tlsServer(t, serverCert), tlsServer(t, systemCert)
	port := server.Listener.Addr().(*net.TCPAddr).Port

	get := func(caFile, url string, addrs ...string) error {
		hc, err := httpClientTrusting(caFile, url, addrs)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	for _, tc := range []struct {
		name, caFile, url string
		addrs             []string
		wantErr           string
	}{
		{"the CA file signs it", serverCA, server.URL, nil, ""},
		{"the CA file signs it, by name through --server-addr", serverCA, "https://example.com:" + itoa(port), []string{server.Listener.Addr().String()}, ""},
		{"the system roots sign it", otherCA, system.URL, nil, ""},
		{"the system roots, without a CA file", "", system.URL, nil, ""},
		{"neither signs it", otherCA, server.URL, nil, "certificate signed by unknown authority"},
		{"not without the CA file", "", server.URL, nil, "certificate signed by unknown authority"},
		{"another address", serverCA, "https://127.0.0.2:" + itoa(port), []string{server.Listener.Addr().String()}, "not 127.0.0.2"},
		{"another name", serverCA, "https://wrong.example:" + itoa(port), []string{server.Listener.Addr().String()}, "not wrong.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := get(tc.caFile, tc.url, tc.addrs...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("GET %s: %v", tc.url, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("GET %s: %v, want an error with %q", tc.url, err, tc.wantErr)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
