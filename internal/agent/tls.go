package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" // #nosec G505 -- Service Fabric publishes SHA-1 certificate thumbprints (IDENTITY_SERVER_THUMBPRINT).
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// NewServiceFabricCertificate makes a new certificate for the Service Fabric listener (see
// selfSignedServiceFabricCert). Keep it (LoadOrCreateServiceFabricCertificate, or sealed by the
// caller) so that its thumbprint, which clients pin, and the file Node trusts outlive a restart.
func NewServiceFabricCertificate(now time.Time) (tls.Certificate, error) {
	return selfSignedServiceFabricCert(now)
}

// serviceFabricCertRenewBefore: a kept certificate this close to its expiry is replaced.
const serviceFabricCertRenewBefore = 30 * 24 * time.Hour

// UsableServiceFabricCertificate reports whether a kept certificate may still be served at now.
func UsableServiceFabricCertificate(leaf *x509.Certificate, now time.Time) bool {
	return leaf != nil && now.After(leaf.NotBefore) && now.Add(serviceFabricCertRenewBefore).Before(leaf.NotAfter)
}

// LoadOrCreateServiceFabricCertificate reads the Service Fabric listener's certificate and key
// from certFile and keyFile (PEM), or, when they are missing, unreadable or close to expiry,
// makes a new one and writes them: the certificate 0644 (a workload's runtime may be given it to
// trust), the key 0600, as the node's own key is kept.
func LoadOrCreateServiceFabricCertificate(certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	if cert, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && len(cert.Certificate) > 0 {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && UsableServiceFabricCertificate(leaf, now) {
			cert.Leaf = leaf
			return cert, nil
		}
	}
	cert, err := selfSignedServiceFabricCert(now)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("service fabric certificate: %w", err)
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("service fabric certificate: %w", err)
	}
	if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("service fabric certificate: %w", err)
	}
	return cert, nil
}

// writeFileAtomic writes data to path through a temporary file in the same directory and a
// rename, so a crash never leaves half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// selfSignedServiceFabricCert makes the Service Fabric listener's certificate. Go's MSAL pins the
// SHA-1 thumbprint of the leaf and ignores the chain and host name; Node verifies it normally, so
// it is a self-signed leaf for 127.0.0.1, ::1 and localhost that NODE_EXTRA_CA_CERTS can trust.
func selfSignedServiceFabricCert(now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mint agent Service Fabric identity endpoint"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // a self-signed trust anchor for Node's NODE_EXTRA_CA_CERTS
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("service fabric certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Thumbprint is the SHA-1 of a certificate's DER in upper-case hex, as IDENTITY_SERVER_THUMBPRINT carries it.
func Thumbprint(der []byte) string {
	sum := sha1.Sum(der) // #nosec G401 -- see the import.
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}
