package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mint-id/mint/internal/cabundle"
)

const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca-key.sealed"

	caCommonName = "mint local CA"
	caValidity   = 10 * 365 * 24 * time.Hour

	// caKeyAD binds the sealed CA key to its role, so it cannot be swapped with another sealed
	// value.
	caKeyAD = "mint ca key"

	// Certificates start a little in the past to tolerate clocks that disagree.
	clockSkew = 5 * time.Minute
)

// CA is mint's local certificate authority. It issues the server certificates of mint's HTTPS
// endpoints (login, management, vault); workloads trust it through the bundle from WriteBundle.
// A CA is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// LoadOrCreateCA loads the CA from dir/ca.pem and dir/ca-key.sealed, creating both (and dir) if
// neither exists. The private key is stored only sealed under kek.
func LoadOrCreateCA(dir string, kek *KEK) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	sealed, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		return loadCA(certPEM, sealed, kek)
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return createCA(dir, certPath, keyPath, kek)
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("read CA certificate: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("read CA key: %w", keyErr)
	case certErr != nil:
		return nil, fmt.Errorf("CA key %s exists but certificate %s does not: restore it, or remove both to create a new CA", keyPath, certPath)
	default:
		return nil, fmt.Errorf("CA certificate %s exists but key %s does not: restore it, or remove both to create a new CA", certPath, keyPath)
	}
}

func loadCA(certPEM, sealed []byte, kek *KEK) (*CA, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("CA certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	der, err := kek.Open(sealed, []byte(caKeyAD))
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("CA key: %T, want ECDSA", parsed)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("CA key does not match the CA certificate")
	}
	return &CA{cert: cert, certPEM: pem.EncodeToMemory(block), key: key}, nil
}

func createCA(dir, certPath, keyPath string, kek *KEK) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caCommonName, Organization: []string{"mint"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal CA key: %w", err)
	}
	sealed, err := kek.Seal(pkcs8, []byte(caKeyAD))
	if err != nil {
		return nil, fmt.Errorf("seal CA key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	// The key goes first: a certificate without its key would be useless, and writeNewFile
	// refuses to replace a file another process wrote in the meantime.
	if err := writeNewFile(keyPath, sealed, 0o600); err != nil {
		return nil, fmt.Errorf("write CA key: %w", err)
	}
	if err := writeNewFile(certPath, certPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return nil, fmt.Errorf("write CA certificate: %w", err)
	}
	return &CA{cert: cert, certPEM: certPEM, key: key}, nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certificate serial number: %w", err)
	}
	return serial, nil
}

// CertPEM returns the CA certificate in PEM form. The caller must not modify it.
func (ca *CA) CertPEM() []byte { return ca.certPEM }

// Certificate returns the parsed CA certificate. The caller must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// IssueServerCert issues a TLS server certificate for the given DNS names (wildcards such as
// "*.vault.localhost" allowed) and IP addresses, valid for ttl from now (but never past the CA).
// The leaf key is fresh and exists only in the returned value. The chain holds the leaf alone:
// clients trust the CA itself.
func (ca *CA) IssueServerCert(dnsNames []string, ips []net.IP, ttl time.Duration) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate: generate key: %w", err)
	}
	leaf, err := ca.IssueServerCertForKey(&key.PublicKey, dnsNames, ips, ttl)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// IssueServerCertForKey issues a TLS server certificate for a public key whose private half
// stays with the requester (a node agent's Azure-name proxy asks for one with a CSR), for the
// given names and addresses, valid for ttl from now (but never past the CA).
func (ca *CA) IssueServerCertForKey(pub crypto.PublicKey, dnsNames []string, ips []net.IP, ttl time.Duration) (*x509.Certificate, error) {
	if len(dnsNames) == 0 && len(ips) == 0 {
		return nil, errors.New("issue server certificate: no DNS name or IP address")
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("issue server certificate: ttl %s is not positive", ttl)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	commonName := ""
	if len(dnsNames) > 0 {
		commonName = dnsNames[0]
	} else {
		commonName = ips[0].String()
	}
	now := time.Now()
	notAfter := now.Add(ttl)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	return leaf, nil
}

// WriteBundle writes a PEM bundle of the system's trusted roots (the first of the usual bundle
// files that exists, if any), the files in extraRootFiles, and the CA, for workloads that take
// one CA file (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS...). The file is replaced
// atomically and is readable by all: it holds only public certificates.
func (ca *CA) WriteBundle(path string, extraRootFiles ...string) error {
	return WriteBundle(path, ca.certPEM, extraRootFiles...)
}

// WriteBundle is CA.WriteBundle for a host that has the CA certificate (caPEM) but not its key
// (cabundle.Write).
func WriteBundle(path string, caPEM []byte, extraRootFiles ...string) error {
	return cabundle.Write(path, caPEM, extraRootFiles...)
}
