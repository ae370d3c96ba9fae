package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// mgmt is the bench's client of a started mint: the admin application's tokens (client
// credentials, cached per scope) and JSON calls to the management endpoint and vault hosts.
// *.localhost names are dialled at mint's own address.
type mgmt struct {
	env      map[string]string
	endpoint string // https://127.0.0.1:<port>
	hc       *http.Client
	pool     *x509.CertPool

	mu     sync.Mutex
	tokens map[string]string
}

func newMgmt(env map[string]string, conns int) (*mgmt, error) {
	pem, err := os.ReadFile(env["MINT_CA_FILE"])
	if err != nil {
		return nil, fmt.Errorf("mint CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	endpoint := strings.TrimSuffix(env["MINT_ENDPOINT"], "/")
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	return &mgmt{env: env, endpoint: endpoint, pool: pool, tokens: map[string]string{},
		hc: &http.Client{Timeout: 60 * time.Second, Transport: localTransport(pool, u.Hostname(), conns)}}, nil
}

// localTransport is a keep-alive HTTP/1.1 transport trusting pool that dials every *.localhost
// name at mintHost.
func localTransport(pool *x509.CertPool, mintHost string, conns int) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: max(conns, 2), ForceAttemptHTTP2: false,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, port, err := net.SplitHostPort(addr); err == nil && strings.HasSuffix(host, ".localhost") {
				addr = net.JoinHostPort(mintHost, port)
			}
			return d.DialContext(ctx, network, addr)
		},
	}
}

const (
	managementScope = "https://management.azure.com//.default"
	graphScope      = "https://graph.microsoft.com/.default"
)

// token is an app token of the admin application for scope.
func (m *mgmt) token(ctx context.Context, scope string) (string, error) {
	m.mu.Lock()
	tok := m.tokens[scope]
	m.mu.Unlock()
	if tok != "" {
		return tok, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {m.env["AZURE_CLIENT_ID"]},
		"client_secret": {m.env["AZURE_CLIENT_SECRET"]}, "scope": {scope}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint+"/"+m.env["AZURE_TENANT_ID"]+"/oauth2/v2.0/token", strings.NewReader(form))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := m.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("admin token for %s: HTTP %d", scope, resp.StatusCode)
	}
	m.mu.Lock()
	m.tokens[scope] = body.AccessToken
	m.mu.Unlock()
	return body.AccessToken, nil
}

// arm calls the management endpoint: path is below it (or a full URL, as a nextLink is) and
// includes the api-version.
func (m *mgmt) arm(ctx context.Context, method, path string, body, out any) error {
	tok, err := m.token(ctx, managementScope)
	if err != nil {
		return err
	}
	u := path
	if strings.HasPrefix(path, "/") {
		u = m.endpoint + path
	}
	_, err = m.do(ctx, tok, method, u, body, out)
	return err
}

// do sends a JSON request with a bearer token and decodes a 2xx answer into out. It returns the
// status; a status of 300 or more is also an error.
func (m *mgmt) do(ctx context.Context, token, method, u string, body, out any) (int, error) {
	return m.doHeader(ctx, token, method, u, nil, body, out)
}

// doHeader is do with extra request headers (Graph's ConsistencyLevel).
func (m *mgmt) doHeader(ctx context.Context, token, method, u string, header http.Header, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: HTTP %d: %s", method, u, resp.StatusCode, truncate(raw, 300))
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(raw, out)
	}
	return resp.StatusCode, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// subscription is the default subscription's id path.
func (m *mgmt) subscription() string { return "/subscriptions/" + m.env["AZURE_SUBSCRIPTION_ID"] }

func (m *mgmt) createGroup(ctx context.Context, name string) (string, error) {
	id := m.subscription() + "/resourceGroups/" + name
	return id, m.arm(ctx, http.MethodPut, id+"?api-version=2021-04-01", map[string]any{"location": "westeurope"}, nil)
}

// assignRole gives principalID the built-in role at scope.
func (m *mgmt) assignRole(ctx context.Context, scope, roleID, principalID string) error {
	return m.arm(ctx, http.MethodPut, scope+"/providers/Microsoft.Authorization/roleAssignments/"+newUUID()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{
			"roleDefinitionId": m.subscription() + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID,
			"principalId":      principalID, "principalType": "ServicePrincipal"}}, nil)
}

// stats is what one load run measured.
type stats struct {
	n   int
	dur time.Duration
	lat []time.Duration
	cpu cpuUse // CPU the bench and mint dev used meanwhile, when measured (loadOn)
}

func (s stats) rate() float64 {
	if s.dur <= 0 {
		return 0
	}
	return float64(s.n) / s.dur.Seconds()
}

func (s stats) add(o stats) stats {
	return stats{n: s.n + o.n, dur: s.dur + o.dur, lat: append(s.lat, o.lat...), cpu: s.cpu.plus(o.cpu)}
}

// loadFor calls do from concurrency workers for d, after one warm-up call per worker, and
// measures each call. Every load in the bench goes through it, so a figure and its ceiling are
// driven by the same generator.
func loadFor(ctx context.Context, d time.Duration, concurrency int, do func(worker int) error) (stats, error) {
	for w := range concurrency {
		if err := do(w); err != nil {
			return stats{}, err
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	began := time.Now()
	stop := began.Add(d)
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			for time.Now().Before(stop) && ctx.Err() == nil {
				t := time.Now()
				if err := do(w); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
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
		return stats{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return stats{}, err
	}
	return stats{n: len(lat), dur: time.Since(began), lat: lat}, nil
}

// alternate measures a and b in turns (a, b, a, b ...: rounds each, d in all for each), so
// that a change in the machine's load during the run touches both alike.
func alternate(ctx context.Context, d time.Duration, rounds, concurrency int, a, b func(int) error) (sa, sb stats, err error) {
	for range rounds {
		s, err := loadFor(ctx, d/time.Duration(rounds), concurrency, a)
		if err != nil {
			return sa, sb, err
		}
		sa = sa.add(s)
		if s, err = loadFor(ctx, d/time.Duration(rounds), concurrency, b); err != nil {
			return sa, sb, err
		}
		sb = sb.add(s)
	}
	return sa, sb, nil
}

// runParallel calls do(i) for i in [0, n) from concurrency workers and returns the first error.
func runParallel(ctx context.Context, n, concurrency int, do func(i int) error) error {
	var next, failed = make(chan int), make(chan error, concurrency)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := do(i); err != nil {
					failed <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-failed:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-failed:
		default:
		}
	}
	return err
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
