package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// TestSlowClientsDoNotStarveOthers: 1,200 connections from six other loopback addresses
// (127.0.0.2-7), opened over about 2.4 s, each start a token request announcing a 60,000-byte body and send one byte of it
// a second. mint dev runs with --read-timeout 3s, --max-conns 1200 and --max-conns-per-client
// 150: each address holds at most 150 connections, the rest are closed at accept, and every held
// connection is cut when its request's read deadline passes. Meanwhile clients on 127.0.0.1 get
// /healthz and tokens (azidentity's ClientSecretCredential) as usual. The figures are logged (and
// quoted in docs/operations.md).
func TestSlowClientsDoNotStarveOthers(t *testing.T) {
	const (
		readTimeout  = 3 * time.Second
		perClient    = 150
		addresses    = 6
		perAddress   = 200
		bodyAnnounce = 60000
	)
	m := startMint(t, options{extra: []string{"--read-timeout", readTimeout.String(), "--max-conns", "1200",
		"--max-conns-per-client", fmt.Sprint(perClient)}})
	u, _ := url.Parse(m.URL)
	tokenPath := "/" + m.Env["AZURE_TENANT_ID"] + "/oauth2/v2.0/token"

	type result struct {
		held     bool          // the TLS handshake and the request head went through
		lifetime time.Duration // from the request head until mint closed it (held), or from connect until refused
	}
	results := make([]result, addresses*perAddress)
	var wg sync.WaitGroup
	var opened, concurrent, maxConcurrent atomic.Int64
	var dialErr atomic.Value
	start := time.Now()
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 2 * time.Millisecond) // a ramp, not one burst of handshakes
			src := net.IPv4(127, 0, 0, byte(2+i%addresses))
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
			t0 := time.Now()
			raw, err := d.Dial("tcp", u.Host)
			if err != nil {
				dialErr.CompareAndSwap(nil, err.Error())
				results[i].lifetime = time.Since(t0)
				return
			}
			defer raw.Close()
			opened.Add(1)
			c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) // #nosec G402 -- the slow client does not care whom it starves
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", tokenPath, u.Host, bodyAnnounce)
			if err := c.Handshake(); err != nil {
				results[i].lifetime = time.Since(t0)
				return
			}
			if _, err := io.WriteString(c, head); err != nil {
				results[i].lifetime = time.Since(t0)
				return
			}
			results[i].held = true
			t0 = time.Now()
			for n := concurrent.Add(1); ; {
				if m := maxConcurrent.Load(); n <= m || maxConcurrent.CompareAndSwap(m, n) {
					break
				}
			}
			defer concurrent.Add(-1)
			// One byte a second until mint closes the connection (a write or the read fails).
			gone := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, c); close(gone) }()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-gone:
					results[i].lifetime = time.Since(t0)
					return
				case <-tick.C:
					if _, err := c.Write([]byte("a")); err != nil {
						<-gone
						results[i].lifetime = time.Since(t0)
						return
					}
				}
			}
		}()
	}

	// While they hold their connections: others' /healthz and tokens.
	time.Sleep(2 * time.Second)
	var healthz, tokens []time.Duration
	for range 5 {
		t0 := time.Now()
		tr := &http.Transport{DisableKeepAlives: true}
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(m.URL + "/healthz")
		if err != nil {
			t.Fatalf("/healthz while slow clients hold connections: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/healthz: %d", resp.StatusCode)
		}
		healthz = append(healthz, time.Since(t0))
		t0 = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = m.adminCredential(t).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
		cancel()
		if err != nil {
			t.Fatalf("token while slow clients hold connections: %v", err)
		}
		tokens = append(tokens, time.Since(t0))
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	total := time.Since(start)

	var held, refused int
	var heldLife, refusedLife []time.Duration
	for _, r := range results {
		if r.held {
			held++
			heldLife = append(heldLife, r.lifetime)
		} else {
			refused++
			refusedLife = append(refusedLife, r.lifetime)
		}
	}
	slices.Sort(heldLife)
	slices.Sort(refusedLife)
	slices.Sort(healthz)
	slices.Sort(tokens)
	pct := func(d []time.Duration, p int) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[(len(d)-1)*p/100].Round(time.Millisecond)
	}
	t.Logf("slow clients: %d connections from %d addresses (%d connected; first dial error %v); held %d, at most %d at once (limit %d per address), refused %d (closed at accept, or the TLS handshake not done within the deadline)",
		len(results), addresses, opened.Load(), dialErr.Load(), held, maxConcurrent.Load(), perClient, refused)
	t.Logf("held connections lived p50 %v, max %v after their request head (read timeout %v); refused ones were closed after p50 %v, max %v",
		pct(heldLife, 50), pct(heldLife, 100), readTimeout, pct(refusedLife, 50), pct(refusedLife, 100))
	t.Logf("meanwhile from 127.0.0.1: /healthz p50 %v max %v; tokens p50 %v max %v; whole run %v",
		pct(healthz, 50), pct(healthz, 100), pct(tokens, 50), pct(tokens, 100), total.Round(time.Millisecond))
	if n := maxConcurrent.Load(); n > addresses*perClient {
		t.Errorf("held %d connections at once, more than %d addresses x %d", n, addresses, perClient)
	}
	if max := pct(heldLife, 100); max > readTimeout+2*time.Second {
		t.Errorf("a slow connection lived %v, past the %v read deadline", max, readTimeout)
	}
}
