package sts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Device-code sign-ins (RFC 8628) are kept in the store (store.DeviceCodes), so the client may
// poll one server while the person types the code at another. Only the device code's SHA-256 is
// stored. Without a store (Config.DeviceCodes nil) they are kept in this server's memory.
const (
	deviceCodeLifetime = 15 * time.Minute
	deviceCodeInterval = 5 // seconds, Entra's; Config.DeviceCodeInterval sets another
	maxDeviceFlows     = 10_000
	userCodeAlphabet   = "BCDFGHJKLMNPQRSTVWXZ23456789" // no vowels (no words), no 0/1/O/I
	userCodeLength     = 9
)

func hashDeviceCode(deviceCode string) string {
	h := sha256.Sum256([]byte(deviceCode))
	return hex.EncodeToString(h[:])
}

func newUserCode() string {
	var b [userCodeLength]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(b[:])
}

func newDeviceCode() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "DAQABIQEAAAD" + base64.RawURLEncoding.EncodeToString(b[:])
}

// NormalizeUserCode uppercases a typed user code and drops spaces and dashes.
func NormalizeUserCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		if c == ' ' || c == '-' || c == '\t' {
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// memDeviceCodes is store.DeviceCodes in one process's memory, for an STS without a store.
type memDeviceCodes struct {
	mu     sync.Mutex
	byHash map[string]*store.DeviceCode
}

func newMemDeviceCodes() *memDeviceCodes {
	return &memDeviceCodes{byHash: map[string]*store.DeviceCode{}}
}

func (d *memDeviceCodes) CreateDeviceCode(_ context.Context, c store.DeviceCode) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, old := range d.byHash {
		if old.ExpiresAt.Before(c.CreatedAt) {
			delete(d.byHash, k)
		}
	}
	if len(d.byHash) >= maxDeviceFlows {
		return errors.New("too many device codes pending")
	}
	for _, old := range d.byHash {
		if old.UserCode == c.UserCode {
			return store.ErrConflict
		}
	}
	if _, ok := d.byHash[c.DeviceCodeHash]; ok {
		return store.ErrConflict
	}
	d.byHash[c.DeviceCodeHash] = &c
	return nil
}

func (d *memDeviceCodes) GetDeviceCodeByUserCode(_ context.Context, userCode string) (store.DeviceCode, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.byHash {
		if c.UserCode == userCode {
			return *c, nil
		}
	}
	return store.DeviceCode{}, store.ErrNotFound
}

func (d *memDeviceCodes) DecideDeviceCode(_ context.Context, hash string, state store.DeviceCodeState, userID, tenantID string, authTime, now time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.byHash[hash]
	if !ok || c.State != store.DeviceCodePending || now.After(c.ExpiresAt) {
		return store.ErrNotFound
	}
	c.State, c.UserID, c.TenantID, c.AuthTime = state, userID, tenantID, authTime
	return nil
}

func (d *memDeviceCodes) PollDeviceCode(_ context.Context, hash string) (store.DeviceCode, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.byHash[hash]
	if !ok {
		return store.DeviceCode{}, store.ErrNotFound
	}
	out := *c
	if c.State == store.DeviceCodeApproved {
		c.State = store.DeviceCodeRedeemed
	}
	return out, nil
}

func (s *Server) redeemDeviceCode(ctx context.Context, at *attempt, client userClient, req UserTokenRequest) (signedIn, *Error) {
	f, err := s.devices.PollDeviceCode(ctx, hashDeviceCode(req.DeviceCode))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.ErrorContext(ctx, "device code lookup failed", "trace_id", at.traceID, "err", err)
		return signedIn{}, errServer(err)
	}
	if err != nil || !strings.EqualFold(f.ClientID, client.appID) {
		return signedIn{}, NewError(http.StatusBadRequest, "bad_verification_code", codeBadDeviceCode,
			"The code that you entered has expired or is not valid. Request a new device code and sign in again.")
	}
	if at.now.After(f.ExpiresAt) {
		oauthErr := "expired_token"
		if req.Endpoint == V1 {
			oauthErr = "code_expired"
		}
		return signedIn{}, NewError(http.StatusBadRequest, oauthErr, codeDeviceExpired,
			"The provided authorization code or refresh token has expired due to inactivity. This device code has expired. Request a new device code.")
	}
	switch f.State {
	case store.DeviceCodePending:
		// Never slow_down: msal-node treats every polling error but authorization_pending as fatal.
		return signedIn{}, NewError(http.StatusBadRequest, "authorization_pending", codePending,
			"OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
	case store.DeviceCodeDeclined:
		return signedIn{}, NewError(http.StatusBadRequest, "authorization_declined", codeDeclined,
			"The user declined to authorize the application on the device code page.")
	case store.DeviceCodeRedeemed:
		return signedIn{}, NewError(http.StatusBadRequest, "invalid_grant", codeCodeRedeemed,
			"The device code was already redeemed. Request a new device code.")
	}
	u, t, e := s.loadUser(ctx, at, f.UserID, f.TenantID, f.AuthTime)
	if e != nil {
		return signedIn{}, e
	}
	return signedIn{user: u, tenant: t, authTime: f.AuthTime, amr: []string{"pwd"}, scope: f.Scope, resource: f.Resource}, nil
}

// deviceCodeResponse is the /devicecode answer; the integers are JSON numbers (MSAL Go
// unmarshals them into int, msal-node adds them to now). v1 spells verification_url.
type deviceCodeResponse struct {
	UserCode        string `json:"user_code"`
	DeviceCode      string `json:"device_code"`
	VerificationURI string `json:"verification_uri,omitempty"`
	VerificationURL string `json:"verification_url,omitempty"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
	Message         string `json:"message"`
}

// serveDeviceCode answers /{tenant}/oauth2/v2.0/devicecode and /{tenant}/oauth2/devicecode.
func (s *Server) serveDeviceCode(w http.ResponseWriter, r *http.Request, seg string, v Version) {
	ctx := r.Context()
	at := attempt{traceID: newUUID(), now: s.clock(), grant: "device_code"}
	at.correlationID = correlationFromHeader(r)
	at.echoID = at.correlationID
	if r.Method != http.MethodPost {
		s.writeError(w, errMethod("POST", r.Method), at.traceID, at.correlationID, at.now)
		return
	}
	form, e := ReadForm(r, s.maxBody)
	if e != nil {
		s.refuse(ctx, w, &at, e)
		return
	}
	clientID := strings.TrimSpace(form.Get("client_id"))
	at.appID = truncate(clientID, 200)
	if clientID == "" {
		s.refuse(ctx, w, &at, errMissingParameter("client_id"))
		return
	}
	if s.people == nil {
		s.refuse(ctx, w, &at, NewError(http.StatusBadRequest, "invalid_request", codeUnsupportedGrant,
			"This token service has no directory of people configured, so nobody can sign in with a device code."))
		return
	}
	switch classifySegment(seg) {
	case segmentInvalid:
		s.refuse(ctx, w, &at, errTenantInvalid(truncate(seg, 100)))
		return
	case segmentTenant:
		t, e := s.resolveTenant(ctx, seg)
		if e != nil {
			s.refuse(ctx, w, &at, e)
			return
		}
		at.tenantID, seg = t.ID, t.ID
	}
	// Any application may ask for a device code, as in Entra; whether it may redeem one without
	// a credential (isFallbackPublicClient) is decided when it polls (AADSTS7000218).
	appID, appName := "", ""
	if pc, ok := publicClient(clientID); ok {
		appID, appName = pc.AppID, pc.DisplayName
	} else if at.tenantID != "" {
		sp, err := s.dir.Client(ctx, at.tenantID, clientID)
		switch {
		case err == nil && sp.Kind == store.KindApplication:
			appID, appName = sp.AppID, sp.DisplayName
		case err != nil && !errors.Is(err, store.ErrNotFound):
			s.log.ErrorContext(ctx, "client lookup failed", "trace_id", at.traceID, "err", err)
			s.refuse(ctx, w, &at, errServer(err))
			return
		}
	}
	if appID == "" {
		s.refuse(ctx, w, &at, errClientNotFound(truncate(clientID, 200), truncate(seg, 100)))
		return
	}
	f := store.DeviceCode{ClientID: appID, ClientName: appName, Version: int(v), TenantSegment: seg,
		ExpiresAt: at.now.Add(deviceCodeLifetime), State: store.DeviceCodePending, CreatedAt: at.now}
	if v == V2 {
		f.Scope = strings.TrimSpace(form.Get("scope"))
		us, e := ParseUserScope(f.Scope)
		if e == nil && len(f.Scope) > 2000 {
			e = errMalformed("The 'scope' parameter is too long.")
		}
		if e != nil {
			s.refuse(ctx, w, &at, e)
			return
		}
		at.resource = us.Resource
	} else {
		f.Resource = truncate(strings.TrimSpace(form.Get("resource")), 2000)
		at.resource = f.Resource
	}
	deviceCode := ""
	for attempt := 0; ; attempt++ {
		deviceCode = newDeviceCode()
		f.DeviceCodeHash, f.UserCode = hashDeviceCode(deviceCode), newUserCode()
		err := s.devices.CreateDeviceCode(ctx, f)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) || attempt == 4 {
			s.log.ErrorContext(ctx, "device code creation failed", "trace_id", at.traceID, "err", err)
			s.refuse(ctx, w, &at, NewError(http.StatusServiceUnavailable, "temporarily_unavailable", codeServerError,
				"The device code could not be created. Try again in a few minutes."))
			return
		}
	}
	page := s.baseURL + "/devicelogin"
	resp := deviceCodeResponse{UserCode: f.UserCode, DeviceCode: deviceCode, ExpiresIn: int(deviceCodeLifetime / time.Second), Interval: s.deviceInterval,
		Message: "To sign in, use a web browser to open the page " + page + " and enter the code " + f.UserCode + " to authenticate."}
	if v == V2 {
		resp.VerificationURI = page
	} else {
		resp.VerificationURL = page
	}
	s.writeJSON(w, resp, at.traceID, "no-store")
}

// pendingDeviceCode finds the pending, unexpired code a person typed.
func (s *Server) pendingDeviceCode(ctx context.Context, userCode string, now time.Time) (store.DeviceCode, bool, error) {
	code := NormalizeUserCode(userCode)
	if code == "" {
		return store.DeviceCode{}, false, nil
	}
	f, err := s.devices.GetDeviceCodeByUserCode(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return f, false, nil
	}
	if err != nil {
		return f, false, err
	}
	return f, f.State == store.DeviceCodePending && !now.After(f.ExpiresAt), nil
}

// decideDevice records a person's decision on a device code (by its hash); false when the code
// is no longer pending.
func (s *Server) decideDevice(ctx context.Context, hash string, approve bool, u store.User, authTime, now time.Time) (bool, error) {
	state := store.DeviceCodeDeclined
	if approve {
		state = store.DeviceCodeApproved
	}
	err := s.devices.DecideDeviceCode(ctx, hash, state, u.ObjectID, u.TenantID, authTime, now)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
