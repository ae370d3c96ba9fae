package keys

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/cabundle"
)

func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	kek := testKEK(t, 1)
	created, err := LoadOrCreateCA(dir, kek)
	if err != nil {
		t.Fatal(err)
	}
	cert := created.Certificate()
	if cert.Subject.CommonName != "mint local CA" || !cert.IsCA || cert.MaxPathLen != 0 || !cert.MaxPathLenZero {
		t.Fatalf("CA certificate: CN %q, IsCA %v, MaxPathLen %d/%v", cert.Subject.CommonName, cert.IsCA, cert.MaxPathLen, cert.MaxPathLenZero)
	}
	if cert.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Fatalf("key usage = %v", cert.KeyUsage)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life < 9*365*24*time.Hour {
		t.Fatalf("validity %s, want about 10 years", life)
	}
	if runtime.GOOS != "windows" {
		for name, want := range map[string]os.FileMode{"ca.pem": 0o644, "ca-key.sealed": 0o600} {
			info, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode().Perm(); got&^want != 0 {
				t.Errorf("%s mode %04o, want at most %04o", name, got, want)
			}
		}
	}
	sealed, _ := os.ReadFile(filepath.Join(dir, "ca-key.sealed"))
	if bytes.Contains(sealed, []byte("PRIVATE KEY")) {
		t.Fatal("CA key stored unsealed")
	}

	loaded, err := LoadOrCreateCA(dir, kek)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Certificate().Equal(cert) || !bytes.Equal(loaded.CertPEM(), created.CertPEM()) {
		t.Fatal("loaded CA differs from the created one")
	}
	if !loaded.key.Equal(created.key) {
		t.Fatal("loaded CA key differs from the created one")
	}

	if _, err := LoadOrCreateCA(dir, testKEK(t, 2)); err == nil {
		t.Fatal("loaded the CA with the wrong KEK")
	}
}

func TestLoadOrCreateCAHalfPresent(t *testing.T) {
	kek := testKEK(t, 1)
	for _, missing := range []string{"ca.pem", "ca-key.sealed"} {
		t.Run("missing "+missing, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreateCA(dir, kek); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, missing)); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateCA(dir, kek)
			if err == nil || !strings.Contains(err.Error(), "remove both") {
				t.Fatalf("LoadOrCreateCA = %v, want an error about the missing file", err)
			}
		})
	}
}

func TestIssueServerCert(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), testKEK(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := ca.IssueServerCert(
		[]string{"localhost", "*.vault.localhost"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
		time.Hour,
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(tlsCert.Certificate) != 1 {
		t.Fatalf("chain has %d certificates, want the leaf only", len(tlsCert.Certificate))
	}
	leaf, err := x509.ParseCertificate(tlsCert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.IsCA {
		t.Fatal("leaf is a CA")
	}
	if d := time.Until(leaf.NotAfter); d > time.Hour || d < 59*time.Minute {
		t.Fatalf("leaf expires in %s, want 1h", d)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())

	tests := []struct {
		name string
		ok   bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"::1", true},
		{"a.vault.localhost", true},
		{"vault.localhost", false},
		{"a.b.vault.localhost", false},
		{"example.com", false},
		{"127.0.0.2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{
				DNSName:   tt.name,
				Roots:     roots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if (err == nil) != tt.ok {
				t.Fatalf("Verify(%s) = %v, want ok %v", tt.name, err, tt.ok)
			}
		})
	}

	// And over a real handshake, as a client that trusts only the CA would see it.
	serverConn, clientConn := net.Pipe()
	defer clientConn.Close()
	go func() {
		defer serverConn.Close()
		srv := tls.Server(serverConn, &tls.Config{Certificates: []tls.Certificate{tlsCert}})
		srv.Handshake()
	}()
	client := tls.Client(clientConn, &tls.Config{RootCAs: roots, ServerName: "a.vault.localhost"})
	if err := client.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
}

func TestIssueServerCertErrors(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), testKEK(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.IssueServerCert(nil, nil, time.Hour); err == nil {
		t.Error("issued a certificate with no names")
	}
	if _, err := ca.IssueServerCert([]string{"localhost"}, nil, 0); err == nil {
		t.Error("issued a certificate with zero ttl")
	}
	c, err := ca.IssueServerCert([]string{"localhost"}, nil, 100*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf.NotAfter.After(ca.Certificate().NotAfter) {
		t.Error("leaf outlives the CA")
	}
}

func TestWriteBundle(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(filepath.Join(dir, "ca"), testKEK(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	other, err := LoadOrCreateCA(filepath.Join(dir, "other"), testKEK(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	// An extra root without a final newline must not run into the next block.
	extra := filepath.Join(dir, "extra.pem")
	if err := os.WriteFile(extra, bytes.TrimRight(other.CertPEM(), "\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle.pem")
	if err := ca.WriteBundle(bundle, extra); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
	if len(certs) < 2 {
		t.Fatalf("bundle has %d certificates, want at least the extra root and the CA", len(certs))
	}
	if !certs[len(certs)-1].Equal(ca.Certificate()) {
		t.Error("the CA is not the last certificate of the bundle")
	}
	if !certs[len(certs)-2].Equal(other.Certificate()) {
		t.Error("the extra root is not before the CA")
	}
	for _, system := range cabundle.SystemRootFiles {
		if sys, err := os.ReadFile(system); err == nil {
			if !bytes.HasPrefix(data, sys) {
				t.Errorf("bundle does not start with %s", system)
			}
			break
		}
	}

	// Rewriting replaces the file.
	if err := ca.WriteBundle(bundle); err != nil {
		t.Fatal(err)
	}
	data2, _ := os.ReadFile(bundle)
	if bytes.Contains(data2, bytes.TrimRight(other.CertPEM(), "\n")) {
		t.Error("rewritten bundle still holds the extra root")
	}
	if err := ca.WriteBundle(bundle, filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("WriteBundle with a missing extra root file succeeded")
	}
}
