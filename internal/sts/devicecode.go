package sts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Device-code flows (RFC 8628) live in this server's memory: a person must approve a code on
// the same server the client polls. That holds for one mint server; behind a load balancer
// without affinity the device-code flow needs sticky sessions (docs/compatibility.md says so).
const (
	deviceCodeLifetime = 15 * time.Minute
	deviceCodeInterval = 5 // seconds
	maxDeviceFlows     = 10_000
	userCodeAlphabet   = "BCDFGHJKLMNPQRSTVWXZ23456789" // no vowels (no words), no 0/1/O/I
	userCodeLength     = 9
)

type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDeclined
	deviceRedeemed
)

type deviceFlow struct {
	deviceCode string
	userCode   string
	clientID   string
	clientName string
	version    Version
	tenantSeg  string // the authority's tenant segment; a tenant restricts who may approve
	scope      string // v2
	resource   string // v1
	expiry     time.Time
	state      deviceState
	userID     string
	tenantID   string
	authTime   time.Time
}

type deviceFlows struct {
	mu         sync.Mutex
	byDevice   map[string]*deviceFlow
	byUserCode map[string]*deviceFlow
}

func newDeviceFlows() *deviceFlows {
	return &deviceFlows{byDevice: map[string]*deviceFlow{}, byUserCode: map[string]*deviceFlow{}}
}

// add stores a new flow with fresh codes; false when too many flows are pending.
func (d *deviceFlows) add(f *deviceFlow, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.byDevice) >= maxDeviceFlows {
		for k, old := range d.byDevice {
			if now.After(old.expiry) {
				delete(d.byDevice, k)
				delete(d.byUserCode, old.userCode)
			}
		}
		if len(d.byDevice) >= maxDeviceFlows {
			return false
		}
	}
	for {
		f.userCode = newUserCode()
		if _, taken := d.byUserCode[f.userCode]; !taken {
			break
		}
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	f.deviceCode = "DAQABIQEAAAD" + base64.RawURLEncoding.EncodeToString(b[:])
	d.byDevice[f.deviceCode] = f
	d.byUserCode[f.userCode] = f
	return true
}

func newUserCode() string {
	var b [userCodeLength]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(b[:])
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

// byCode returns a copy of the pending, unexpired flow a person typed the code of.
func (d *deviceFlows) byCode(userCode string, now time.Time) (deviceFlow, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.byUserCode[NormalizeUserCode(userCode)]
	if !ok || f.state != devicePending || now.After(f.expiry) {
		return deviceFlow{}, false
	}
	return *f, true
}

// decide approves (userID set) or declines a pending flow; false when it is no longer pending.
func (d *deviceFlows) decide(deviceCode string, approve bool, userID, tenantID string, authTime, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.byDevice[deviceCode]
	if !ok || f.state != devicePending || now.After(f.expiry) {
		return false
	}
	if approve {
		f.state, f.userID, f.tenantID, f.authTime = deviceApproved, userID, tenantID, authTime
	} else {
		f.state = deviceDeclined
	}
	return true
}

// poll returns the flow's state for a polling client; an approved flow is redeemed once.
func (d *deviceFlows) poll(deviceCode string, now time.Time) (deviceFlow, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.byDevice[deviceCode]
	if !ok {
		return deviceFlow{}, false
	}
	out := *f
	if f.state == deviceApproved && !now.After(f.expiry) {
		f.state = deviceRedeemed
	}
	return out, true
}

func (s *Server) redeemDeviceCode(ctx context.Context, at *attempt, client userClient, req UserTokenRequest) (signedIn, *Error) {
	f, ok := s.devices.poll(req.DeviceCode, at.now)
	if !ok || !strings.EqualFold(f.clientID, client.appID) {
		return signedIn{}, NewError(http.StatusBadRequest, "bad_verification_code", codeBadDeviceCode,
			"The code that you entered has expired or is not valid. Request a new device code and sign in again.")
	}
	if at.now.After(f.expiry) {
		oauthErr := "expired_token"
		if req.Endpoint == V1 {
			oauthErr = "code_expired"
		}
		return signedIn{}, NewError(http.StatusBadRequest, oauthErr, codeDeviceExpired,
			"The provided authorization code or refresh token has expired due to inactivity. This device code has expired. Request a new device code.")
	}
	switch f.state {
	case devicePending:
		// Never slow_down: msal-node treats every polling error but authorization_pending as fatal.
		return signedIn{}, NewError(http.StatusBadRequest, "authorization_pending", codePending,
			"OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
	case deviceDeclined:
		return signedIn{}, NewError(http.StatusBadRequest, "authorization_declined", codeDeclined,
			"The user declined to authorize the application on the device code page.")
	case deviceRedeemed:
		return signedIn{}, NewError(http.StatusBadRequest, "invalid_grant", codeCodeRedeemed,
			"The device code was already redeemed. Request a new device code.")
	}
	u, t, e := s.loadUser(ctx, at, f.userID, f.tenantID, f.authTime)
	if e != nil {
		return signedIn{}, e
	}
	return signedIn{user: u, tenant: t, authTime: f.authTime, amr: []string{"pwd"}, scope: f.scope, resource: f.resource}, nil
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
	pc, ok := publicClient(clientID)
	if !ok {
		s.refuse(ctx, w, &at, NewError(http.StatusUnauthorized, "invalid_client", codeNoClientCredential,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Application '%s' is not a public client; "+
				"the device code flow is for public clients such as the Azure CLI.", truncate(clientID, 200)))
		return
	}
	f := &deviceFlow{clientID: pc.AppID, clientName: pc.DisplayName, version: v, tenantSeg: seg, expiry: at.now.Add(deviceCodeLifetime)}
	if v == V2 {
		f.scope = strings.TrimSpace(form.Get("scope"))
		us, e := ParseUserScope(f.scope)
		if e == nil && len(f.scope) > 2000 {
			e = errMalformed("The 'scope' parameter is too long.")
		}
		if e != nil {
			s.refuse(ctx, w, &at, e)
			return
		}
		at.resource = us.Resource
	} else {
		f.resource = truncate(strings.TrimSpace(form.Get("resource")), 2000)
		at.resource = f.resource
	}
	if !s.devices.add(f, at.now) {
		s.refuse(ctx, w, &at, NewError(http.StatusServiceUnavailable, "temporarily_unavailable", 0,
			"Too many device codes are waiting to be approved. Try again in a few minutes."))
		return
	}
	page := s.baseURL + "/devicelogin"
	resp := deviceCodeResponse{UserCode: f.userCode, DeviceCode: f.deviceCode, ExpiresIn: int(deviceCodeLifetime / time.Second), Interval: deviceCodeInterval,
		Message: "To sign in, use a web browser to open the page " + page + " and enter the code " + f.userCode + " to authenticate."}
	if v == V2 {
		resp.VerificationURI = page
	} else {
		resp.VerificationURL = page
	}
	s.writeJSON(w, resp, at.traceID, "no-store")
}

// approveDevice records a person's decision on a device code, for the verification page.
func (s *Server) approveDevice(f deviceFlow, approve bool, u store.User, authTime, now time.Time) bool {
	return s.devices.decide(f.deviceCode, approve, u.ObjectID, u.TenantID, authTime, now)
}
