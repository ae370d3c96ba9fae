package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mint-id/mint/internal/directory"
)

// The people figures: a signed-in user's refresh-token redemptions beside raw RSA signing, and
// password sign-ins, with the token rate other clients keep while ten times as many wrong
// passwords arrive (Argon2id is expensive on purpose; its concurrency cap is what keeps the rest
// of the server answering).

// azureCLIClientID is the Azure CLI's public client id, which mint knows as a first-party app.
const azureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// tokenAnswer is what the bench reads of a token endpoint response.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ErrorCodes   []int  `json:"error_codes"`
}

// stsClient posts forms to one mint's token endpoint.
type stsClient struct {
	hc       *http.Client
	endpoint string
}

func (c *stsClient) post(ctx context.Context, form url.Values) (int, tokenAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, tokenAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, tokenAnswer{}, err
	}
	defer resp.Body.Close()
	var a tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return resp.StatusCode, a, fmt.Errorf("token endpoint: HTTP %d: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, a, nil
}

func peopleFigures(ctx context.Context, o Options, inst *instance) ([]Figure, error) {
	var dev struct {
		UserPrincipalName string `json:"userPrincipalName"`
		Password          string `json:"password"`
	}
	b, err := os.ReadFile(filepath.Join(inst.dir, "developer.json"))
	if err != nil {
		return nil, fmt.Errorf("the developer's credentials: %w", err)
	}
	if err := json.Unmarshal(b, &dev); err != nil || dev.UserPrincipalName == "" || dev.Password == "" {
		return nil, fmt.Errorf("developer.json: no userPrincipalName and password (%v)", err)
	}
	m, err := newMgmt(inst.env, 8*o.Concurrency)
	if err != nil {
		return nil, err
	}
	c := &stsClient{hc: m.hc, endpoint: m.endpoint + "/" + inst.env["AZURE_TENANT_ID"] + "/oauth2/v2.0/token"}
	const userScope = managementScope + " offline_access"
	password := func(user, pass string) url.Values {
		return url.Values{"grant_type": {"password"}, "client_id": {azureCLIClientID}, "username": {user}, "password": {pass}, "scope": {userScope}}
	}
	signIn := func(int) error {
		status, a, err := c.post(ctx, password(dev.UserPrincipalName, dev.Password))
		if err == nil && (status != http.StatusOK || a.AccessToken == "") {
			err = fmt.Errorf("password sign-in: HTTP %d %v", status, a.ErrorCodes)
		}
		return err
	}

	// Refresh: each worker signs in once, then redeems its refresh token and keeps the new one,
	// as a client does.
	rts := make([]string, o.Concurrency)
	for w := range rts {
		status, a, err := c.post(ctx, password(dev.UserPrincipalName, dev.Password))
		if err != nil || status != http.StatusOK || a.RefreshToken == "" {
			return nil, fmt.Errorf("sign the developer in: HTTP %d %v %v", status, a.ErrorCodes, err)
		}
		rts[w] = a.RefreshToken
	}
	redeem := func(w int) error {
		status, a, err := c.post(ctx, url.Values{"grant_type": {"refresh_token"}, "client_id": {azureCLIClientID},
			"refresh_token": {rts[w]}, "scope": {userScope}})
		if err == nil && (status != http.StatusOK || a.AccessToken == "" || a.RefreshToken == "") {
			err = fmt.Errorf("refresh token redemption: HTTP %d %v", status, a.ErrorCodes)
		}
		if err == nil {
			rts[w] = a.RefreshToken
		}
		return err
	}
	sign, err := rawSigner()
	if err != nil {
		return nil, err
	}
	refreshed, raw := stats{}, stats{}
	for range 4 { // alternating rounds, as the client-credentials figure
		s, err := loadOn(ctx, inst, o.Duration/4, runtime.GOMAXPROCS(0), sign)
		if err != nil {
			return nil, err
		}
		raw = raw.add(s)
		if s, err = loadOn(ctx, inst, o.Duration/4, o.Concurrency, redeem); err != nil {
			return nil, err
		}
		refreshed = refreshed.add(s)
	}

	// Password sign-ins alone, then other clients alone, then other clients while ten times the
	// sign-in rate of wrong passwords arrives, each for a different unknown user (as a spraying
	// attacker's would; wrong passwords for one user would only lock that user out).
	signIns, err := loadFor(ctx, o.Duration/2, o.Concurrency, signIn)
	if err != nil {
		return nil, err
	}
	others := func(int) error {
		status, a, err := c.post(ctx, url.Values{"grant_type": {"client_credentials"}, "client_id": {inst.env["AZURE_CLIENT_ID"]},
			"client_secret": {inst.env["AZURE_CLIENT_SECRET"]}, "scope": {"https://vault.azure.net/.default"}})
		if err == nil && (status != http.StatusOK || a.AccessToken == "") {
			err = fmt.Errorf("client credentials: HTTP %d %v", status, a.ErrorCodes)
		}
		return err
	}
	unloaded, err := loadFor(ctx, o.Duration/2, o.Concurrency, others)
	if err != nil {
		return nil, err
	}
	domain := dev.UserPrincipalName[strings.LastIndexByte(dev.UserPrincipalName, '@')+1:]
	attack := newSpray(c, 10*signIns.rate(), 4*o.Concurrency, func(i int64) url.Values {
		return password(fmt.Sprintf("spray-%d@%s", i, domain), "Wrong-password-1")
	})
	actx, stopAttack := context.WithCancel(ctx)
	attackDone := make(chan struct{})
	go func() { attack.run(actx); close(attackDone) }()
	loaded, err := loadFor(ctx, o.Duration/2, o.Concurrency, others)
	stopAttack()
	<-attackDone
	if err != nil {
		return nil, err
	}
	return []Figure{
		withLatency(Figure{Key: "refreshRedemption", Name: "refresh-token redemptions per second (HTTPS, grant_type=refresh_token)", Value: refreshed.rate(), Unit: "tokens/s",
			Ceiling: raw.rate(), Ratio: refreshed.rate() / raw.rate(), Goal: ">= 0.7 x raw RSA signing", Target: &Target{MinRatio: 0.7},
			Note: joinNotes(fmt.Sprintf("%d workers, each rotating its own refresh token (the developer user, the Azure CLI's client id, ARM scope); 4 rounds alternating with raw RSA-2048 signing (%.0f/s)",
				o.Concurrency, raw.rate()), cpuNote(refreshed, raw, runtime.NumCPU()))}, refreshed.lat),
		withLatency(Figure{Key: "passwordSignIn", Name: "password sign-ins per second (HTTPS, grant_type=password, Argon2id)", Value: signIns.rate(), Unit: "sign-ins/s",
			Note: fmt.Sprintf("%d workers signing the developer user in; Argon2id checks capped at %d at once on %d CPUs (at least one CPU left to the rest), %d more may wait",
				o.Concurrency, directory.PasswordSlots(), runtime.NumCPU(), directory.PasswordQueue())}, signIns.lat),
		withLatency(Figure{Key: "othersUnderPasswordSpray", Name: "client-credentials tokens per second while 10x the sign-in rate of wrong passwords arrives", Value: loaded.rate(), Unit: "tokens/s",
			Ceiling: unloaded.rate(), Ratio: loaded.rate() / unloaded.rate(), Goal: ">= 0.5 x the same clients unloaded", Target: &Target{MinRatio: 0.5},
			Note: fmt.Sprintf("%d workers of the admin app, unloaded %.0f/s (p50 %.1f ms), loaded p50 %.1f ms; %s", o.Concurrency, unloaded.rate(),
				ms(median(unloaded.lat)), ms(median(loaded.lat)), attack.summary())}, loaded.lat),
	}, nil
}

// rawSigner is the ceiling's unit of work: one RSA-2048 PKCS#1 v1.5 signature over SHA-256.
func rawSigner() (func(int) error, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte("a token's signing input"))
	return func(int) error {
		_, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
		return err
	}, nil
}

// spray offers wrong-password sign-ins at a fixed rate from a pool of workers, as an attacker
// would, and counts the answers by AADSTS code. Offers the workers cannot take up at once are
// dropped (an attacker's open connections are finite too), and counted.
type spray struct {
	c       *stsClient
	rate    float64
	workers int
	form    func(i int64) url.Values

	offered, dropped, sent atomic.Int64
	began, ended           time.Time
	mu                     sync.Mutex
	codes                  map[string]int
	lat                    []time.Duration
}

func newSpray(c *stsClient, rate float64, workers int, form func(int64) url.Values) *spray {
	return &spray{c: c, rate: max(rate, 1), workers: workers, form: form, codes: map[string]int{}}
}

func (s *spray) run(ctx context.Context) {
	work := make(chan int64)
	var wg sync.WaitGroup
	for range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t := time.Now()
				status, a, err := s.c.post(ctx, s.form(i))
				d := time.Since(t)
				code := fmt.Sprintf("HTTP %d", status)
				switch {
				case err != nil && ctx.Err() != nil:
					continue // cut short by the end of the run
				case err != nil:
					code = "transport error"
				case len(a.ErrorCodes) > 0:
					code = fmt.Sprintf("AADSTS%d", a.ErrorCodes[0])
				}
				s.sent.Add(1)
				s.mu.Lock()
				s.codes[code]++
				s.lat = append(s.lat, d)
				s.mu.Unlock()
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / s.rate)
	s.began = time.Now()
	next := s.began
	for i := int64(0); ctx.Err() == nil; i++ {
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		s.offered.Add(1)
		select {
		case work <- i:
		default:
			s.dropped.Add(1)
		}
	}
	s.ended = time.Now()
	close(work)
	wg.Wait()
}

// summary says what the attack achieved and how it was answered.
func (s *spray) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	secs := s.ended.Sub(s.began).Seconds()
	codes := make([]string, 0, len(s.codes))
	for c, n := range s.codes {
		codes = append(codes, fmt.Sprintf("%s x%d", c, n))
	}
	slices.Sort(codes)
	return fmt.Sprintf("wrong passwords offered at %.0f/s for distinct unknown users from %d attacker connections: %.0f/s answered (%d offered, %d dropped with every connection busy), p50 %.1f ms behind the Argon2id cap of %d; answers: %s",
		s.rate, s.workers, float64(s.sent.Load())/max(secs, 1e-9), s.offered.Load(), s.dropped.Load(), ms(median(s.lat)), directory.PasswordSlots(), strings.Join(codes, ", "))
}
