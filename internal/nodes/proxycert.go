package nodes

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/proxy"
	"github.com/mint-id/mint/internal/rbac"
)

// ProxyCertIssuer signs a node's proxy certificate; *keys.CA is one. The CA's private key never
// leaves the server: the node sends a certificate request for a key it keeps.
type ProxyCertIssuer interface {
	IssueServerCertForKey(pub crypto.PublicKey, dnsNames []string, ips []net.IP, ttl time.Duration) (*x509.Certificate, error)
	Certificate() *x509.Certificate
}

// WithProxyCertificates lets nodes obtain their Azure-name proxy's certificate from ca.
func (h *Handler) WithProxyCertificates(ca ProxyCertIssuer) *Handler {
	h.proxyCA = ca
	return h
}

// proxyCertificate issues a node's proxy certificate. The caller signs in as the node (a bearer
// token for the management endpoint, as for workload tokens) and must be a node: a principal
// that holds the broker data action somewhere. The names are fixed here, whatever the request
// asks for.
func (h *Handler) proxyCertificate(w http.ResponseWriter, r *http.Request) {
	if h.proxyCA == nil {
		writeError(w, &InputError{http.StatusNotFound, "NotFound", "this server issues no proxy certificates"})
		return
	}
	claims, ok := h.node(w, r, "obtain no Azure-name proxy certificate")
	if !ok {
		return
	}
	var req proxy.NodeCertificateRequest
	if !decode(w, r, &req) {
		return
	}
	csr, err := parseCSR(req.CSR)
	if err != nil {
		writeError(w, &InputError{http.StatusBadRequest, "InvalidCertificateRequest", err.Error()})
		return
	}
	leaf, err := h.proxyCA.IssueServerCertForKey(csr.PublicKey, proxy.NodeCertificateNames, nil, proxy.NodeCertificateLifetime)
	if err != nil {
		h.internal(w, err)
		return
	}
	h.log.Info("proxy certificate issued", "client_id", claims.ClientID(), "serial", leaf.SerialNumber.Text(16), "expires", leaf.NotAfter)
	writeJSON(w, http.StatusOK, proxy.NodeCertificateResponse{Certificate: base64.StdEncoding.EncodeToString(leaf.Raw),
		CA:    base64.StdEncoding.EncodeToString(h.proxyCA.Certificate().Raw),
		Names: proxy.NodeCertificateNames, ExpiresOn: leaf.NotAfter.UTC()})
}

// parseCSR decodes and checks a certificate request: its signature proves the requester holds
// the key. Only ECDSA and RSA keys are accepted.
func parseCSR(b64 string) (*x509.CertificateRequest, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(der) == 0 {
		return nil, fmt.Errorf("csr must be the base64 DER of a PKCS #10 certificate request")
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("csr is not a PKCS #10 certificate request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr signature does not verify: %v", err)
	}
	switch csr.PublicKeyAlgorithm {
	case x509.ECDSA, x509.RSA:
	default:
		return nil, fmt.Errorf("csr key algorithm %s: use ECDSA or RSA", csr.PublicKeyAlgorithm)
	}
	return csr, nil
}

// holdsBrokerRole reports whether principalID may broker tokens at any scope it has a role at,
// directly or through a group (a node may hold the broker role only through one): that is what
// makes a principal a node.
func (r *Registry) holdsBrokerRole(ctx context.Context, principalID string) (bool, error) {
	if principalID == "" {
		return false, nil
	}
	p, err := authz.New(r.st).ForPrincipal(ctx, principalID)
	if err != nil {
		return false, fmt.Errorf("role assignments of %s: %w", principalID, err)
	}
	for _, a := range p.Assignments() {
		if p.Decide(rbac.Query{PrincipalID: principalID, Action: rbac.IssueTokenDataAction, Scope: a.Scope, DataAction: true}).Allowed {
			return true, nil
		}
	}
	return false, nil
}
