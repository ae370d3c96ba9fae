package bench

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
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// The vault figure: secret GETs per second through mint's vault data plane over HTTPS (bearer
// validation, revocation check, RBAC data-action check, decryption, one store read) beside a
// bare Go net/http TLS handler answering the same bytes, measured on the same machine in the
// same run by the same load generator.

// VaultFigures are the results of VaultGetRate.
type VaultFigures struct {
	Vault, Bare        float64 // requests per second
	VaultP50, VaultP99 time.Duration
	BareP50, BareP99   time.Duration
}

const keyVaultSecretsOfficer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"

// VaultGetRate measures the figure against the started mint whose client environment (the env
// file `mint dev` writes: MINT_ENDPOINT, MINT_CA_FILE, AZURE_*) is env. It creates a resource
// group "bench", a vault, a role assignment for the admin application and a secret, then loads
// GET /secrets/<name>/ for d with concurrency workers, and a bare TLS handler for d.
func VaultGetRate(ctx context.Context, env map[string]string, d time.Duration, concurrency int) (VaultFigures, error) {
	var f VaultFigures
	pem, err := os.ReadFile(env["MINT_CA_FILE"])
	if err != nil {
		return f, fmt.Errorf("mint CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	endpoint := strings.TrimSuffix(env["MINT_ENDPOINT"], "/")
	mint, err := url.Parse(endpoint)
	if err != nil {
		return f, err
	}
	// *.localhost vault names are dialled at mint's address; nothing else changes.
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: concurrency, ForceAttemptHTTP2: false,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, port, err := net.SplitHostPort(addr); err == nil && strings.HasSuffix(host, ".localhost") {
				addr = net.JoinHostPort(mint.Hostname(), port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	b := &benchClient{c: client, endpoint: endpoint, env: env}

	mgmt, err := b.token("https://management.azure.com//.default")
	if err != nil {
		return f, err
	}
	oid, err := tokenOID(mgmt)
	if err != nil {
		return f, err
	}
	sub := env["AZURE_SUBSCRIPTION_ID"]
	group := "/subscriptions/" + sub + "/resourceGroups/bench"
	if err := b.call(mgmt, http.MethodPut, endpoint+group+"?api-version=2021-04-01", map[string]any{"location": "westeurope"}, nil); err != nil {
		return f, fmt.Errorf("create group: %w", err)
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	name := "bench" + hex.EncodeToString(suffix[:])
	vaultID := group + "/providers/Microsoft.KeyVault/vaults/" + name
	var vault struct {
		Properties struct {
			VaultURI string `json:"vaultUri"`
		} `json:"properties"`
	}
	if err := b.call(mgmt, http.MethodPut, endpoint+vaultID+"?api-version=2024-11-01", map[string]any{"location": "westeurope",
		"properties": map[string]any{"tenantId": env["AZURE_TENANT_ID"], "sku": map[string]string{"family": "A", "name": "standard"}}}, &vault); err != nil {
		return f, fmt.Errorf("create vault: %w", err)
	}
	assignment := vaultID + "/providers/Microsoft.Authorization/roleAssignments/" + newGUID() + "?api-version=2022-04-01"
	if err := b.call(mgmt, http.MethodPut, endpoint+assignment, map[string]any{"properties": map[string]any{
		"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + keyVaultSecretsOfficer,
		"principalId":      oid, "principalType": "ServicePrincipal"}}, nil); err != nil {
		return f, fmt.Errorf("assign Key Vault Secrets Officer: %w", err)
	}
	vaultURL, err := url.Parse(vault.Properties.VaultURI)
	if err != nil || vaultURL.Host == "" {
		return f, fmt.Errorf("vaultUri %q", vault.Properties.VaultURI)
	}
	// The audience the vault's challenge names: https://<suffix>[:port].
	_, audienceHost, _ := strings.Cut(vaultURL.Host, ".")
	vaultToken, err := b.token("https://" + audienceHost + "/.default")
	if err != nil {
		return f, err
	}
	base := "https://" + vaultURL.Host
	if err := b.call(vaultToken, http.MethodPut, base+"/secrets/bench?api-version=2026-04-01", map[string]string{"value": "a benchmark secret value"}, nil); err != nil {
		return f, fmt.Errorf("set secret: %w", err)
	}
	getURL := base + "/secrets/bench/?api-version=2026-04-01"
	get := func() ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, getURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+vaultToken)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("vault GET: HTTP %d: %s", resp.StatusCode, body)
		}
		return body, err
	}
	sample, err := get()
	if err != nil {
		return f, err
	}

	// The ceiling: a bare TLS handler answering the same bytes.
	bare, err := startBareTLS(sample)
	if err != nil {
		return f, err
	}
	defer bare.close()
	bareClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: bare.pool}, MaxIdleConnsPerHost: concurrency, ForceAttemptHTTP2: false}}
	bareGet := func() ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, bare.url+"/secrets/bench/?api-version=2026-04-01", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+vaultToken) // same request size
		resp, err := bareClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}

	var lat []time.Duration
	if f.Vault, lat, err = load(ctx, get, d, concurrency); err != nil {
		return f, err
	}
	f.VaultP50, f.VaultP99 = percentile(lat, 50), percentile(lat, 99)
	if f.Bare, lat, err = load(ctx, bareGet, d, concurrency); err != nil {
		return f, err
	}
	f.BareP50, f.BareP99 = percentile(lat, 50), percentile(lat, 99)
	return f, nil
}

// load runs do from concurrency workers for d (after one warm-up call each) and returns the
// rate and the latencies.
func load(ctx context.Context, do func() ([]byte, error), d time.Duration, concurrency int) (float64, []time.Duration, error) {
	for range concurrency {
		if _, err := do(); err != nil {
			return 0, nil, err
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	began := time.Now()
	stop := began.Add(d)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1024)
			for time.Now().Before(stop) && ctx.Err() == nil {
				t := time.Now()
				if _, err := do(); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, nil, firstErr
	}
	return float64(len(lat)) / time.Since(began).Seconds(), lat, nil
}

type benchClient struct {
	c        *http.Client
	endpoint string
	env      map[string]string
}

// token gets an app token for scope with the admin's client secret.
func (b *benchClient) token(scope string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {b.env["AZURE_CLIENT_ID"]},
		"client_secret": {b.env["AZURE_CLIENT_SECRET"]}, "scope": {scope}}.Encode()
	resp, err := b.c.Post(b.endpoint+"/"+b.env["AZURE_TENANT_ID"]+"/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("token for %s: HTTP %d", scope, resp.StatusCode)
	}
	return body.AccessToken, nil
}

func (b *benchClient) call(token, method, u string, body, out any) error {
	data, _ := json.Marshal(body)
	req, err := http.NewRequest(method, u, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, u, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func tokenOID(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("malformed token")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		OID string `json:"oid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.OID == "" {
		return "", errors.New("token has no oid")
	}
	return c.OID, nil
}

func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// bareTLS is the ceiling: a net/http TLS server (P-256 certificate, as mint's) answering body.
type bareTLS struct {
	url  string
	pool *x509.CertPool
	srv  *http.Server
}

func startBareTLS(body []byte) (*bareTLS, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(body)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
	}
	go srv.ServeTLS(ln, "", "")
	return &bareTLS{url: "https://" + ln.Addr().String(), pool: pool, srv: srv}, nil
}

func (b *bareTLS) close() { b.srv.Close() }
