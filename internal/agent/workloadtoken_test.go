package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// workloadUpstream is a fakeUpstream that also issues workload tokens, recording what it was
// asked for.
type workloadUpstream struct {
	*fakeUpstream
	mu    sync.Mutex
	asked []string // resourceID|audience
}

func (w *workloadUpstream) WorkloadToken(_ context.Context, resourceID, audience string) (WorkloadToken, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.asked = append(w.asked, resourceID+"|"+audience)
	return WorkloadToken{Token: "wt-" + resourceID, Issuer: "https://mint.example/t/v2.0", Subject: "mint:resource:" + resourceID,
		Audience: audience, TenantID: "t", AuthorityHost: "https://mint.example", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// A workload token is given only for the resource a live registration names, by its secret.
func TestSocketWorkloadToken(t *testing.T) {
	sock := t.TempDir() + "/agent.sock"
	up := &workloadUpstream{fakeUpstream: newFakeUpstream()}
	startAgent(t, up, func(c *Config) { c.SocketPath = sock })
	ctx := t.Context()
	c, err := Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg, err := c.Register(ctx, webID, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.WorkloadToken(ctx, reg.Secret, "api://AzureADTokenExchange")
	if err != nil || tok.Token != "wt-"+webID || tok.AuthorityHost != "https://mint.example" || tok.ExpiresOn.Before(time.Now()) {
		t.Fatalf("workload token = %+v, %v", tok, err)
	}
	for _, secret := range []string{"", "not-a-secret"} {
		if _, err := c.WorkloadToken(ctx, secret, ""); err == nil || !strings.Contains(err.Error(), "no workload is registered with that secret") {
			t.Errorf("secret %q: %v, want a refusal", secret, err)
		}
	}
	if err := c.Unregister(ctx, reg.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WorkloadToken(ctx, reg.Secret, ""); err == nil {
		t.Error("a revoked secret still gets workload tokens")
	}
	if len(up.asked) != 1 || up.asked[0] != webID+"|api://AzureADTokenExchange" {
		t.Errorf("upstream asked for %v", up.asked)
	}

	// An agent whose upstream cannot issue them says so.
	sock2 := t.TempDir() + "/agent.sock"
	startAgent(t, newFakeUpstream(), func(c *Config) { c.SocketPath = sock2 })
	c2, err := Dial(ctx, sock2)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	reg2, err := c2.Register(ctx, webID, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.WorkloadToken(ctx, reg2.Secret, ""); err == nil || !strings.Contains(err.Error(), "cannot issue workload tokens") {
		t.Errorf("agent without workload tokens: %v", err)
	}
}

// The token file is written owner-only, replaced whole, and refreshed at half-life.
func TestRefreshTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "token")
	if err := writeTokenFile(path, "first"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %v %v", fi, err)
	}
	var n int
	fetch := func(context.Context) (WorkloadToken, error) {
		n++
		return WorkloadToken{Token: "fresh", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A token with 40 ms to live is refreshed after about 20 ms.
		refreshTokenFile(ctx, os.Stderr, path, WorkloadToken{Token: "first", ExpiresOn: time.Now().Add(40 * time.Millisecond)}, fetch)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if string(data) == "fresh" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token file still %q", data)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if n != 1 {
		t.Errorf("%d fetches, want 1 (the next is due in 30 minutes)", n)
	}
}
