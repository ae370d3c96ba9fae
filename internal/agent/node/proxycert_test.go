package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/proxy"
)

// The node's one proxy certificate serves every name the proxy answers for, and nothing else.
func TestProxyCertificateCoversAzureNamesOnly(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "proxy"}, DNSNames: proxy.NodeCertificateNames,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	p := NewProxyCertificates(nil, nil)
	if _, err := p.IssueServerCert([]string{"login.microsoftonline.com"}, nil, time.Hour); err == nil {
		t.Fatal("a certificate before the first renewal")
	}
	p.cert = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	for _, name := range []string{"login.microsoftonline.com", "management.azure.com", "graph.microsoft.com", "kv1.vault.azure.net"} {
		if _, err := p.IssueServerCert([]string{name}, nil, time.Hour); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"example.com", "kv1.vault.localhost", "a.b.vault.azure.net", "vault.azure.net"} {
		if _, err := p.IssueServerCert([]string{name}, nil, time.Hour); err == nil {
			t.Errorf("%s: served with the node's proxy certificate", name)
		}
	}
	if _, err := p.IssueServerCert(nil, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour); err == nil {
		t.Error("an IP address served with the node's proxy certificate")
	}
}
