package agent

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/agent/dialect"
)

var jsonContentType = []string{"application/json; charset=utf-8"}

// serveMain routes the http listener. It does not use http.ServeMux: the mux would redirect
// "//metadata/..." (JS's canonical form) and knows nothing of absolute-form request lines.
func (a *Agent) serveMain(w http.ResponseWriter, r *http.Request) {
	// An absolute-form request line: the client uses the agent as its HTTP_PROXY. Only IMDS's
	// address and the agent's own (JS proxies loopback too) are answered; the agent is not a
	// general-purpose proxy.
	if r.URL.Host != "" && !isIMDSHost(r.URL.Host) && r.URL.Host != a.selfHost {
		http.Error(w, "mint agent: not a general-purpose proxy; only http://169.254.169.254/metadata/identity/oauth2/token is served", http.StatusForbidden)
		return
	}
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, RunPathPrefix); ok {
		a.serveRunPath(w, r, rest)
		return
	}
	switch {
	case dialect.MatchPath(p, dialect.AppServicePath):
		switch {
		case dialect.IsAzureML(r):
			a.serveSecret(w, r, dialect.AzureML)
		case r.Method == http.MethodPost && r.Header["X-Identity-Header"] == nil:
			// az's MSI_ENDPOINT mode posts a Cloud Shell form to MSI_ENDPOINT.
			a.serveHostBound(w, r, dialect.CloudShell)
		default:
			a.serveSecret(w, r, dialect.AppService)
		}
	case dialect.MatchPath(p, dialect.IMDSPath):
		a.serveHostBound(w, r, dialect.IMDS)
	case dialect.MatchPath(p, dialect.CloudShellPath):
		a.serveHostBound(w, r, dialect.CloudShell)
	case dialect.MatchPath(p, dialect.ArcPath):
		a.serveHostBound(w, r, dialect.Arc)
	default:
		// Never 404: IMDS clients retry a 404 for minutes.
		a.refuse(w, dialect.BadRequest(dialect.IMDS, "Bad request. The mint agent serves "+dialect.IMDSPath+" (IMDS), "+
			dialect.AppServicePath+" (App Service, Azure ML), "+dialect.CloudShellPath+" (Cloud Shell) and "+dialect.ArcPath+" (Azure Arc)"), "")
	}
}

// RunPathPrefix starts the per-run URLs of the dialects whose requests carry no secret of their
// own (Cloud Shell, Arc): <prefix><secret>/cloudshell and <prefix><secret>/arc. `mint run
// --dialect cloudshell|arc` hands them to the program as MSI_ENDPOINT or IDENTITY_ENDPOINT, which
// the SDKs use as given, so the run's secret travels in the path.
const RunPathPrefix = "/mint/run/"

// Per-run dialect path suffixes (after the secret).
const (
	runCloudShellSuffix = "cloudshell"
	runArcSuffix        = "arc"
)

// serveRunPath serves a per-run URL: rest is "<secret>/<dialect>[/]".
func (a *Agent) serveRunPath(w http.ResponseWriter, r *http.Request, rest string) {
	secret, kind, _ := strings.Cut(strings.TrimSuffix(rest, "/"), "/")
	var k dialect.Kind
	switch kind {
	case runCloudShellSuffix:
		k = dialect.CloudShell
	case runArcSuffix:
		k = dialect.Arc
	default:
		a.refuse(w, dialect.BadRequest(dialect.IMDS, "Bad request. A mint run URL is "+RunPathPrefix+"<secret>/cloudshell or "+RunPathPrefix+"<secret>/arc"), "")
		return
	}
	wl := a.reg.lookup(secret)
	if secret == "" || wl == nil {
		a.refuse(w, dialect.UnknownSecret(k), "the run's URL names no registered workload")
		return
	}
	a.serveBound(w, r, k, wl)
}

// runSecretFromProxyAuthorization is the secret `mint run --dialect imds` puts in the program's
// HTTP_PROXY (http://mint:<secret>@<agent>): clients send it as Proxy-Authorization on their
// absolute-form IMDS requests.
func runSecretFromProxyAuthorization(r *http.Request) (string, bool) {
	v := r.Header.Get("Proxy-Authorization")
	if v == "" {
		return "", false
	}
	const prefix = "Basic "
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", true
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[len(prefix):]))
	if err != nil {
		return "", true
	}
	_, secret, _ := strings.Cut(string(raw), ":")
	return secret, true
}

// serveArcListener serves Arc's own listener (Config.ArcAddr) at Arc's path.
func (a *Agent) serveArcListener(w http.ResponseWriter, r *http.Request) {
	if dialect.MatchPath(r.URL.Path, dialect.IMDSPath) || dialect.MatchPath(r.URL.Path, dialect.ArcPath) {
		a.serveHostBound(w, r, dialect.Arc)
		return
	}
	a.refuse(w, dialect.BadRequest(dialect.Arc, "Bad request. Azure Arc's identity endpoint is "+dialect.IMDSPath), "")
}

func isIMDSHost(hostport string) bool {
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		if port != "80" {
			return false
		}
		host = h
	}
	return host == "169.254.169.254"
}

// serveSecret serves the dialects whose requests carry a workload's secret.
func (a *Agent) serveSecret(w http.ResponseWriter, r *http.Request, k dialect.Kind) {
	var req dialect.Request
	var perr *dialect.Error
	switch k {
	case dialect.AppService:
		req, perr = dialect.ParseAppService(r)
	case dialect.AzureML:
		req, perr = dialect.ParseAzureML(r)
	default:
		req, perr = dialect.ParseServiceFabric(r)
	}
	if perr != nil {
		a.refuse(w, perr, "")
		return
	}
	wl := a.reg.lookup(req.Secret)
	if wl == nil {
		a.refuse(w, dialect.UnknownSecret(k), "")
		return
	}
	a.serveToken(w, r, wl, &req)
}

// serveHostBound serves the dialects that answer for the host binding: IMDS, Cloud Shell, Arc.
// An IMDS request carrying a run's secret as Proxy-Authorization is that run's instead.
func (a *Agent) serveHostBound(w http.ResponseWriter, r *http.Request, k dialect.Kind) {
	if k == dialect.IMDS {
		if secret, ok := runSecretFromProxyAuthorization(r); ok {
			wl := a.reg.lookup(secret)
			if secret == "" || wl == nil {
				a.refuse(w, dialect.UnknownSecret(k), "the Proxy-Authorization of an IMDS request names no registered workload")
				return
			}
			a.serveBound(w, r, k, wl)
			return
		}
	}
	a.serveBound(w, r, k, nil)
}

// serveBound serves IMDS, Cloud Shell and Arc for wl, or, when wl is nil, for the host binding.
func (a *Agent) serveBound(w http.ResponseWriter, r *http.Request, k dialect.Kind, wl *workload) {
	var req dialect.Request
	var perr *dialect.Error
	switch k {
	case dialect.IMDS:
		req, perr = dialect.ParseIMDS(r)
	case dialect.CloudShell:
		req, perr = dialect.ParseCloudShell(r)
	default:
		req, perr = dialect.ParseArc(r)
	}
	if perr != nil {
		a.refuse(w, perr, "")
		return
	}
	if k == dialect.Arc && !req.Identity.IsZero() {
		// An Arc-enabled server has only its system-assigned identity (Azure's HIMDS serves no
		// other; Python's client refuses to ask), so neither does mint's Arc.
		a.refuse(w, dialect.BadRequest(k, "User-assigned managed identities are not supported by Azure Arc: an Arc-enabled server has only its system-assigned identity. Omit client_id, object_id and msi_res_id."), "")
		return
	}
	host := wl
	if host == nil {
		host = a.reg.host.Load()
	}
	if host == nil {
		a.refuse(w, dialect.IdentityNotFound(k, "No resource is bound to this host's identity endpoint (mint agent: BindHost)."),
			"no resource is bound to this host")
		return
	}
	if k == dialect.Arc {
		now := a.clock()
		if ok, wait := host.limiter.allow(now.UnixNano()); !ok {
			a.refuse(w, dialect.Throttled(k, retrySeconds(wait), ""), "")
			return
		}
		keys, err := a.arcKeys()
		if err != nil {
			a.refuse(w, dialect.Internal(k), "azure arc key directory unavailable")
			return
		}
		if req.Secret == "" || !keys.redeem(req.Secret, now) {
			a.arcChallenge(w, keys, req.Secret != "", now)
			return
		}
	}
	a.serveToken(w, r, host, &req)
}

// arcChallenge answers 401 naming a fresh key file in WWW-Authenticate.
func (a *Agent) arcChallenge(w http.ResponseWriter, keys *arcKeys, stale bool, now time.Time) {
	path, err := keys.issue(now)
	if err != nil {
		if errors.Is(err, errArcBusy) {
			a.refuse(w, dialect.Throttled(dialect.Arc, 1, ""), "")
			return
		}
		a.log.Error("azure arc challenge", "err", err)
		a.refuse(w, dialect.Internal(dialect.Arc), "")
		return
	}
	w.Header().Set("WWW-Authenticate", "Basic realm="+path)
	if stale {
		a.refuse(w, dialect.UnknownSecret(dialect.Arc), "")
		return
	}
	dialect.WriteError(w, dialect.MissingSecret(dialect.Arc))
}

// serveToken answers a parsed, authenticated request for workload wl.
func (a *Agent) serveToken(w http.ResponseWriter, r *http.Request, wl *workload, req *dialect.Request) {
	now := a.clock()
	nowNano := now.UnixNano()
	if req.Kind != dialect.Arc { // Arc was limited before its challenge
		if ok, wait := wl.limiter.allow(nowNano); !ok {
			a.refuse(w, dialect.Throttled(req.Kind, retrySeconds(wait), ""), "")
			return
		}
	}
	nowSec := nowNano / int64(time.Second)
	var kb [384]byte
	key := appendKey(kb[:0], wl.resourceID, req.Identity, req.Resource)
	e := a.cache.get(key)
	if e != nil {
		if st := e.st.Load(); st != nil && nowSec < st.exp-int64(minCacheLife/time.Second) {
			touch(e, nowSec)
			if nowNano >= st.refreshAt && nowNano >= e.nextAttempt.Load() {
				a.startCall(e) // in the background: this request is answered from the cache now
			}
			a.writeToken(w, req, st, nowSec, true)
			return
		}
	} else {
		e = a.cache.getOrCreate(key, TokenRequest{ResourceID: wl.resourceID, Identity: req.Identity, Resource: req.Resource}, now)
	}
	touch(e, nowSec)
	st, err := a.obtain(r.Context(), e, now)
	if err != nil {
		a.refuse(w, dialectError(req.Kind, err, req.Resource), err.Error())
		return
	}
	a.writeToken(w, req, st, a.clock().Unix(), false)
}

func touch(e *entry, nowSec int64) {
	if e.lastUsed.Load() != nowSec {
		e.lastUsed.Store(nowSec)
	}
}

// obtain is the slow path: no cached token with five minutes of life left. It waits for the
// key's single upstream call, but answers from the cache whenever a still-valid token exists and
// the server is unreachable or recently failed.
func (a *Agent) obtain(ctx context.Context, e *entry, now time.Time) (*tokenState, error) {
	nowNano := now.UnixNano()
	st := e.st.Load()
	valid := st != nil && now.Unix() < st.exp
	if nowNano < e.negUntil.Load() {
		if p := e.negErr.Load(); p != nil {
			return nil, *p
		}
	}
	if valid && nowNano < e.nextAttempt.Load() {
		return st, nil
	}
	c := a.startCall(e)
	a.waiting.Add(1)
	select {
	case <-c.done:
		a.waiting.Add(-1)
	case <-ctx.Done():
		a.waiting.Add(-1)
		if valid {
			return st, nil
		}
		return nil, ctx.Err()
	}
	if c.err != nil {
		if valid && !permanent(c.err) {
			return st, nil
		}
		return nil, c.err
	}
	return c.st, nil
}

// startCall joins the key's upstream call in flight or starts one.
func (a *Agent) startCall(e *entry) *call {
	e.mu.Lock()
	if c := e.call; c != nil {
		e.mu.Unlock()
		return c
	}
	c := &call{done: make(chan struct{})}
	e.call = c
	e.mu.Unlock()
	a.callMu.Lock()
	if a.closed {
		a.callMu.Unlock()
		a.finishCall(e, c, Token{}, errShuttingDown)
		return c
	}
	a.calls.Add(1)
	a.callMu.Unlock()
	go func() {
		defer a.calls.Done()
		ctx, cancel := context.WithTimeout(a.baseCtx, a.upTimeout)
		began := time.Now()
		tok, err := a.up.Token(ctx, e.req)
		cancel()
		if a.metrics != nil {
			a.metrics.UpstreamCall(time.Since(began), err)
		}
		a.finishCall(e, c, tok, err)
		if a.rel != nil {
			a.rel.callDone()
		}
	}()
	return c
}

var errShuttingDown = &UpstreamError{Kind: Unavailable, Message: "the agent is shutting down"}

var errExpiredFromUpstream = &UpstreamError{Kind: Unavailable, Message: "the token service returned an expired or empty token"}

// finishCall records a call's outcome in the entry and releases its waiters.
func (a *Agent) finishCall(e *entry, c *call, tok Token, err error) {
	now := a.clock()
	if err == nil && (tok.AccessToken == "" || !tok.ExpiresOn.After(now)) {
		err = errExpiredFromUpstream
	}

	e.mu.Lock()
	if err == nil {
		c.st = newTokenState(tok, e.req.Resource, now)
		if tok.ExpiresOn.Sub(now) >= minCacheLife {
			e.st.Store(c.st)
		}
		e.failures = 0
		e.nextAttempt.Store(0)
		e.negUntil.Store(0)
	} else {
		c.err = err
		if permanent(err) {
			// The server refuses now (identity detached, node no longer allowed): stop handing
			// out the cached token too.
			e.st.Store(nil)
			if a.negTTL > 0 {
				e.negErr.Store(&err)
				e.negUntil.Store(now.Add(a.negTTL).UnixNano())
			}
		} else {
			e.failures++
			backoff := time.Second << min(e.failures-1, 5)
			var ue *UpstreamError
			if errors.As(err, &ue) && ue.RetryAfter > backoff {
				backoff = ue.RetryAfter
			}
			e.nextAttempt.Store(now.Add(min(backoff, maxBackoff)).UnixNano())
		}
	}
	e.call = nil
	e.mu.Unlock()
	close(c.done)
	if err != nil {
		a.log.Info("upstream token request failed", "resourceId", e.req.ResourceID, "identity", selectorString(e.req.Identity),
			"audience", e.req.Resource, "err", err.Error())
	}
}

func selectorString(s Selector) string {
	switch {
	case s.ClientID != "":
		return "client_id=" + s.ClientID
	case s.ObjectID != "":
		return "object_id=" + s.ObjectID
	case s.ResourceID != "":
		return "resource_id=" + s.ResourceID
	}
	return "default"
}

// writeToken writes the 200 body: pre-rendered, except Arc's, which echoes the user-assigned
// identity it confirms.
func (a *Agent) writeToken(w http.ResponseWriter, req *dialect.Request, st *tokenState, nowSec int64, cached bool) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if req.Kind == dialect.Arc && !req.Identity.IsZero() {
		body := dialect.TokenBody{AccessToken: st.accessToken, ClientID: st.clientID, Resource: st.audience,
			ExpiresOn: st.exp, NotBefore: st.nbf, Now: nowSec, Fields: req.Kind.Fields()}
		switch {
		case req.Identity.ClientID != "" && body.ClientID == "":
			body.ClientID = req.Identity.ClientID
		case req.Identity.ObjectID != "":
			body.EchoName, body.EchoValue = "object_id", orElse(st.objectID, req.Identity.ObjectID)
		case req.Identity.ResourceID != "":
			body.EchoName, body.EchoValue = "msi_res_id", orElse(st.identityResourceID, req.Identity.ResourceID)
		}
		_, _ = w.Write(dialect.AppendToken(nil, &body))
	} else {
		rb := st.body(req.Kind.Fields(), nowSec)
		h["Content-Length"] = rb.clen
		_, _ = w.Write(rb.body)
	}
	if a.metrics != nil {
		a.metrics.Served(req.Kind.String(), http.StatusOK, cached)
	}
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// refuse writes a dialect error; detail (mint's explanation, never a secret) goes to the log.
func (a *Agent) refuse(w http.ResponseWriter, e *dialect.Error, detail string) {
	if detail != "" || e.Status >= 500 {
		a.log.Info("token request refused", "dialect", e.Kind.String(), "status", e.Status, "message", e.Message, "detail", detail)
	} else {
		a.log.Debug("token request refused", "dialect", e.Kind.String(), "status", e.Status, "message", e.Message)
	}
	if a.metrics != nil {
		a.metrics.Served(e.Kind.String(), e.Status, false)
	}
	dialect.WriteError(w, e)
}
