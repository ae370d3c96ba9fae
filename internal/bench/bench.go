// Package bench measures mint's figures, each beside the ceiling it is judged against, measured
// on the same machine in the same run: token issuance through the HTTP endpoint against raw RSA
// signing, vault secret reads against a bare TLS handler, and `mint dev`'s cold start. It drives
// a real `mint dev` process over loopback.
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
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Options control a run.
type Options struct {
	// Binary is the mint executable to start (default: this executable).
	Binary string
	// Duration of each throughput measurement.
	Duration time.Duration
	// Concurrency of the HTTP load (default 4 × GOMAXPROCS).
	Concurrency int
	// ColdStarts is how many `mint dev` starts are timed.
	ColdStarts int
	Log        io.Writer
}

// Figure is one measured figure beside its ceiling.
type Figure struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Ceiling float64 `json:"ceiling,omitempty"` // what it is compared with, measured in the same run
	Ratio   float64 `json:"ratio,omitempty"`   // Value / Ceiling
	Goal    string  `json:"goal,omitempty"`
	Note    string  `json:"note,omitempty"`
}

// Report is a run's result.
type Report struct {
	Time     time.Time `json:"time"`
	CPUs     int       `json:"cpus"`
	GoVer    string    `json:"go"`
	Duration string    `json:"durationPerMeasurement"`
	Figures  []Figure  `json:"figures"`
}

// Run measures every figure.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.Binary = exe
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
	rep := &Report{Time: time.Now().UTC(), CPUs: runtime.NumCPU(), GoVer: runtime.Version(), Duration: o.Duration.String()}

	fmt.Fprintln(o.Log, "timing mint dev cold starts ...")
	starts, err := coldStarts(ctx, o)
	if err != nil {
		return nil, err
	}
	rep.Figures = append(rep.Figures, Figure{Name: "mint dev cold start (median)", Value: ms(median(starts)), Unit: "ms", Goal: "< 1000 ms",
		Note: fmt.Sprintf("%d starts, fresh data dir each, exec to ready file; max %.0f ms", len(starts), ms(slices.Max(starts)))})

	fmt.Fprintln(o.Log, "starting mint dev for the load ...")
	inst, err := startDev(ctx, o.Binary, "")
	if err != nil {
		return nil, err
	}
	defer inst.stop()

	fmt.Fprintln(o.Log, "raw RSA-2048 PKCS#1 v1.5 signing ...")
	raw := rawSignRate(o.Duration)
	fmt.Fprintln(o.Log, "token issuance through HTTPS ...")
	issued, lat, err := tokenLoad(ctx, inst, o.Duration, o.Concurrency)
	if err != nil {
		return nil, err
	}
	rep.Figures = append(rep.Figures,
		Figure{Name: "fresh app tokens issued per second (HTTPS, client_credentials)", Value: issued, Unit: "tokens/s", Ceiling: raw, Ratio: issued / raw, Goal: ">= 0.7 x raw RSA signing",
			Note: fmt.Sprintf("concurrency %d, keep-alive; load generator on the same machine", o.Concurrency)},
		Figure{Name: "raw rsa.SignPKCS1v15 per second (all cores)", Value: raw, Unit: "signatures/s"},
		Figure{Name: "token request latency p50", Value: ms(percentile(lat, 50)), Unit: "ms"},
		Figure{Name: "token request latency p99", Value: ms(percentile(lat, 99)), Unit: "ms"},
	)

	fmt.Fprintln(o.Log, "vault secret GETs through HTTPS, and a bare TLS handler ...")
	vf, err := VaultGetRate(ctx, inst.env, o.Duration, o.Concurrency)
	if err != nil {
		return nil, fmt.Errorf("vault figure: %w", err)
	}
	rep.Figures = append(rep.Figures,
		Figure{Name: "vault secret GETs per second (HTTPS; bearer, revocation, RBAC, decrypt)", Value: vf.Vault, Unit: "requests/s", Ceiling: vf.Bare, Ratio: vf.Vault / vf.Bare,
			Goal: ">= 0.4 x bare TLS handler", Note: fmt.Sprintf("concurrency %d, keep-alive HTTP/1.1, same body; p50 %.2f ms, p99 %.2f ms", o.Concurrency, ms(vf.VaultP50), ms(vf.VaultP99))},
		Figure{Name: "bare net/http TLS handler requests per second", Value: vf.Bare, Unit: "requests/s",
			Note: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", ms(vf.BareP50), ms(vf.BareP99))},
		Figure{Name: "vault secret GET latency p99", Value: ms(vf.VaultP99), Unit: "ms"},
	)
	return rep, nil
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tceiling (same run)\tratio\tgoal")
	for _, f := range r.Figures {
		ceiling, ratio := "", ""
		if f.Ceiling != 0 {
			ceiling = fmt.Sprintf("%.0f", f.Ceiling)
			ratio = fmt.Sprintf("%.2f", f.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%.1f %s\t%s\t%s\t%s\n", f.Name, f.Value, f.Unit, ceiling, ratio, f.Goal)
	}
	tw.Flush()
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
	cmd  *exec.Cmd
	dir  string
	env  map[string]string
	done chan struct{}
}

func startDev(ctx context.Context, binary, dir string) (*instance, error) {
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "mint-bench-"); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, binary, "dev", "--addr", "127.0.0.1:0", "--agent-addr", "127.0.0.1:0", "--proxy-addr", "", "--data-dir", dir, "--log-level", "warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	inst := &instance{cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() { cmd.Wait(); close(inst.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		select {
		case <-inst.done:
			return nil, fmt.Errorf("mint dev exited: %s", out.String())
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			inst.stop()
			return nil, fmt.Errorf("mint dev not ready within 30 s: %s", out.String())
		}
	}
	inst.env = readEnv(filepath.Join(dir, "env"))
	return inst, nil
}

func (i *instance) stop() {
	i.cmd.Process.Signal(os.Interrupt)
	select {
	case <-i.done:
	case <-time.After(10 * time.Second):
		i.cmd.Process.Kill()
		<-i.done
	}
	os.RemoveAll(i.dir)
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

// rawSignRate is the ceiling: RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on every core.
func rawSignRate(d time.Duration) float64 {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	digest := sha256.Sum256([]byte("mint"))
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err == nil {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// tokenLoad posts client_credentials requests for a fresh token each, with keep-alive, for d.
func tokenLoad(ctx context.Context, inst *instance, d time.Duration, concurrency int) (float64, []time.Duration, error) {
	pem, err := os.ReadFile(inst.env["MINT_CA_FILE"])
	if err != nil {
		return 0, nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: concurrency}}
	endpoint := inst.env["MINT_ENDPOINT"] + "/" + inst.env["AZURE_TENANT_ID"] + "/oauth2/v2.0/token"
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {inst.env["AZURE_CLIENT_ID"]},
		"client_secret": {inst.env["AZURE_CLIENT_SECRET"]}, "scope": {"https://vault.azure.net/.default"}}.Encode()
	post := func() error {
		resp, err := client.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader(form))
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
	for i := 0; i < concurrency; i++ { // warm up connections
		if err := post(); err != nil {
			return 0, nil, err
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	began := time.Now()
	stop := began.Add(d)
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) && ctx.Err() == nil {
				t := time.Now()
				if err := post(); err != nil {
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
