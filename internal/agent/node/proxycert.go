package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/proxy"
)

// ProxyCertificates is the certificate of the node's Azure-name proxy: a P-256 key made here and
// kept only in memory, certified by the installation's CA through the server
// (proxy.NodeCertificatePath) for Azure's names. The CA's key never leaves the server. It
// implements proxy.CertIssuer: every name the proxy serves is covered by the one certificate.
type ProxyCertificates struct {
	up  *Upstream
	log *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	ca      *x509.Certificate
	renewAt time.Time
}

var _ proxy.CertIssuer = (*ProxyCertificates)(nil)

// NewProxyCertificates returns the proxy certificates of the node behind up; Renew gets the first.
func NewProxyCertificates(up *Upstream, logger *slog.Logger) *ProxyCertificates {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ProxyCertificates{up: up, log: logger}
}

// Renew asks the server for a certificate for a new key and makes it the current one.
func (p *ProxyCertificates) Renew(ctx context.Context) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "mint node " + p.up.id.Name + " proxy"}}, key)
	if err != nil {
		return err
	}
	leaf, ca, err := p.up.proxyCertificate(ctx, csr)
	if err != nil {
		return err
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return errors.New("the server certified another key than this node's proxy key")
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("the proxy certificate is not signed by the CA the server named: %w", err)
	}
	cert := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	p.mu.Lock()
	p.cert, p.ca, p.renewAt = cert, ca, leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore)/2)
	p.mu.Unlock()
	p.log.Info("proxy certificate renewed", "names", leaf.DNSNames, "expires", leaf.NotAfter)
	return nil
}

// CA is the certificate of the CA that issued the current proxy certificate (nil before the
// first Renew): the workloads behind the proxy must trust it.
func (p *ProxyCertificates) CA() *x509.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ca
}

// Run renews the certificate at half its life until ctx ends, retrying every minute while the
// server cannot be reached.
func (p *ProxyCertificates) Run(ctx context.Context) {
	for {
		p.mu.Lock()
		wait := time.Until(p.renewAt)
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := p.Renew(rctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			p.log.Warn("proxy certificate not renewed; retrying in a minute", "err", err)
			p.mu.Lock()
			p.renewAt = time.Now().Add(time.Minute)
			p.mu.Unlock()
		}
	}
}

// IssueServerCert implements proxy.CertIssuer: the current certificate, when it covers every name.
func (p *ProxyCertificates) IssueServerCert(dnsNames []string, ips []net.IP, _ time.Duration) (tls.Certificate, error) {
	p.mu.Lock()
	cert := p.cert
	p.mu.Unlock()
	if cert == nil {
		return tls.Certificate{}, errors.New("no proxy certificate yet")
	}
	if len(ips) > 0 {
		return tls.Certificate{}, errors.New("a node's proxy certificate covers no IP address")
	}
	for _, name := range dnsNames {
		if err := cert.Leaf.VerifyHostname(name); err != nil {
			return tls.Certificate{}, fmt.Errorf("the node's proxy certificate does not cover %s", name)
		}
	}
	return *cert, nil
}

// proxyCertificate asks the server, signed in as the node, to certify the key of csr.
func (u *Upstream) proxyCertificate(ctx context.Context, csr []byte) (leaf, ca *x509.Certificate, err error) {
	bearer, err := u.managementToken(ctx)
	if err != nil {
		return nil, nil, err
	}
	body, _ := json.Marshal(proxy.NodeCertificateRequest{CSR: base64.StdEncoding.EncodeToString(csr)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.id.ServerURL+proxy.NodeCertificatePath, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := u.hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("mint server unreachable: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return nil, nil, fmt.Errorf("the mint server refused this node's proxy certificate: %s: %s", e.Error.Code, e.Error.Message)
		}
		return nil, nil, fmt.Errorf("the mint server refused this node's proxy certificate: HTTP %d", resp.StatusCode)
	}
	var r proxy.NodeCertificateResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, nil, fmt.Errorf("malformed proxy certificate response: %w", err)
	}
	der, err1 := base64.StdEncoding.DecodeString(r.Certificate)
	caDER, err2 := base64.StdEncoding.DecodeString(r.CA)
	if err = errors.Join(err1, err2); err == nil {
		if leaf, err = x509.ParseCertificate(der); err == nil {
			ca, err = x509.ParseCertificate(caDER)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("malformed proxy certificate response: %w", err)
	}
	return leaf, ca, nil
}
