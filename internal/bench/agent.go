package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/agent"
)

// The node-agent figures, against a standalone `mint agent` process joined to the bench's
// `mint dev` as a real host's agent would be:
//   - cached token requests per second through its App Service endpoint (GET /msi/token with
//     X-IDENTITY-HEADER, keep-alive) beside a bare net/http handler answering the same bytes,
//     measured in alternating rounds by the same load generator;
//   - its resident memory holding N cached tokens (N resources with a system-assigned identity,
//     one token each);
//   - the time from starting `mint run` to the workload's first token, the workload being this
//     binary's hidden bench-token command (azidentity.ManagedIdentityCredential, unmodified).

const (
	computeAPIVersion = "2024-03-01"
	appType           = "Microsoft.App/containerApps"
	// tokenResource is the audience the workloads ask for.
	tokenResource = "https://management.azure.com/"
	// coldResource is the audience of the cache-cold `mint run` starts.
	coldResource = "https://vault.azure.net"
)

// standaloneAgent is a started `mint agent`.
type standaloneAgent struct {
	cmd     *exec.Cmd
	dir     string
	socket  string
	metrics string // its Prometheus endpoint
	out     *bytes.Buffer
	done    chan struct{}
}

// startAgent joins a new agent to the mint c talks to, with the broker role over the default
// subscription; command is the agent's binary and leading arguments (mint-agent, or mint
// agent). Its per-workload rate limit is lifted: the figure is the agent's throughput, not
// IMDS's 20 requests/s.
func startAgent(ctx context.Context, command []string, c *mgmt) (*standaloneAgent, error) {
	var jt struct {
		JoinToken string `json:"joinToken"`
	}
	if err := c.arm(ctx, http.MethodPost, "/mint/nodes/joinTokens", map[string]string{"scope": c.subscription(), "name": "bench", "ttl": "1h"}, &jt); err != nil {
		return nil, fmt.Errorf("join token: %w", err)
	}
	dir, err := os.MkdirTemp("", "mint-bench-agent-")
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	a := &standaloneAgent{dir: dir, socket: filepath.Join(dir, "agent.sock"), metrics: "http://" + metricsAddr + "/metrics", out: &bytes.Buffer{}, done: make(chan struct{})}
	args := append(slices.Clone(command[1:]), "--server", c.endpoint, "--join-token", jt.JoinToken, "--data-dir", dir,
		"--addr", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0", "--ca-file", c.env["MINT_CA_FILE"], "--rate-limit", "1e9", "--rate-burst", "1000000000", "--metrics-addr", metricsAddr)
	a.cmd = exec.CommandContext(ctx, command[0], args...)
	a.cmd.Env = cleanEnv()
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { a.cmd.Wait(); close(a.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if conn, err := net.Dial("unix", a.socket); err == nil {
			conn.Close()
			return a, nil
		}
		select {
		case <-a.done:
			a.stop()
			return nil, fmt.Errorf("mint agent exited: %s", a.out.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			a.stop()
			return nil, fmt.Errorf("mint agent not serving within 30 s: %s", a.out.String())
		}
	}
}

func (a *standaloneAgent) stop() {
	a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
	os.RemoveAll(a.dir)
}

// freeAddr is a loopback address with a port nobody listens on (yet).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// agentMetrics reads, from the agent's /metrics, the Go heap in use and the token requests it
// answered from upstream (cache misses).
func (a *standaloneAgent) agentMetrics(ctx context.Context) (heapInuse, misses float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.metrics, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch {
		case name == "go_memstats_heap_inuse_bytes":
			heapInuse = v
		case strings.HasPrefix(name, "mint_agent_token_requests_total{") && strings.Contains(name, `cache="miss"`) && strings.Contains(name, `code="200"`):
			misses += v
		}
	}
	return heapInuse, misses, sc.Err()
}

// rss is the agent process's VmRSS in bytes.
func (a *standaloneAgent) rss() (uint64, error) { return procRSS(a.cmd.Process.Pid) }

func procRSS(pid int) (uint64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// agentGet asks the App Service endpoint for a token as the workload holding secret.
func agentGet(ctx context.Context, hc *http.Client, u, secret string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-IDENTITY-HEADER", secret)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("agent GET %s: HTTP %d: %s", u, resp.StatusCode, truncate(body, 300))
	}
	return body, err
}

func appServiceURL(endpoint, resource string) string {
	return endpoint + "?api-version=2019-08-01&resource=" + url.QueryEscape(resource)
}

func agentFigures(ctx context.Context, o Options, inst *instance, c *mgmt, step func(string, ...any)) ([]Figure, error) {
	n, runs := o.Scale.CachedTokens, o.Scale.RunStarts
	groupID, err := c.createGroup(ctx, "agent")
	if err != nil {
		return nil, err
	}
	// Apps 0..n-1 fill the cache; n..n+runs-1 are the cache-cold `mint run` starts.
	apps := make([]string, n+runs)
	for i := range apps {
		apps[i] = fmt.Sprintf("%s/providers/%s/app-%05d", groupID, appType, i)
	}
	step("creating %d container apps with system-assigned identities ...", len(apps))
	if err := runParallel(ctx, len(apps), o.Scale.CreateWorkers, func(i int) error {
		return c.arm(ctx, http.MethodPut, apps[i]+"?api-version="+computeAPIVersion,
			map[string]any{"location": "westeurope", "identity": map[string]string{"type": "SystemAssigned"}}, nil)
	}); err != nil {
		return nil, err
	}

	// The RSS figure is the binary a node installs: the lean mint-agent when it is beside mint
	// (or given), else `mint agent`. The whole mint binary is measured too, for the Note.
	lean := o.AgentBinary != ""
	var whole agentFill
	if lean {
		step("filling a `mint agent` (the whole binary) with %d tokens, for comparison ...", n)
		wa, err := startAgent(ctx, []string{o.Binary, "agent"}, c)
		if err != nil {
			return nil, err
		}
		wf, cl, _, err := fillAgent(ctx, o, wa, apps[:n])
		wa.stop()
		if err != nil {
			return nil, err
		}
		cl.Close()
		whole = wf
	}
	command := []string{o.Binary, "agent"}
	if lean {
		command = []string{o.AgentBinary}
	}
	ag, err := startAgent(ctx, command, c)
	if err != nil {
		return nil, err
	}
	defer ag.stop()
	step("filling the agent's cache with %d tokens ...", n)
	f, cl, regs, err := fillAgent(ctx, o, ag, apps[:n])
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	which := "mint agent (the whole mint binary; no mint-agent beside it)"
	if lean {
		which = fmt.Sprintf("the lean mint-agent (%s); the whole mint binary as `mint agent`: %.1f MiB with the same tokens, %.1f MiB before the first",
			fileSize(o.AgentBinary), float64(whole.rss)/(1<<20), float64(whole.baseline)/(1<<20))
	}
	figs := []Figure{{Key: "agentRSS", Name: fmt.Sprintf("agent RSS with %s cached tokens", commas(n)), Value: float64(f.rss) / (1 << 20), Unit: "MiB", Goal: "<= 15 MiB", Target: &Target{Max: 15},
		Note: fmt.Sprintf("VmRSS of a standalone agent, %s, after one token for each of %d resources, read 1 s after the last (%v fetched from mint dev in %.1f s); %.1f MiB before the first token; Go heap in use %.1f MiB",
			which, n, f.misses, f.fill.Seconds(), float64(f.baseline)/(1<<20), f.heap/(1<<20))}}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, DisableCompression: true}}

	// Cached token requests beside a bare handler answering the same bytes.
	step("cached tokens through the agent, and a bare net/http handler ...")
	agentURL := appServiceURL(regs[0].Endpoints.IdentityEndpoint, tokenResource)
	body, err := agentGet(ctx, hc, agentURL, regs[0].Secret)
	if err != nil {
		return nil, err
	}
	bareURL, closeBare, err := startBare(body)
	if err != nil {
		return nil, err
	}
	defer closeBare()
	newClient := func() *http.Client {
		return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, DisableCompression: true}}
	}
	agentClient, bareClient := newClient(), newClient()
	secret := regs[0].Secret
	bareReqURL := bareURL + "/msi/token" + strings.TrimPrefix(agentURL, regs[0].Endpoints.IdentityEndpoint)
	sa, sb, err := alternate(ctx, o.Duration, 4, o.Concurrency,
		func(int) error { _, err := agentGet(ctx, agentClient, agentURL, secret); return err },
		func(int) error { _, err := agentGet(ctx, bareClient, bareReqURL, secret); return err })
	if err != nil {
		return nil, err
	}
	figs = append(figs,
		withLatency(Figure{Key: "agentCachedToken", Name: "cached token requests per second through the agent (App Service dialect)", Value: sa.rate(), Unit: "requests/s",
			Ceiling: sb.rate(), Ratio: sa.rate() / sb.rate(), Goal: ">= 0.6 x bare handler, p99 < 2 ms", Target: &Target{MinRatio: 0.6},
			Note: fmt.Sprintf("standalone mint agent, GET /msi/token with X-IDENTITY-HEADER, %d concurrent keep-alive clients, 4 rounds alternating with the bare handler; %d-byte answer",
				o.Concurrency, len(body))}, sa.lat),
		withLatency(Figure{Key: "bareHandler", Name: "bare net/http handler requests per second (same JSON)", Value: sb.rate(), Unit: "requests/s",
			Note: "the ceiling of the agent figure: a plain HTTP handler answering the agent's response bytes, same client and header"}, sb.lat),
	)

	// `mint run` to the workload's first token: cache warm (app 0's token is cached), then
	// cache cold (a new resource each time, so the agent asks mint dev for the token).
	step("mint run to first token (%d runs warm, %d cold) ...", runs, runs)
	runOnce := func(resource, scope string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, o.Binary, "run", "--socket", ag.socket, "--resource", resource, "--",
			o.Binary, "bench-token", "--scope", scope)
		cmd.Env = cleanEnv()
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("mint run bench-token: %v: %s", err, errOut.String())
		}
		var got struct {
			At     int64 `json:"at"`
			Length int   `json:"length"`
		}
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.At == 0 || got.Length == 0 {
			return 0, fmt.Errorf("mint run bench-token printed %q", out.String())
		}
		return time.Duration(got.At - t0.UnixNano()), nil
	}
	if _, err := runOnce(apps[0], tokenResource+".default"); err != nil { // warm the binary's pages
		return nil, err
	}
	var warm, cold []time.Duration
	for range runs {
		d, err := runOnce(apps[0], tokenResource+".default")
		if err != nil {
			return nil, err
		}
		warm = append(warm, d)
	}
	for i := range runs {
		d, err := runOnce(apps[n+i], coldResource+"/.default")
		if err != nil {
			return nil, err
		}
		cold = append(cold, d)
	}
	figs = append(figs,
		latencyFigure("runFirstToken", "mint run start to the workload's first token (agent cache warm)", warm, "< 100 ms p99", &Target{Max: 100, OnP99: true},
			fmt.Sprintf("%d runs of `mint run --resource <app> -- mint bench-token` (azidentity.ManagedIdentityCredential), from exec of mint run to GetToken's return; the token was cached", len(warm))),
		latencyFigure("runFirstTokenCold", "mint run start to the workload's first token (agent cache cold)", cold, "< 100 ms p99", &Target{Max: 100, OnP99: true},
			fmt.Sprintf("%d runs as above, each for a resource the agent holds no token for, so it is issued by mint dev on the way", len(cold))),
	)
	return figs, nil
}

// startBare serves body as JSON from a bare net/http handler on loopback.
func startBare(body []byte) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// agentFill is an agent's memory before and after its cache was filled.
type agentFill struct {
	baseline, rss uint64 // VmRSS bytes before the first token and after the last
	heap, misses  float64
	fill          time.Duration
}

// fillAgent registers one workload per app with ag over one socket connection (as the agent
// package's client, like `mint run`) and fetches one token each: len(apps) distinct cache entries.
func fillAgent(ctx context.Context, o Options, ag *standaloneAgent, apps []string) (agentFill, *agent.Client, []agent.Registration, error) {
	var f agentFill
	time.Sleep(200 * time.Millisecond)
	var err error
	if f.baseline, err = ag.rss(); err != nil {
		return f, nil, nil, err
	}
	cl, err := agent.Dial(ctx, ag.socket)
	if err != nil {
		return f, nil, nil, err
	}
	fail := func(err error) (agentFill, *agent.Client, []agent.Registration, error) {
		cl.Close()
		return f, nil, nil, err
	}
	regs := make([]agent.Registration, len(apps))
	for i := range regs {
		if regs[i], err = cl.Register(ctx, apps[i], 0, true); err != nil {
			return fail(err)
		}
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, DisableCompression: true}}
	began := time.Now()
	if err := runParallel(ctx, len(apps), o.Concurrency, func(i int) error {
		_, err := agentGet(ctx, hc, appServiceURL(regs[i].Endpoints.IdentityEndpoint, tokenResource), regs[i].Secret)
		return err
	}); err != nil {
		return fail(err)
	}
	f.fill = time.Since(began)
	hc.CloseIdleConnections()
	time.Sleep(time.Second) // let the agent settle: idle connections closed, the fill's garbage collected
	if f.rss, err = ag.rss(); err != nil {
		return fail(err)
	}
	if f.heap, f.misses, err = ag.agentMetrics(ctx); err != nil {
		return fail(err)
	}
	if int(f.misses) < len(apps) {
		return fail(fmt.Errorf("the agent fetched %v tokens from upstream, want %d distinct cache entries", f.misses, len(apps)))
	}
	return f, cl, regs, nil
}

// fileSize is a file's size in MiB, for a note.
func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "size unknown"
	}
	return fmt.Sprintf("%.1f MiB binary", float64(fi.Size())/(1<<20))
}
