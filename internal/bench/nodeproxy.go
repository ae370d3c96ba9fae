package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/agent/promtext"
)

// The node-proxy figure: secret GETs per second to https://<vault>.vault.azure.net through a
// standalone agent's Azure-name proxy in its default mode (CONNECT, the client's TLS passed
// through to mint, which presents the vault name's leaf from the installation's CA; the agent
// copies bytes) beside the same vault reached directly at its vaultUri and through a bare
// TLS-terminating forwarder (bareforward.go: the floor of the terminating design, --proxy-tls
// terminate, whose two TLS legs it costs alone), by the same load generator in alternating
// rounds; and the p99 the proxy adds. The client keeps its tunnels (keep-alive), as an SDK's
// pipeline does.

// nodeProxyFigures measures the figure against the started mint c talks to.
//
// Each mode's CPU time per request (the bench, mint dev and the agent together, from
// /proc/<pid>/stat) is in the notes: on a shared machine the rates follow the load, the CPU a
// request costs much less so; on an idle machine whose cores the three processes saturate, the
// ratio of the rates tends to the inverse ratio of the CPU costs.
func nodeProxyFigures(ctx context.Context, o Options, c *mgmt, devPID int, step func(string, ...any)) ([]Figure, error) {
	command := []string{o.Binary, "agent"}
	if o.AgentBinary != "" {
		command = []string{o.AgentBinary}
	}
	ag, err := startAgent(ctx, command, c)
	if err != nil {
		return nil, err
	}
	defer ag.stop()
	proxyURL, bundle, err := agentProxy(ctx, ag)
	if err != nil {
		return nil, err
	}

	step("a vault and a secret for the node-proxy figure ...")
	group, err := c.createGroup(ctx, "nodeproxy")
	if err != nil {
		return nil, err
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	name := "np" + hex.EncodeToString(suffix[:])
	vaultID := group + "/providers/Microsoft.KeyVault/vaults/" + name
	var vault struct {
		Properties struct {
			VaultURI string `json:"vaultUri"`
		} `json:"properties"`
	}
	if err := c.arm(ctx, http.MethodPut, vaultID+"?api-version=2024-11-01", map[string]any{"location": "westeurope",
		"properties": map[string]any{"tenantId": c.env["AZURE_TENANT_ID"], "sku": map[string]string{"family": "A", "name": "standard"}}}, &vault); err != nil {
		return nil, fmt.Errorf("create vault: %w", err)
	}
	mgmtToken, err := c.token(ctx, managementScope)
	if err != nil {
		return nil, err
	}
	oid, err := tokenOID(mgmtToken)
	if err != nil {
		return nil, err
	}
	if err := c.assignRole(ctx, vaultID, keyVaultSecretsOfficer, oid); err != nil {
		return nil, fmt.Errorf("assign Key Vault Secrets Officer: %w", err)
	}
	direct, err := url.Parse(vault.Properties.VaultURI)
	if err != nil || direct.Host == "" {
		return nil, fmt.Errorf("vaultUri %q", vault.Properties.VaultURI)
	}
	_, audienceHost, _ := strings.Cut(direct.Host, ".")
	directToken, err := c.token(ctx, "https://"+audienceHost+"/.default")
	if err != nil {
		return nil, err
	}
	azureToken, err := c.token(ctx, "https://vault.azure.net/.default")
	if err != nil {
		return nil, err
	}
	if _, err := c.do(ctx, directToken, http.MethodPut, "https://"+direct.Host+"/secrets/bench?api-version=2026-04-01",
		map[string]string{"value": "a benchmark secret value"}, nil); err != nil {
		return nil, fmt.Errorf("set secret: %w", err)
	}

	proxied := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: bundle}, MaxIdleConnsPerHost: o.Concurrency, ForceAttemptHTTP2: false}}
	directClient := &http.Client{Timeout: 30 * time.Second, Transport: localTransport(c.pool, hostOf(c.endpoint), o.Concurrency)}
	endpoint, err := url.Parse(c.endpoint)
	if err != nil {
		return nil, err
	}
	bare, err := startBareForwarder(endpoint.Host, endpoint.Hostname(), c.pool)
	if err != nil {
		return nil, err
	}
	defer bare.close()
	bareClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(bare.url), TLSClientConfig: &tls.Config{RootCAs: bare.pool}, MaxIdleConnsPerHost: o.Concurrency, ForceAttemptHTTP2: false}}
	get := func(hc *http.Client, u, token string) func(int) error {
		return func(int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("vault GET %s: HTTP %d: %s", u, resp.StatusCode, truncate(body, 200))
			}
			return err
		}
	}
	connsBefore, _ := ag.metric(ctx, promtext.ProxyUpstreamConnectionsName)
	step("vault GETs through the node's proxy, directly and through a bare forwarder, alternating ...")
	azureURL := "https://" + name + ".vault.azure.net/secrets/bench/?api-version=2026-04-01"
	var through, straight, floor stats
	var cpu [3]cpuSplit // through, straight, floor
	for range 4 {
		for i, r := range []struct {
			into *stats
			do   func(int) error
		}{{&through, get(proxied, azureURL, azureToken)},
			{&straight, get(directClient, "https://"+direct.Host+"/secrets/bench/?api-version=2026-04-01", directToken)},
			{&floor, get(bareClient, azureURL, azureToken)}} {
			before := readCPUSplit(devPID, ag.cmd.Process.Pid)
			s, err := loadFor(ctx, o.Duration/4, o.Concurrency, r.do)
			if err != nil {
				return nil, err
			}
			cpu[i] = cpu[i].add(readCPUSplit(devPID, ag.cmd.Process.Pid).sub(before))
			*r.into = r.into.add(s)
		}
	}
	handshakes := "an unknown number of" // an agent older than the counter
	if connsAfter, err := ag.metric(ctx, promtext.ProxyUpstreamConnectionsName); err == nil {
		handshakes = strconv.FormatFloat(connsAfter-connsBefore, 'f', 0, 64)
	}
	added := percentile(through.lat, 99) - percentile(straight.lat, 99)
	return []Figure{
		withLatency(Figure{Key: "vaultGetThroughNodeProxy", Name: "vault secret GETs per second through a node's Azure-name proxy (https://<vault>.vault.azure.net)",
			Value: through.rate(), Unit: "requests/s", Ceiling: straight.rate(), Ratio: through.rate() / straight.rate(),
			Goal: ">= 0.6 x the same vault reached directly", Target: &Target{MinRatio: 0.6},
			Note: fmt.Sprintf("%s's proxy, default --proxy-tls (CONNECT, the client's TLS passed through to mint dev, the agent copying bytes); %d keep-alive clients, 4 rounds alternating with the direct GETs and the bare forwarder; "+
				"direct: %.0f/s, p50 %.2f ms, p99 %.2f ms; the proxy opened %s connections to mint dev (one per tunnel) for %d requests; "+
				"CPU per request (bench client + mint dev + agent): through the proxy %s, direct %s",
				filepath.Base(command[0]), o.Concurrency, straight.rate(), ms(percentile(straight.lat, 50)), ms(percentile(straight.lat, 99)), handshakes, through.n,
				cpu[0].perRequest(through.n), cpu[1].perRequest(straight.n))}, through.lat),
		{Key: "nodeProxyAddedP99", Name: "p99 the node's proxy adds to a vault GET", Value: ms(added), Unit: "ms",
			Note: fmt.Sprintf("p99 through the proxy %.2f ms minus p99 direct %.2f ms, same run", ms(percentile(through.lat, 99)), ms(percentile(straight.lat, 99)))},
		withLatency(Figure{Key: "vaultGetThroughBareForwarder", Name: "the same GETs through a bare TLS-terminating forwarder (the floor of --proxy-tls terminate: its two TLS legs alone)",
			Value: floor.rate(), Unit: "requests/s", Ceiling: straight.rate(), Ratio: floor.rate() / straight.rate(),
			Note: fmt.Sprintf("in the bench's process: CONNECT, TLS with a P-256 key, a TLS connection of its own to mint dev per tunnel, bytes copied both ways (no HTTP parsing); "+
				"the node's proxy (passthrough) reaches %.2f of it; CPU per request (bench client and forwarder + mint dev): %s",
				through.rate()/floor.rate(), cpu[2].perRequest(floor.n))}, floor.lat),
	}, nil
}

// agentProxy waits for the agent's env file to name its proxy and returns the proxy's URL and
// the CA bundle its workloads trust.
func agentProxy(ctx context.Context, ag *standaloneAgent) (*url.URL, *x509.CertPool, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		env := readEnv(filepath.Join(ag.dir, "env"))
		if p := env["HTTPS_PROXY"]; p != "" && env["SSL_CERT_FILE"] != "" {
			u, err := url.Parse(p)
			if err != nil {
				return nil, nil, fmt.Errorf("the agent's HTTPS_PROXY %q: %w", p, err)
			}
			pem, err := os.ReadFile(env["SSL_CERT_FILE"])
			if err != nil {
				return nil, nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("%s holds no certificate", env["SSL_CERT_FILE"])
			}
			return u, pool, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("the agent wrote no proxy environment within 30 s: %s", ag.out.String())
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// hostOf is a URL's host name.
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Hostname()
}

// metric reads one unlabelled sample from the agent's /metrics.
func (a *standaloneAgent) metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.metrics, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("the agent's /metrics has no %s", name)
}

// cpuSplit is CPU time (user + system) of the bench's own process, mint dev and the agent.
type cpuSplit struct{ bench, dev, agent time.Duration }

func readCPUSplit(devPID, agentPID int) cpuSplit {
	return cpuSplit{procCPU(os.Getpid()), procCPU(devPID), procCPU(agentPID)}
}

func (a cpuSplit) add(b cpuSplit) cpuSplit {
	return cpuSplit{a.bench + b.bench, a.dev + b.dev, a.agent + b.agent}
}
func (a cpuSplit) sub(b cpuSplit) cpuSplit {
	return cpuSplit{a.bench - b.bench, a.dev - b.dev, a.agent - b.agent}
}

// perRequest says the CPU per request, in all and by process.
func (a cpuSplit) perRequest(n int) string {
	if n == 0 {
		return "-"
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	return fmt.Sprintf("%.0f µs (bench %.0f, mint dev %.0f, agent %.0f)", us(a.bench+a.dev+a.agent), us(a.bench), us(a.dev), us(a.agent))
}

// procCPU is a process's user + system CPU time from /proc/<pid>/stat (0 where unreadable), at
// the kernel's clock-tick resolution (USER_HZ, 100 on Linux).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(data), ") ") // the command name may hold spaces
	if !ok {
		return 0
	}
	f := strings.Fields(rest) // rest starts at field 3 (state); utime and stime are fields 14 and 15
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100)
}
