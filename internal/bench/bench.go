// Package bench is `mint bench`: every figure the issues ask for, each beside the ceiling it is
// judged against, measured on the same machine in the same run, driving real mint processes
// over loopback. docs/benchmarks.md explains each figure.
//
//   - token service: `mint dev` cold start; fresh tokens through HTTPS against raw RSA signing;
//   - control plane: RBAC decision time and memory with 1,000,000 assignments, also through 50
//     nested groups (rbac.Index, in process); identity creates per second through ARM on SQLite and PostgreSQL; list latency
//     at 100,000 identities;
//   - node agent: cached tokens per second against a bare net/http handler; `mint run` to the
//     workload's first token; the agent's RSS with 1,000 cached tokens;
//   - Key Vault: secret GETs per second against a bare TLS handler; detach to refusal (at the
//     vault, and at the node agent holding the token).
//   - people: refresh-token redemptions against raw RSA signing; password sign-ins, and the
//     token rate other clients keep under a password spray.
//   - portal: the first page of the IAM blade at 10,000 role assignments and of the Managed
//     Identities list at 100,000 identities, each beside its ARM list call.
//
// Figures are reported, never asserted: the e2e test only checks that a short run produces each.
package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Options control a run.
type Options struct {
	// Binary is the mint executable to start (default: this executable).
	Binary string
	// AgentBinary is the lean node agent (cmd/mint-agent) whose RSS is the agent figure; empty:
	// mint-agent beside Binary if it is there, else `mint agent` (the whole binary) is measured.
	AgentBinary string
	// Duration of each throughput measurement.
	Duration time.Duration
	// Concurrency of the HTTP load (default 4 × GOMAXPROCS).
	Concurrency int
	// ColdStarts is how many `mint dev` starts are timed.
	ColdStarts int
	// Short is CI's run: every figure, at small scales (see Scale).
	Short bool
	// PostgresURL is a PostgreSQL superuser URL (postgres://user@host:port/db). When set, the
	// identity create rate is also measured on PostgreSQL, in a fresh database the run creates
	// and drops; otherwise that figure is reported as skipped.
	PostgresURL string
	// Scale overrides the sizes; zero fields take the defaults (or the short run's).
	Scale Scale
	// ScaleCurve also measures the scale curve (Scale.ScaleSizes on each store); it is not part
	// of a default run (loading a million identities takes minutes). --only scale runs it alone.
	ScaleCurve bool
	// Only, if set, limits the run to these groups of figures (see Groups).
	Only []string
	Log  io.Writer
}

// Groups are the groups of figures a run can be limited to, in the order they run.
var Groups = []string{"coldstart", "tokens", "vault", "detach", "create", "agent", "nodeproxy", "people", "rbac", "postgres", "list", "portal", "scale"}

// Scale is how big each measured world is.
type Scale struct {
	RBACAssignments int // assignments in the RBAC index (1,000,000; short 100,000)
	ListIdentities  int // identities listed (100,000; short 2,000)
	CachedTokens    int // distinct tokens in the standalone agent's cache (1,000; short 100)
	RunStarts       int // timed `mint run` starts, cache warm and cache cold each (20; short 3)
	Detaches        int // timed detaches (10; short 3)
	ListWalks       int // timed first pages of the list (10; short 5)
	CreateWorkers   int // concurrent identity creates (8)
	// PortalAssignments and PortalIdentities are the portal figures' worlds: role assignments at
	// the IAM blade's scope (10,000; short 200) and identities listed (100,000; short 2,000).
	PortalAssignments, PortalIdentities int
	// ScaleSizes are the directory sizes of the scale curve (1,000, 100,000 and 1,000,000;
	// short 100 and 1,000), smallest first.
	ScaleSizes []int
}

func (s Scale) withDefaults(short bool) Scale {
	def := Scale{RBACAssignments: 1_000_000, ListIdentities: 100_000, CachedTokens: 1000, RunStarts: 20, Detaches: 10, ListWalks: 10, CreateWorkers: 8,
		PortalAssignments: 10_000, PortalIdentities: 100_000}
	if short {
		def = Scale{RBACAssignments: 100_000, ListIdentities: 2000, CachedTokens: 100, RunStarts: 3, Detaches: 3, ListWalks: 5, CreateWorkers: 8,
			PortalAssignments: 200, PortalIdentities: 2000}
	}
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&s.RBACAssignments, def.RBACAssignments)
	set(&s.ListIdentities, def.ListIdentities)
	set(&s.CachedTokens, def.CachedTokens)
	set(&s.RunStarts, def.RunStarts)
	set(&s.Detaches, def.Detaches)
	set(&s.ListWalks, def.ListWalks)
	set(&s.CreateWorkers, def.CreateWorkers)
	set(&s.PortalAssignments, def.PortalAssignments)
	set(&s.PortalIdentities, def.PortalIdentities)
	if len(s.ScaleSizes) == 0 {
		s.ScaleSizes = []int{1000, 100_000, 1_000_000}
		if short {
			s.ScaleSizes = []int{100, 1000}
		}
	}
	slices.Sort(s.ScaleSizes)
	return s
}

// Figure is one measured figure beside its ceiling.
type Figure struct {
	// Key names the figure for machines; it does not change with the scale of a run.
	Key   string  `json:"key"`
	Name  string  `json:"name"`
	Value float64 `json:"value"` // a rate, a size, or for a latency figure its median
	Unit  string  `json:"unit"`
	// P50 and P99 are latency percentiles in LatencyUnit: of each request for a rate figure,
	// of the figure itself for a latency figure.
	P50         float64 `json:"p50,omitempty"`
	P99         float64 `json:"p99,omitempty"`
	LatencyUnit string  `json:"latencyUnit,omitempty"`
	Ceiling     float64 `json:"ceiling,omitempty"` // what it is compared with, measured in the same run
	Ratio       float64 `json:"ratio,omitempty"`   // Value / Ceiling
	Goal        string  `json:"goal,omitempty"`
	// Target is Goal in numbers (nil where the figure has no goal); the chart marks it.
	Target *Target `json:"target,omitempty"`
	Note   string  `json:"note,omitempty"`
	// Skipped says why the figure was not measured (Value is then 0).
	Skipped string `json:"skipped,omitempty"`
}

// Report is a run's result.
type Report struct {
	Time     time.Time `json:"time"`
	CPUs     int       `json:"cpus"`
	GoVer    string    `json:"go"`
	Short    bool      `json:"short"`
	Duration string    `json:"durationPerMeasurement"`
	// LoadBefore and LoadAfter are /proc/loadavg at the start and the end: the bench shares
	// the machine with whatever else runs.
	LoadBefore string   `json:"loadBefore,omitempty"`
	LoadAfter  string   `json:"loadAfter,omitempty"`
	Elapsed    string   `json:"elapsed"`
	Figures    []Figure `json:"figures"`
}

func (r *Report) add(f ...Figure) { r.Figures = append(r.Figures, f...) }

// Run measures every figure.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.Binary = exe
	}
	if o.AgentBinary == "" {
		if beside := filepath.Join(filepath.Dir(o.Binary), "mint-agent"); isExecutable(beside) {
			o.AgentBinary = beside
		}
	}
	if o.Duration == 0 {
		o.Duration = 5 * time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4 * runtime.GOMAXPROCS(0)
	}
	if o.ColdStarts == 0 {
		o.ColdStarts = 5
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	o.Scale = o.Scale.withDefaults(o.Short)
	began := time.Now()
	rep := &Report{Time: began.UTC(), CPUs: runtime.NumCPU(), GoVer: runtime.Version(), Short: o.Short, Duration: o.Duration.String(), LoadBefore: loadAvg()}
	defer func() {
		rep.LoadAfter, rep.Elapsed = loadAvg(), time.Since(began).Round(time.Second).String()
	}()
	step := func(format string, args ...any) {
		fmt.Fprintf(o.Log, "[%5.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}

	want := func(g string) bool { return len(o.Only) == 0 && g != "scale" || slices.Contains(o.Only, g) }
	for _, g := range o.Only {
		if !slices.Contains(Groups, g) {
			return nil, fmt.Errorf("unknown group %q (groups: %s)", g, strings.Join(Groups, ", "))
		}
	}

	if want("coldstart") {
		step("timing mint dev cold starts ...")
		starts, err := coldStarts(ctx, o)
		if err != nil {
			return nil, err
		}
		rep.add(latencyFigure("devColdStart", "mint dev cold start", starts, "< 1000 ms", &Target{Max: 1000},
			fmt.Sprintf("%d starts, fresh data dir each, from exec to the ready file", len(starts))))
	}

	if want("tokens") || want("vault") || want("detach") || want("create") || want("agent") || want("nodeproxy") || want("people") {
		step("starting mint dev for the load ...")
		inst, err := startDev(ctx, o.Binary, "")
		if err != nil {
			return nil, err
		}
		defer inst.stop()
		if err := loadFigures(ctx, o, rep, inst, want, step); err != nil {
			return nil, err
		}
		inst.stop()
	}

	if want("rbac") {
		step("RBAC decisions with %s assignments (in process) ...", commas(o.Scale.RBACAssignments))
		rep.add(rbacFigures(o.Scale.RBACAssignments)...)
		debug.FreeOSMemory() // the index is garbage now; give its memory back before the next mint starts
	}

	if want("postgres") {
		if o.PostgresURL == "" {
			rep.add(Figure{Key: "identityCreatePostgreSQL", Name: "identity creates per second through ARM (PostgreSQL)", Unit: "identities/s", Goal: ">= 500/s", Target: &Target{Min: 500},
				Skipped: "skipped: no PostgreSQL", Note: "pass --postgres-url (or set MINT_TEST_POSTGRES_URL) to measure it"})
		} else {
			step("identity creates through ARM on PostgreSQL ...")
			f, err := postgresCreateRate(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("identity create rate (PostgreSQL): %w", err)
			}
			rep.add(f)
		}
	}

	if want("list") {
		step("list latency at %s identities (seeding them first) ...", commas(o.Scale.ListIdentities))
		fs, err := listFigures(ctx, o, began, step)
		if err != nil {
			return nil, fmt.Errorf("list figures: %w", err)
		}
		rep.add(fs...)
	}
	if want("portal") {
		step("portal pages at %s role assignments and %s identities (seeding them first) ...", commas(o.Scale.PortalAssignments), commas(o.Scale.PortalIdentities))
		fs, err := portalFigures(ctx, o, step)
		if err != nil {
			return nil, fmt.Errorf("portal figures: %w", err)
		}
		rep.add(fs...)
	}
	if o.ScaleCurve || want("scale") {
		fs, err := scaleFigures(ctx, o, step)
		if err != nil {
			return nil, fmt.Errorf("scale figures: %w", err)
		}
		rep.add(fs...)
	}
	step("done")
	return rep, nil
}

// loadFigures are the figures measured against one running mint dev.
func loadFigures(ctx context.Context, o Options, rep *Report, inst *instance, want func(string) bool, step func(string, ...any)) error {
	if want("tokens") {
		step("token issuance through HTTPS, and raw RSA-2048 PKCS#1 v1.5 signing ...")
		issued, raw, err := tokenFigures(ctx, inst, o.Duration, o.Concurrency)
		if err != nil {
			return err
		}
		rep.add(
			withLatency(Figure{Key: "tokenIssuance", Name: "fresh app tokens issued per second (HTTPS, client_credentials)", Value: issued.rate(), Unit: "tokens/s",
				Ceiling: raw.rate(), Ratio: issued.rate() / raw.rate(), Goal: ">= 0.85 x raw RSA signing", Target: &Target{MinRatio: 0.85},
				Note: joinNotes(fmt.Sprintf("%d concurrent keep-alive clients on the same machine, 4 rounds alternating with raw signing; each token a new RS256 signature", o.Concurrency),
					cpuNote(issued, raw, runtime.NumCPU()))}, issued.lat),
			withLatency(Figure{Key: "rawRSASign", Name: "raw rsa.SignPKCS1v15 per second (all cores)", Value: raw.rate(), Unit: "signatures/s",
				Note: fmt.Sprintf("RSA-2048, SHA-256, %d goroutines (one per core): the ceiling of token issuance; p50/p99 per signature", runtime.GOMAXPROCS(0))}, raw.lat),
		)
	}

	if want("vault") {
		step("vault secret GETs through HTTPS, and a bare TLS handler ...")
		vf, err := VaultGetRate(ctx, inst.env, o.Duration, o.Concurrency)
		if err != nil {
			return fmt.Errorf("vault figure: %w", err)
		}
		rep.add(
			Figure{Key: "vaultSecretGet", Name: "vault secret GETs per second (HTTPS; bearer, revocation, RBAC, decrypt)", Value: vf.Vault, Unit: "requests/s",
				Ceiling: vf.Bare, Ratio: vf.Vault / vf.Bare, P50: ms(vf.VaultP50), P99: ms(vf.VaultP99), LatencyUnit: "ms",
				Goal: ">= 0.7 x bare TLS handler", Target: &Target{MinRatio: 0.7}, Note: fmt.Sprintf("concurrency %d, keep-alive HTTP/1.1, same body", o.Concurrency)},
			Figure{Key: "bareTLSHandler", Name: "bare net/http TLS handler requests per second", Value: vf.Bare, Unit: "requests/s",
				P50: ms(vf.BareP50), P99: ms(vf.BareP99), LatencyUnit: "ms", Note: "the ceiling of the vault figure: the same response bytes"},
		)
	}

	if want("people") {
		step("refresh-token redemptions and password sign-ins, with a password spray ...")
		fs, err := peopleFigures(ctx, o, inst)
		if err != nil {
			return fmt.Errorf("people figures: %w", err)
		}
		rep.add(fs...)
	}

	c, err := newMgmt(inst.env, 2*o.Concurrency)
	if err != nil {
		return err
	}
	if want("detach") {
		step("detach to refusal (%d detaches) ...", o.Scale.Detaches)
		f, err := detachToRefusal(ctx, c, o.Scale.Detaches)
		if err != nil {
			return fmt.Errorf("detach figure: %w", err)
		}
		rep.add(f)
		step("revocation at the agent (%d detaches) ...", o.Scale.Detaches)
		if f, err = agentRevocation(ctx, c, o.Scale.Detaches); err != nil {
			return fmt.Errorf("agent revocation figure: %w", err)
		}
		rep.add(f)
	}

	if want("create") {
		step("identity creates through ARM on SQLite ...")
		f, err := createRate(ctx, c, "SQLite", o.Duration, o.Scale.CreateWorkers)
		if err != nil {
			return fmt.Errorf("identity create rate (SQLite): %w", err)
		}
		rep.add(f)
	}

	if want("nodeproxy") {
		step("vault GETs through a node agent's Azure-name proxy ...")
		fs, err := nodeProxyFigures(ctx, o, c, inst.cmd.Process.Pid, step)
		if err != nil {
			return fmt.Errorf("node-proxy figures: %w", err)
		}
		rep.add(fs...)
	}

	if want("agent") {
		step("node agent: cached tokens, mint run, RSS ...")
		fs, err := agentFigures(ctx, o, inst, c, step)
		if err != nil {
			return fmt.Errorf("agent figures: %w", err)
		}
		rep.add(fs...)
	}
	return nil
}

// latencyFigure is a figure whose value is the median of ds, in milliseconds.
func latencyFigure(key, name string, ds []time.Duration, goal string, target *Target, note string) Figure {
	return Figure{Key: key, Name: name, Value: ms(median(ds)), Unit: "ms", P50: ms(median(ds)), P99: ms(percentile(ds, 99)), LatencyUnit: "ms", Goal: goal, Target: target, Note: note}
}

// withLatency sets a rate figure's request latency percentiles.
func withLatency(f Figure, lat []time.Duration) Figure {
	f.P50, f.P99, f.LatencyUnit = ms(percentile(lat, 50)), ms(percentile(lat, 99)), "ms"
	return f
}

// WriteTable prints the report for people: the figures, then the notes.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tp50\tp99\tceiling (same run)\tratio\tgoal")
	for _, f := range r.Figures {
		if f.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t%s\n", f.Name, f.Skipped, f.Goal)
			continue
		}
		p50, p99, ceiling, ratio := "", "", "", ""
		if f.LatencyUnit != "" {
			p50, p99 = num(f.P50)+" "+f.LatencyUnit, num(f.P99)+" "+f.LatencyUnit
		}
		if f.Ceiling != 0 {
			ceiling = num(f.Ceiling)
			ratio = fmt.Sprintf("%.2f", f.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s\t%s\n", f.Name, num(f.Value), f.Unit, p50, p99, ceiling, ratio, f.Goal)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d CPUs, %s, %s per throughput measurement, %s in all; load average before %s, after %s\n",
		r.CPUs, r.GoVer, r.Duration, r.Elapsed, r.LoadBefore, r.LoadAfter)
	for _, f := range r.Figures {
		if f.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", f.Name, f.Note)
		}
	}
}

// WriteMarkdown writes the figures as a Markdown table, and the run's circumstances below it
// (docs/benchmarks.md quotes it).
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintln(w, "| Figure | Value | p50 | p99 | Ceiling (same run) | Ratio | Goal |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|")
	for _, f := range r.Figures {
		if f.Skipped != "" {
			fmt.Fprintf(w, "| %s | %s | | | | | %s |\n", f.Name, f.Skipped, f.Goal)
			continue
		}
		p50, p99, ceiling, ratio := "", "", "", ""
		if f.LatencyUnit != "" {
			p50, p99 = num(f.P50)+" "+f.LatencyUnit, num(f.P99)+" "+f.LatencyUnit
		}
		if f.Ceiling != 0 {
			ceiling, ratio = num(f.Ceiling), fmt.Sprintf("%.2f", f.Ratio)
		}
		fmt.Fprintf(w, "| %s | %s %s | %s | %s | %s | %s | %s |\n", f.Name, num(f.Value), f.Unit, p50, p99, ceiling, ratio, f.Goal)
	}
	fmt.Fprintf(w, "\n%s, %d CPUs, %s, %s per throughput measurement, %s in all; load average (1, 5, 15 min) %s before, %s after.\n",
		r.Time.Format("2006-01-02 15:04 UTC"), r.CPUs, r.GoVer, r.Duration, r.Elapsed, r.LoadBefore, r.LoadAfter)
}

// num prints a value with a precision that suits its size.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// loadAvg is the first three fields of /proc/loadavg ("" where there is none).
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// instance is a started mint dev.
type instance struct {
	cmd      *exec.Cmd
	dir      string
	keepDir  bool // stop leaves dir in place
	env      map[string]string
	done     chan struct{}
	stopOnce sync.Once
}

// startDev starts `mint dev` on loopback (free ports, no proxy) in dir (a new temporary
// directory when ""; removed by stop) and waits for its ready file. extra are more flags.
func startDev(ctx context.Context, binary, dir string, extra ...string) (*instance, error) {
	keep := dir != ""
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "mint-bench-"); err != nil {
			return nil, err
		}
	}
	os.Remove(filepath.Join(dir, "ready")) // a previous run's
	args := append([]string{"dev", "--addr", "127.0.0.1:0", "--agent-addr", "127.0.0.1:0", "--proxy-addr", "", "--data-dir", dir, "--log-level", "warn"}, extra...)
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	inst := &instance{cmd: cmd, dir: dir, keepDir: keep, done: make(chan struct{})}
	go func() { cmd.Wait(); close(inst.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		select {
		case <-inst.done:
			inst.stop()
			return nil, fmt.Errorf("mint dev exited: %s", out.String())
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			inst.stop()
			return nil, fmt.Errorf("mint dev not ready within 60 s: %s", out.String())
		}
	}
	inst.env = readEnv(filepath.Join(dir, "env"))
	return inst, nil
}

// stop stops mint dev (SIGINT, then SIGKILL after 10 s) and removes its directory unless it
// was given. It may be called more than once.
func (i *instance) stop() {
	i.stopOnce.Do(func() {
		i.cmd.Process.Signal(os.Interrupt)
		select {
		case <-i.done:
		case <-time.After(10 * time.Second):
			i.cmd.Process.Kill()
			<-i.done
		}
		if !i.keepDir {
			os.RemoveAll(i.dir)
		}
	})
}

// cleanEnv is this process's environment without the variables that would change what a
// started mint does (every flag has a MINT_<FLAG> fallback).
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch up := strings.ToUpper(name); {
		case up == "MINT_CPUPROFILE": // profiles of the started processes (cmd/mint)
		case strings.HasPrefix(up, "MINT_"), strings.HasPrefix(up, "AZURE_"), strings.HasPrefix(up, "IDENTITY_"), strings.HasPrefix(up, "MSI_"),
			up == "HTTP_PROXY", up == "HTTPS_PROXY", up == "ALL_PROXY", up == "NO_PROXY":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func readEnv(path string) map[string]string {
	data, _ := os.ReadFile(path)
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if ok {
			env[k] = strings.Trim(v, "'")
		}
	}
	return env
}

func coldStarts(ctx context.Context, o Options) ([]time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < o.ColdStarts; i++ {
		began := time.Now()
		inst, err := startDev(ctx, o.Binary, "")
		if err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(began))
		inst.stop()
	}
	return ds, nil
}

// tokenFigures: fresh app tokens through the token endpoint (client_credentials with the admin's
// secret, each a new RS256 signature) beside the ceiling, raw RSA-2048 PKCS#1 v1.5 signing on
// every core, in alternating rounds so that a change in the machine's load touches both alike.
func tokenFigures(ctx context.Context, inst *instance, d time.Duration, concurrency int) (issued, raw stats, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return issued, raw, err
	}
	digest := sha256.Sum256([]byte("a token's signing input"))
	sign := func(int) error {
		_, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
		return err
	}
	pem, err := os.ReadFile(inst.env["MINT_CA_FILE"])
	if err != nil {
		return issued, raw, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: concurrency}}
	endpoint := inst.env["MINT_ENDPOINT"] + "/" + inst.env["AZURE_TENANT_ID"] + "/oauth2/v2.0/token"
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {inst.env["AZURE_CLIENT_ID"]},
		"client_secret": {inst.env["AZURE_CLIENT_SECRET"]}, "scope": {"https://vault.azure.net/.default"}}.Encode()
	post := func(int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.AccessToken == "" {
			return fmt.Errorf("token request: HTTP %d", resp.StatusCode)
		}
		return nil
	}
	const rounds = 4
	for range rounds {
		s, err := loadOn(ctx, inst, d/rounds, runtime.GOMAXPROCS(0), sign)
		if err != nil {
			return issued, raw, err
		}
		raw = raw.add(s)
		if s, err = loadOn(ctx, inst, d/rounds, concurrency, post); err != nil {
			return issued, raw, err
		}
		issued = issued.add(s)
	}
	return issued, raw, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
