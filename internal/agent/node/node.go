// Package node is the agent's side of the node protocol: it holds the node's key and identity,
// joins a mint server with a one-time join token, and implements agent.Upstream with mint's
// broker grant (a token request signed with the node's key, naming the resource the workload runs
// as and the identity it asks for).
package node

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/nodewire"
)

// Identity is a joined node: its principal and its key.
type Identity struct {
	ServerURL string `json:"serverUrl"` // mint's base URL (authority host)
	TenantID  string `json:"tenantId"`
	ClientID  string `json:"clientId"`
	ObjectID  string `json:"objectId"`
	Name      string `json:"name"`

	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// NewKey makes a node key and its self-signed certificate (the public half the server keeps).
func NewKey(name string) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "mint node " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// WithKey attaches the node's key to an identity (after a join, or when loaded).
func (id *Identity) WithKey(key *rsa.PrivateKey, cert *x509.Certificate) *Identity {
	id.key, id.cert = key, cert
	return id
}

// Certificate is the node's certificate.
func (id *Identity) Certificate() *x509.Certificate { return id.cert }

// Join registers a new node with a join token and returns its identity.
func Join(ctx context.Context, hc *http.Client, serverURL, joinToken, name string) (*Identity, error) {
	key, cert, err := NewKey(name)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"joinToken": joinToken, "name": name, "certificate": base64.StdEncoding.EncodeToString(cert.Raw)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(serverURL, "/")+"/mint/nodes/join", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", serverURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("join refused: %s: %s", e.Error.Code, e.Error.Message)
		}
		return nil, fmt.Errorf("join refused: HTTP %d", resp.StatusCode)
	}
	id := &Identity{ServerURL: strings.TrimSuffix(serverURL, "/")}
	if err := json.Unmarshal(data, id); err != nil {
		return nil, fmt.Errorf("join answer: %w", err)
	}
	return id.WithKey(key, cert), nil
}

// Files under an agent's data directory.
const (
	identityFile = "node.json"
	keyFile      = "node-key.pem" // mode 0600, as SPIRE keeps its agent key
)

// Save writes the identity and key to dir.
func (id *Identity) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return err
	}
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.cert.Raw})...)
	if err := os.WriteFile(filepath.Join(dir, keyFile), pemData, 0o600); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(id, "", "  ")
	return os.WriteFile(filepath.Join(dir, identityFile), data, 0o600)
}

// Load reads an identity saved in dir; os.ErrNotExist when the node has not joined.
func Load(dir string) (*Identity, error) {
	data, err := os.ReadFile(filepath.Join(dir, identityFile))
	if err != nil {
		return nil, err
	}
	id := &Identity{}
	if err := json.Unmarshal(data, id); err != nil {
		return nil, fmt.Errorf("%s: %w", identityFile, err)
	}
	pemData, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		if b, pemData = pem.Decode(pemData); b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, errors.New("node key is not RSA")
			}
			id.key = rk
		case "CERTIFICATE":
			if id.cert, err = x509.ParseCertificate(b.Bytes); err != nil {
				return nil, err
			}
		}
	}
	if id.key == nil || id.cert == nil {
		return nil, fmt.Errorf("%s lacks the key or the certificate", keyFile)
	}
	return id, nil
}

// Upstream asks mint's STS for managed-identity tokens with the broker grant, and mint's
// workload-token endpoint for federated tokens about the resources the node hosts.
type Upstream struct {
	id       *Identity
	hc       *http.Client
	tokenURL string

	mgmtMu  sync.Mutex
	mgmt    string    // the node's own management token, for the workload-token endpoint
	mgmtExp time.Time // when to get a new one (half its life)
}

// NewUpstream returns the broker-grant client of a joined node.
func NewUpstream(id *Identity, hc *http.Client) *Upstream {
	return &Upstream{id: id, hc: hc, tokenURL: id.ServerURL + "/" + id.TenantID + "/oauth2/token"}
}

var (
	_ agent.Upstream       = (*Upstream)(nil)
	_ agent.WorkloadTokens = (*Upstream)(nil)
)

// Token implements agent.Upstream.
func (u *Upstream) Token(ctx context.Context, req agent.TokenRequest) (agent.Token, error) {
	form := url.Values{
		"grant_type":                 {nodewire.GrantManagedIdentity},
		"resource":                   {req.Resource},
		nodewire.ParamHostResourceID: {req.ResourceID},
	}
	switch {
	case req.Identity.ClientID != "":
		form.Set(nodewire.ParamClientID, req.Identity.ClientID)
	case req.Identity.ObjectID != "":
		form.Set(nodewire.ParamObjectID, req.Identity.ObjectID)
	case req.Identity.ResourceID != "":
		form.Set(nodewire.ParamResourceID, req.Identity.ResourceID)
	}
	resp, data, err := u.postTokenForm(ctx, form)
	if err != nil {
		return agent.Token{}, &agent.UpstreamError{Kind: agent.Unavailable, Message: err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		return agent.Token{}, upstreamError(resp, data)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   string `json:"expires_on"`
		NotBefore   string `json:"not_before"`
		Resource    string `json:"resource"`
		ClientID    string `json:"client_id"`
	}
	if err := json.Unmarshal(data, &t); err != nil || t.AccessToken == "" {
		return agent.Token{}, &agent.UpstreamError{Kind: agent.Unavailable, Message: "malformed token response"}
	}
	exp, _ := strconv.ParseInt(t.ExpiresOn, 10, 64)
	nbf, _ := strconv.ParseInt(t.NotBefore, 10, 64)
	return agent.Token{AccessToken: t.AccessToken, ClientID: t.ClientID, ExpiresOn: time.Unix(exp, 0), NotBefore: time.Unix(nbf, 0), Resource: t.Resource}, nil
}

// postTokenForm posts form to the STS authenticated as the node (private_key_jwt with its key)
// and returns the answer, whatever its status; an error only when there is none.
func (u *Upstream) postTokenForm(ctx context.Context, form url.Values) (*http.Response, []byte, error) {
	assertion, err := u.assertion()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot sign the node's assertion: %w", err)
	}
	form.Set("client_id", u.id.ClientID)
	form.Set("client_assertion_type", nodewire.AssertionTypeJWTBearer)
	form.Set("client_assertion", assertion)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := u.hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("mint server unreachable: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	return resp, data, nil
}

// managementResource is the audience of the node's own token for mint's management endpoints.
const managementResource = "https://management.azure.com/"

// WorkloadToken implements agent.WorkloadTokens: the node, which holds the broker role over the
// resources it hosts, asks for a federated token about one of them.
func (u *Upstream) WorkloadToken(ctx context.Context, resourceID, audience string) (agent.WorkloadToken, error) {
	data, err := u.postManagement(ctx, nodewire.WorkloadTokensPath,
		nodewire.WorkloadTokenRequest{ResourceID: resourceID, Audience: audience}, "a workload token for "+resourceID)
	if err != nil {
		return agent.WorkloadToken{}, err
	}
	var t nodewire.WorkloadToken
	if err := json.Unmarshal(data, &t); err != nil || t.Token == "" {
		return agent.WorkloadToken{}, errors.New("malformed workload token response")
	}
	return agent.WorkloadToken{Token: t.Token, Issuer: t.Issuer, Subject: t.Subject, Audience: t.Audience, TenantID: t.TenantID,
		AuthorityHost: u.id.ServerURL, ExpiresOn: time.Unix(t.ExpiresOn, 0)}, nil
}

// postManagement posts in, as JSON, to the server's management path signed in as the node (its
// managementToken) and returns the body of a 200 answer; any other answer is an error saying
// that the server refused what, with the server's error code and message when it gave them.
func (u *Upstream) postManagement(ctx context.Context, path string, in any, what string) ([]byte, error) {
	bearer, err := u.managementToken(ctx)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.id.ServerURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := u.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mint server unreachable: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("the mint server refused %s: %s: %s", what, e.Error.Code, e.Error.Message)
		}
		return nil, fmt.Errorf("the mint server refused %s: HTTP %d", what, resp.StatusCode)
	}
	return data, nil
}

// managementToken is the node's own token for mint's management endpoints (client credentials
// with its key), reused until half its life is gone.
func (u *Upstream) managementToken(ctx context.Context) (string, error) {
	u.mgmtMu.Lock()
	defer u.mgmtMu.Unlock()
	if u.mgmt != "" && time.Now().Before(u.mgmtExp) {
		return u.mgmt, nil
	}
	resp, data, err := u.postTokenForm(ctx, url.Values{"grant_type": {"client_credentials"}, "resource": {managementResource}})
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the node's own sign-in: %w", upstreamError(resp, data))
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   string `json:"expires_on"`
	}
	if err := json.Unmarshal(data, &t); err != nil || t.AccessToken == "" {
		return "", errors.New("malformed token response")
	}
	exp, _ := strconv.ParseInt(t.ExpiresOn, 10, 64)
	u.mgmt, u.mgmtExp = t.AccessToken, time.Now().Add(time.Until(time.Unix(exp, 0))/2)
	return u.mgmt, nil
}

// upstreamError turns an STS refusal into the agent's kinds.
func upstreamError(resp *http.Response, data []byte) error {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	_ = json.Unmarshal(data, &e)
	msg := e.Description
	if i := strings.Index(msg, "\r\nTrace ID"); i >= 0 {
		msg = msg[:i]
	}
	code := 0
	if len(e.Codes) > 0 {
		code = e.Codes[0]
	}
	ue := &agent.UpstreamError{Kind: agent.Unavailable, Message: msg}
	// A 429, or a 503 while the server's store is unavailable, says when to try again.
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 &&
		(resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		ue.RetryAfter = time.Duration(s) * time.Second
	}
	switch {
	case code == nodewire.CodeIdentityNotFound:
		ue.Kind = agent.IdentityNotFound
	case code == nodewire.CodeMultipleIdentities:
		ue.Kind = agent.MultipleIdentities
	case code == nodewire.CodeNodeNotAllowed:
		ue.Kind = agent.NodeNotAllowed
	case code == nodewire.CodeHostResourceNotFound:
		ue.Kind = agent.ResourceNotFound
	case code == 500011:
		ue.Kind = agent.InvalidResource
	case resp.StatusCode == http.StatusTooManyRequests:
		ue.Kind = agent.Throttled
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest:
		// The node's own credential or request was refused: no workload can be served until an
		// operator acts, which the workload should hear as "not allowed".
		ue.Kind = agent.NodeNotAllowed
		ue.Message = "the mint server refused this node: " + msg
	}
	return ue
}

// assertion is a private_key_jwt client assertion signed with the node's key: a compact RS256
// JWS (RFC 7515) written here rather than with go-jose, which with its own JSON package was a
// tenth of the lean agent's code pages (the binary's pages are resident: its size is RSS).
// Signing one fixed header and six claims needs none of a JOSE library's generality; the tests
// check the result with go-jose.
func (u *Upstream) assertion() (string, error) {
	now := time.Now()
	claims, err := json.Marshal(assertionClaims{Issuer: u.id.ClientID, Subject: u.id.ClientID, Audience: u.tokenURL, ID: uuid.NewString(),
		NotBefore: now.Add(-time.Minute).Unix(), IssuedAt: now.Unix(), Expiry: now.Add(10 * time.Minute).Unix()})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(u.id.cert.Raw)
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(nil, u.id.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signed + "." + enc.EncodeToString(sig), nil
}

// assertionClaims are a client assertion's claims (RFC 7523 section 3).
type assertionClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ID        string `json:"jti"`
	NotBefore int64  `json:"nbf"`
	IssuedAt  int64  `json:"iat"`
	Expiry    int64  `json:"exp"`
}

// Key is the node's private key (to persist it sealed, as `mint dev` does).
func (id *Identity) Key() *rsa.PrivateKey { return id.key }
