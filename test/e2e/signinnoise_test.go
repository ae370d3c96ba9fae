package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// storeBytes is the size of the SQLite store's files (database, WAL, shared memory).
func storeBytes(t *testing.T, dataDir string) int64 {
	t.Helper()
	var n int64
	for _, name := range []string{"mint.db", "mint.db-wal", "mint.db-shm"} {
		if fi, err := os.Stat(filepath.Join(dataDir, name)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// metricValue reads one sample of mint's /metrics.
func (m *mint) metricValue(t *testing.T, name string) float64 {
	t.Helper()
	status, body := m.get("/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// 20,000 token requests for a tenant that does not exist (anyone on the network can send them)
// are counted, not stored: the SQLite files grow by a bounded amount, where they grew from
// 9.7 MB to 34 MB when each refusal was a row.
func TestSignInNoiseDoesNotGrowTheStore(t *testing.T) {
	m := startMint(t, options{})
	before := storeBytes(t, m.dataDir)
	const requests, workers = 20_000, 16
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"00000000-1111-2222-3333-444444444444"},
		"client_secret": {"x"}, "scope": {"https://vault.azure.net/.default"}}.Encode()
	client := httpClient()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < requests; i += workers {
				resp, err := client.Post(m.URL+fmt.Sprintf("/%08x-0000-4000-8000-000000000000/oauth2/v2.0/token", i),
					"application/x-www-form-urlencoded", strings.NewReader(form))
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					errs <- fmt.Errorf("status %d, want 400 (AADSTS90002)", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	time.Sleep(500 * time.Millisecond) // a few flush intervals
	after := storeBytes(t, m.dataDir)
	counted := m.metricValue(t, "mint_signin_anonymous_refusals_total")
	t.Logf("%d refused requests in %v: store files %d -> %d bytes (+%d); %v counted as anonymous refusals",
		requests, elapsed.Round(time.Millisecond), before, after, after-before, counted)
	if counted < requests {
		t.Errorf("mint_signin_anonymous_refusals_total = %v, want at least %d", counted, requests)
	}
	if grew := after - before; grew > 1<<20 {
		t.Errorf("the store grew by %d bytes for %d anonymous refusals; want at most 1 MiB", grew, requests)
	}
	if dropped := m.metricValue(t, "mint_signin_log_dropped_total"); dropped != 0 {
		t.Errorf("mint_signin_log_dropped_total = %v with the store up", dropped)
	}
}
