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
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

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
