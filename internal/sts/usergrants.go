package sts

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mint-id/mint/internal/jsonstr"
	"github.com/mint-id/mint/internal/store"
)

// Refresh tokens are stateless: AES-GCM sealed (see sealer) with the user, the client, the
// tenant and the time the person authenticated. Entra binds a refresh token to user and client,
// not to a resource, and does not revoke the old one when it hands out a new one, so neither
// does mint; what revokes them is the user's TokensValidAfter (password reset, disable,
// explicit revocation) and the user's deletion, checked on every redemption.
const (
	refreshTokenLifetime = 90 * 24 * time.Hour
	refreshTokenPrefix   = "1."
	codeLifetime         = 5 * time.Minute
)

type refreshGrant struct {
	UserID   string   `json:"u"`
	TenantID string   `json:"t"`
	ClientID string   `json:"c"`
	AuthTime int64    `json:"a"`
	AMR      []string `json:"m"`
	Expiry   int64    `json:"e"`
	// Public: issued to an application of the directory as a public client, so redeemed
	// without a credential (Entra: AADSTS700025 with one, 7000218 without one otherwise).
	Public bool `json:"pb,omitempty"`
	// SPA: issued through a spa redirect URI; Expiry is then fixed at 24 hours after the
	// sign-in and carried over to the refresh tokens it is redeemed for (see spa.go).
	SPA bool `json:"spa,omitempty"`
}

// codeGrant is an authorization code's content.
type codeGrant struct {
	ID          string   `json:"j"`
	ClientID    string   `json:"c"`
	RedirectURI string   `json:"r"`
	Challenge   string   `json:"p,omitempty"`
	Method      string   `json:"pm,omitempty"`
	UserID      string   `json:"u"`
	TenantID    string   `json:"t"`
	Scope       string   `json:"s,omitempty"`
	Resource    string   `json:"res,omitempty"`
	Nonce       string   `json:"n,omitempty"`
	AuthTime    int64    `json:"a"`
	AMR         []string `json:"m"`
	Expiry      int64    `json:"e"`
}

// signedIn is a person the grant proved, and what the grant carried along.
type signedIn struct {
	user     store.User
	tenant   store.Tenant
	authTime time.Time
	amr      []string
	scope    string // the scope of the original request (device code, code), used when none is sent
	resource string
	nonce    string
	// spa: signed in through a spa redirect URI; spaExpiry is the fixed expiry of its refresh
	// tokens (zero for a new sign-in: 24 hours from now).
	spa       bool
	spaExpiry time.Time
}

// userClient is the app a person signs in to.
type userClient struct {
	appID       string
	displayName string
	// public: the client presents no credential (a first-party client; an application through
	// a publicClient or spa redirect URI, or with isFallbackPublicClient for flows without one).
	public     bool
	firstParty bool
	redirects  []string
	acr        string // appidacr: "1" secret, "2" certificate; "" for a public client
	// spa: the code is redeemed through a spa redirect URI; spaRedirects are the application's
	// spa redirect URIs, whose origins the token endpoint answers with CORS headers.
	spa          bool
	spaRedirects []string
}

// serveUserToken answers the password, refresh-token, authorization-code and device-code grants.
func (s *Server) serveUserToken(w http.ResponseWriter, r *http.Request, at *attempt, seg string, v Version, form url.Values) {
	ctx := r.Context()
	req, e := ParseUserTokenRequest(v, form, r.Header.Get("Authorization"))
	req.Origin = r.Header.Get("Origin")
	at.grant = req.GrantType
	if req.ClientID != "" {
		at.appID = truncate(req.ClientID, 200)
	}
	if e != nil {
		s.refuse(ctx, w, at, e)
		return
	}
	if s.people == nil {
		s.refuse(ctx, w, at, NewError(http.StatusBadRequest, "unsupported_grant_type", codeUnsupportedGrant,
			"The app requested the grant type '%s', but this token service has no directory of people configured.", req.GrantType))
		return
	}
	var pathTenant *store.Tenant
	switch classifySegment(seg) {
	case segmentInvalid:
		s.refuse(ctx, w, at, errTenantInvalid(truncate(seg, 100)))
		return
	case segmentTenant:
		t, e := s.resolveTenant(ctx, seg)
		if e != nil {
			s.refuse(ctx, w, at, e)
			return
		}
		pathTenant, at.tenantID = &t, t.ID
	}
	if req.Origin != "" && (req.ClientSecret != "" || req.ClientAssertion != "") {
		s.refuse(ctx, w, at, errCrossOriginNotSPA(req.Origin)) // a client credential used from a browser
		return
	}
	client, e := s.userClientFor(ctx, at, pathTenant, seg, req)
	if e != nil {
		s.refuse(ctx, w, at, e)
		return
	}
	if req.Origin != "" {
		allowSPAOrigin(w.Header(), req.Origin, client)
	}
	var si signedIn
	switch req.GrantType {
	case GrantPassword:
		si.user, si.tenant, e = s.passwordSignIn(ctx, at, pathTenant, req.Username, req.Password)
		si.authTime, si.amr = at.now, []string{"pwd"}
	case GrantRefreshToken:
		si, e = s.redeemRefreshToken(ctx, at, client, req)
	case GrantAuthorizationCode:
		si, e = s.redeemCode(ctx, at, client, req)
	case GrantDeviceCode:
		si, e = s.redeemDeviceCode(ctx, at, client, req)
	}
	if e != nil {
		s.refuse(ctx, w, at, e)
		return
	}
	at.principalID, at.tenantID = si.user.ObjectID, si.tenant.ID
	if pathTenant != nil && pathTenant.ID != si.tenant.ID {
		s.refuse(ctx, w, at, errUserNotInTenant(si.user.UserPrincipalName, tenantName(pathTenant.DisplayName, pathTenant.ID)))
		return
	}
	s.issueUserTokens(w, r, at, v, client, si, req)
}

// userClientFor finds the app: a first-party public client (which must present no secret), or
// an application of the tenant, public or confidential as Entra decides: by the platform of the
// code's redirect URI (publicClient and spa: public; web: confidential), by
// isFallbackPublicClient for the device code and password grants, and for a refresh token by
// whether a credential is presented (redeemRefreshToken checks it against the token).
func (s *Server) userClientFor(ctx context.Context, at *attempt, pathTenant *store.Tenant, seg string, req UserTokenRequest) (userClient, *Error) {
	if pc, ok := publicClient(req.ClientID); ok {
		if req.ClientSecret != "" || req.ClientAssertion != "" {
			return userClient{}, errPublicClientSecret()
		}
		if req.Origin != "" && req.GrantType == GrantAuthorizationCode {
			return userClient{}, errCrossOriginNotSPA(req.Origin) // no first-party client here has a spa redirect URI
		}
		return userClient{appID: pc.AppID, displayName: pc.DisplayName, public: true, firstParty: true, redirects: pc.RedirectURIs}, nil
	}
	if pathTenant == nil {
		return userClient{}, errClientNotFound(req.ClientID, seg)
	}
	sp, err := s.dir.Client(ctx, pathTenant.ID, req.ClientID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return userClient{}, errClientNotFound(req.ClientID, tenantName(pathTenant.DisplayName, pathTenant.ID))
		}
		s.log.ErrorContext(ctx, "client lookup failed", "trace_id", at.traceID, "err", err)
		return userClient{}, errServer(err)
	}
	presented := req.ClientAssertion != "" || req.ClientSecret != ""
	public, spa := false, false
	switch req.GrantType {
	case GrantAuthorizationCode:
		p := redirectPlatform(req.RedirectURI, sp.RedirectURIs)
		if req.Origin != "" && p != platformSPA {
			return userClient{}, errCrossOriginNotSPA(req.Origin)
		}
		public, spa = p == platformPublicClient || p == platformSPA, p == platformSPA
	case GrantDeviceCode, GrantPassword:
		public = sp.RedirectURIs.FallbackPublicClient
	case GrantRefreshToken:
		public = !presented && sp.Kind == store.KindApplication
	}
	if public {
		if presented {
			return userClient{}, errPublicClientSecret()
		}
		return userClient{appID: sp.AppID, displayName: sp.DisplayName, public: true, spa: spa, spaRedirects: sp.RedirectURIs.SPA}, nil
	}
	var e *Error
	acr := "1"
	switch {
	case req.ClientAssertion != "":
		acr = "2"
		_, e = s.authenticateAssertion(ctx, at, *pathTenant, seg, sp, TokenRequest{ClientID: req.ClientID, ClientAssertion: req.ClientAssertion})
	case req.ClientSecret != "":
		_, e = s.authenticateSecret(ctx, at, sp, req.ClientSecret)
	default:
		e = errConfidentialWithoutCredential(sp.AppID)
	}
	if e != nil {
		return userClient{}, e
	}
	return userClient{appID: sp.AppID, displayName: sp.DisplayName, acr: acr}, nil
}

// errConfidentialWithoutCredential is Entra's AADSTS7000218 for a confidential client that
// presents no credential.
func errConfidentialWithoutCredential(appID string) *Error {
	return NewError(http.StatusUnauthorized, "invalid_client", codeNoClientCredential,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Application '%s' is a confidential client "+
			"for this request: register the redirect URI as a public client (mobile and desktop) one, or allow public client flows "+
			"(isFallbackPublicClient) for the device code and password grants, or present the application's credential.", appID)
}

// passwordSignIn checks a user name and password: the same AADSTS50126, at the same cost, for
// an unknown user and a wrong password; AADSTS50053 while locked out; 50057 when disabled.
func (s *Server) passwordSignIn(ctx context.Context, at *attempt, pathTenant *store.Tenant, username, password string) (store.User, store.Tenant, *Error) {
	var tenant store.Tenant
	if pathTenant != nil {
		tenant = *pathTenant
	} else {
		_, domain, ok := strings.Cut(username, "@")
		var err error
		if ok && domain != "" && classifySegment(domain) == segmentTenant {
			tenant, err = s.dir.Tenant(ctx, domain)
		} else {
			err = store.ErrNotFound
		}
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.log.ErrorContext(ctx, "tenant lookup failed", "trace_id", at.traceID, "err", err)
				return store.User{}, tenant, errServer(err)
			}
			return store.User{}, tenant, s.unknownUser(ctx, at, password)
		}
	}
	at.tenantID = tenant.ID
	u, err := s.people.UserByPrincipalName(ctx, tenant.ID, username)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.ErrorContext(ctx, "user lookup failed", "trace_id", at.traceID, "err", err)
			return u, tenant, errServer(err)
		}
		return u, tenant, s.unknownUser(ctx, at, password)
	}
	at.principalID = u.ObjectID
	if s.lock.locked(u.ObjectID, at.now) {
		return u, tenant, errLocked()
	}
	ok, err := s.people.VerifyPassword(ctx, u, password)
	if e, busy := throttled(err); busy {
		return u, tenant, e
	}
	if err != nil {
		s.log.ErrorContext(ctx, "password verification failed", "trace_id", at.traceID, "err", err)
		return u, tenant, errServer(err)
	}
	if !ok {
		s.lock.fail(u.ObjectID, password, at.now)
		return u, tenant, errInvalidPassword()
	}
	s.lock.succeed(u.ObjectID)
	if !u.AccountEnabled {
		return u, tenant, errUserDisabled()
	}
	if u.ForceChangePasswordNextSignIn {
		return u, tenant, errPasswordExpired()
	}
	return u, tenant, nil
}

// unknownUser spends what a real password check spends, then answers AADSTS50126.
func (s *Server) unknownUser(ctx context.Context, at *attempt, password string) *Error {
	err := s.people.DummyPasswordCheck(ctx, password)
	if e, busy := throttled(err); busy {
		return e
	}
	if err != nil {
		s.log.ErrorContext(ctx, "password check failed", "trace_id", at.traceID, "err", err)
		return errServer(err)
	}
	return errInvalidPassword()
}

// loadUser reloads a person a grant names, from the store every time, and checks it may still
// sign in (enabled, and authenticated after TokensValidAfter): this read is what makes a
// password reset, a disable or a delete refuse the next redemption on every replica at once.
func (s *Server) loadUser(ctx context.Context, at *attempt, userID, tenantID string, authTime time.Time) (store.User, store.Tenant, *Error) {
	at.principalID = userID
	u, err := s.people.UserForToken(ctx, userID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return u, store.Tenant{}, errGrantRevoked()
		}
		s.log.ErrorContext(ctx, "user lookup failed", "trace_id", at.traceID, "err", err)
		return u, store.Tenant{}, errServer(err)
	}
	if e := userUsable(u, authTime); e != nil {
		return u, store.Tenant{}, e
	}
	t, err := s.dir.Tenant(ctx, tenantID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return u, t, errGrantRevoked()
		}
		s.log.ErrorContext(ctx, "tenant lookup failed", "trace_id", at.traceID, "err", err)
		return u, t, errServer(err)
	}
	return u, t, nil
}

func (s *Server) redeemRefreshToken(ctx context.Context, at *attempt, client userClient, req UserTokenRequest) (signedIn, *Error) {
	rest, ok := strings.CutPrefix(req.RefreshToken, refreshTokenPrefix)
	if !ok {
		return signedIn{}, errGrantInvalid("refresh token")
	}
	plain, err := s.seal.openBytes(purposeRefreshToken, rest)
	if err != nil {
		return signedIn{}, errGrantInvalid("refresh token")
	}
	g, err := parseRefreshGrant(plain)
	if err != nil {
		return signedIn{}, errGrantInvalid("refresh token")
	}
	at.principalID = g.UserID
	if !g.SPA && req.Origin != "" {
		return signedIn{}, errCrossOriginNotSPA(req.Origin)
	}
	if g.SPA {
		if req.Origin == "" {
			return signedIn{}, errSPANotCrossOrigin()
		}
		if at.now.Unix() > g.Expiry {
			return signedIn{}, errSPARefreshExpired(time.Unix(g.AuthTime, 0))
		}
	}
	if at.now.Unix() > g.Expiry {
		return signedIn{}, NewError(http.StatusBadRequest, "invalid_grant", 700082,
			"The refresh token has expired due to inactivity. The token was issued on %s and was inactive for 90 days.",
			time.Unix(g.Expiry, 0).Add(-refreshTokenLifetime).UTC().Format(time.RFC3339))
	}
	if !strings.EqualFold(g.ClientID, client.appID) {
		return signedIn{}, NewError(http.StatusBadRequest, "invalid_grant", codeGrantInvalid,
			"Provided grant is invalid or malformed. The refresh token was issued to a different client than '%s'.", client.appID)
	}
	if !client.firstParty && g.Public != client.public {
		if g.Public {
			return signedIn{}, errPublicClientSecret()
		}
		return signedIn{}, errConfidentialWithoutCredential(client.appID)
	}
	authTime := time.Unix(g.AuthTime, 0)
	u, t, e := s.loadUser(ctx, at, g.UserID, g.TenantID, authTime)
	if e != nil {
		return signedIn{}, e
	}
	si := signedIn{user: u, tenant: t, authTime: authTime, amr: g.AMR}
	if g.SPA {
		si.spa, si.spaExpiry = true, time.Unix(g.Expiry, 0)
	}
	return si, nil
}

func (s *Server) redeemCode(ctx context.Context, at *attempt, client userClient, req UserTokenRequest) (signedIn, *Error) {
	var g codeGrant
	if s.seal.open(purposeCode, req.Code, &g) != nil {
		return signedIn{}, errGrantInvalid("authorization code")
	}
	at.principalID = g.UserID
	if at.now.Unix() > g.Expiry {
		return signedIn{}, errGrantExpired("authorization code")
	}
	if !strings.EqualFold(g.ClientID, client.appID) {
		return signedIn{}, NewError(http.StatusBadRequest, "invalid_grant", codeGrantInvalid,
			"Provided grant is invalid or malformed. The authorization code was issued to a different client than '%s'.", client.appID)
	}
	if req.RedirectURI != g.RedirectURI {
		return signedIn{}, NewError(http.StatusBadRequest, "invalid_grant", codeRedirectMismatch,
			"The redirect URI '%s' of the token request does not match the redirect URI of the authorization request; send the same value.",
			truncate(req.RedirectURI, 300))
	}
	if client.spa {
		if req.Origin == "" {
			return signedIn{}, errSPANotCrossOrigin()
		}
		if g.Challenge == "" {
			return signedIn{}, errSPAWithoutPKCE()
		}
	}
	if g.Challenge != "" && !pkceMatches(g.Method, g.Challenge, req.CodeVerifier) {
		return signedIn{}, NewError(http.StatusBadRequest, "invalid_grant", codePKCEMismatch,
			"The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	}
	if s.assertions == nil {
		s.log.ErrorContext(ctx, "no assertion store configured; refusing authorization code", "trace_id", at.traceID)
		return signedIn{}, errServer(nil)
	}
	switch err := s.assertions.UseAssertion(ctx, "authcode|"+g.ID, time.Unix(g.Expiry, 0)); {
	case errors.Is(err, store.ErrConflict):
		return signedIn{}, NewError(http.StatusBadRequest, "invalid_grant", codeCodeRedeemed,
			"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case err != nil:
		s.log.ErrorContext(ctx, "code redemption check failed", "trace_id", at.traceID, "err", err)
		return signedIn{}, errServer(err)
	}
	authTime := time.Unix(g.AuthTime, 0)
	u, t, e := s.loadUser(ctx, at, g.UserID, g.TenantID, authTime)
	if e != nil {
		return signedIn{}, e
	}
	return signedIn{user: u, tenant: t, authTime: authTime, amr: g.AMR, scope: g.Scope, resource: g.Resource, nonce: g.Nonce, spa: client.spa}, nil
}

// pkceMatches checks a code_verifier against the challenge (RFC 7636: S256 or plain).
func pkceMatches(method, challenge, verifier string) bool {
	if verifier == "" || len(verifier) > 256 {
		return false
	}
	var want string
	if strings.EqualFold(method, "plain") {
		want = verifier
	} else {
		h := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(h[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// userTokenResponse is the token response of a user grant: v2's shape, or v1's (times as
// strings, with expires_on, not_before and resource).
type userTokenResponse struct {
	v1          bool
	Scope       string
	ExpiresIn   int64
	ExpiresOn   int64  // v1
	NotBefore   int64  // v1
	Resource    string // v1
	AccessToken string
	// RefreshToken, IDToken and ClientInfo are omitted when empty.
	RefreshToken string
	// RefreshTokenExpiresIn is sent for a SPA's refresh token only, whose lifetime is fixed.
	RefreshTokenExpiresIn int64
	IDToken               string
	ClientInfo            string
}

// appendJSON writes the answer by hand, in the field order encoding/json gave it: a redemption
// pays for no reflection. The tokens and client_info are mint's own base64url and dots, with
// nothing to escape; the scope and resource go through jsonstr.
func (r *userTokenResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"token_type":"Bearer","scope":`...)
	b = jsonstr.Append(b, r.Scope)
	b = appendLifetime(b, r.v1, r.ExpiresIn, r.ExpiresOn, r.NotBefore, r.Resource)
	b = append(b, `,"access_token":"`...)
	b = append(b, r.AccessToken...)
	b = append(b, '"')
	if r.RefreshToken != "" {
		b = append(b, `,"refresh_token":"`...)
		b = append(b, r.RefreshToken...)
		b = append(b, '"')
	}
	if r.RefreshTokenExpiresIn != 0 {
		b = append(b, `,"refresh_token_expires_in":`...)
		b = strconv.AppendInt(b, r.RefreshTokenExpiresIn, 10)
	}
	if r.IDToken != "" {
		b = append(b, `,"id_token":"`...)
		b = append(b, r.IDToken...)
		b = append(b, '"')
	}
	if r.ClientInfo != "" {
		b = append(b, `,"client_info":"`...)
		b = append(b, r.ClientInfo...)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// issueUserTokens resolves the resource, builds and signs the access token, the ID token and a
// new refresh token, records the sign-in and writes the response.
func (s *Server) issueUserTokens(w http.ResponseWriter, r *http.Request, at *attempt, v Version, client userClient, si signedIn, req UserTokenRequest) {
	ctx := r.Context()
	var us UserScope
	resourceName, openID, offline := "", v == V1, v == V1
	if v == V2 {
		scope := req.Scope
		if scope == "" {
			scope = si.scope
		}
		us, _ = ParseUserScope(scope) // checked by ParseUserTokenRequest, or when the code/device code was made
		resourceName, openID, offline = us.Resource, us.OpenID, us.OfflineAccess
	} else {
		resourceName = firstNonEmpty(req.Resource, si.resource)
	}
	if resourceName == "" {
		resourceName = graphResource
		us.Scopes = []string{graphResource + "/User.Read"}
	}
	at.resource = truncate(resourceName, 500)
	resource, err := s.dir.Resource(ctx, si.tenant.ID, resourceName)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.refuse(ctx, w, at, errResourceNotFound(truncate(resourceName, 300), tenantName(si.tenant.DisplayName, si.tenant.ID)))
			return
		}
		s.log.ErrorContext(ctx, "resource lookup failed", "trace_id", at.traceID, "err", err)
		s.refuse(ctx, w, at, errServer(err))
		return
	}
	audience := resourceName // a v1 token's aud is the resource as requested, trailing slash kept
	var groups []string
	if !resource.Builtin { // Azure's first-party resources get no groups claim, as in Entra
		if groups, err = s.people.TransitiveGroupIDs(ctx, si.user.ObjectID); err != nil {
			s.log.ErrorContext(ctx, "group lookup failed", "trace_id", at.traceID, "err", err)
			s.refuse(ctx, w, at, errServer(err))
			return
		}
		if groups == nil {
			groups = []string{}
		}
	}
	uti, aio := NewTokenIdentifiers()
	claims := userAccessClaims(UserClaimsInput{
		BaseURL: s.baseURL, Tenant: si.tenant, User: si.user, ClientID: client.appID, Resource: resource, Audience: audience,
		Scp: delegatedScopes(resource), AMR: si.amr, AuthTime: si.authTime, Groups: groups,
		IssuedAt: at.now, Lifetime: s.userLifetime, TokenID: uti, AIO: aio, ClientAuth: client.acr, WIDs: s.wids(ctx, si.user),
	})
	access, err := s.signer.Sign(claims, TokenVersion(resource) == V1)
	claims.release()
	if err != nil {
		s.log.ErrorContext(ctx, "token signing failed", "trace_id", at.traceID, "err", err)
		s.refuse(ctx, w, at, errServer(err))
		return
	}
	expiresIn := int64(s.userLifetime/time.Second) - 1
	resp := userTokenResponse{v1: v != V2, AccessToken: access, ExpiresIn: expiresIn}
	if v == V2 {
		resp.Scope = strings.Join(us.Scopes, " ")
	} else {
		resp.Scope = delegatedScopes(resource)
		resp.ExpiresOn, resp.NotBefore = at.now.Add(s.userLifetime).Unix(), at.now.Unix()
		resp.Resource = resourceName
	}
	if openID {
		issuer := s.discoveryBase(r) + "/" + si.tenant.ID + "/"
		if v == V2 {
			issuer += "v2.0"
		}
		in := IDTokenInput{Issuer: issuer, Version: v, Tenant: si.tenant, User: si.user, ClientID: client.appID, Nonce: si.nonce,
			AMR: si.amr, AuthTime: si.authTime, IssuedAt: at.now, Lifetime: idTokenLifetime}
		if resp.IDToken, err = s.idToken(in); err != nil {
			s.log.ErrorContext(ctx, "ID token signing failed", "trace_id", at.traceID, "err", err)
			s.refuse(ctx, w, at, errServer(err))
			return
		}
	}
	if offline {
		expiry := at.now.Add(refreshTokenLifetime)
		if si.spa {
			expiry = si.spaExpiry
			if expiry.IsZero() {
				expiry = at.now.Add(spaRefreshTokenLifetime)
			}
			resp.RefreshTokenExpiresIn = max(int64(expiry.Sub(at.now)/time.Second), 1)
		}
		g := refreshGrant{UserID: si.user.ObjectID, TenantID: si.tenant.ID, ClientID: client.appID,
			AuthTime: si.authTime.Unix(), AMR: si.amr, Expiry: expiry.Unix(), Public: client.public && !client.firstParty, SPA: si.spa}
		var plain [160]byte
		resp.RefreshToken = refreshTokenPrefix + s.seal.sealBytes(purposeRefreshToken, g.appendBinary(plain[:0]))
	}
	if req.ClientInfo {
		resp.ClientInfo = ClientInfo(si.user.ObjectID, si.tenant.ID)
	}
	reason := ""
	if req.GrantType == GrantAuthorizationCode || req.GrantType == GrantDeviceCode {
		reason = "interactive sign-in"
	}
	s.record(store.SignIn{ID: at.traceID, Time: at.now, TenantID: si.tenant.ID, PrincipalID: si.user.ObjectID, AppID: client.appID,
		Resource: audience, Grant: req.GrantType, Result: "success", Reason: reason, CorrelationID: at.correlationID, TokenID: uti})
	s.log.LogAttrs(ctx, slog.LevelInfo, "user token issued", slog.String("tenant_id", si.tenant.ID), slog.String("client_id", client.appID),
		slog.String("user_id", si.user.ObjectID), slog.String("resource", audience), slog.String("grant", req.GrantType),
		slog.String("uti", uti), slog.String("trace_id", at.traceID), slog.String("correlation_id", at.correlationID))
	writeTokenAnswer(w, at, resp.appendJSON(make([]byte, 0, 512+len(resp.AccessToken)+len(resp.RefreshToken)+len(resp.IDToken))))
}

// ID tokens last an hour. One issued for the same person, client and sign-in less than
// idTokenReuse ago is handed out again instead of signing a new one: a refresh then costs one
// signature, not two. The clients check only aud, exp, nbf (±2 min) and nonce of an ID token; a
// token with a nonce is never reused.
const (
	idTokenLifetime = time.Hour
	idTokenReuse    = 5 * time.Minute
	maxIDTokens     = 10_000
)

type idTokenCache struct {
	mu sync.Mutex
	m  map[string]cachedIDToken
}

type cachedIDToken struct {
	token    string
	issuedAt time.Time
}

func (s *Server) idToken(in IDTokenInput) (string, error) {
	key := ""
	if in.Nonce == "" {
		key = strings.Join([]string{in.Issuer, strconv.Itoa(int(in.Version)), in.Tenant.ID, in.User.ObjectID, in.User.UserPrincipalName,
			in.User.DisplayName, in.ClientID, strconv.FormatInt(in.AuthTime.Unix(), 10), strings.Join(in.AMR, ",")}, "\x00")
		s.idTokens.mu.Lock()
		c, ok := s.idTokens.m[key]
		s.idTokens.mu.Unlock()
		if ok && !in.IssuedAt.Before(c.issuedAt) && in.IssuedAt.Sub(c.issuedAt) < idTokenReuse {
			return c.token, nil
		}
	}
	in.TokenID, in.AIO = NewTokenIdentifiers()
	tok, err := s.signer.Sign(IDTokenClaims(in), false)
	if err != nil || key == "" {
		return tok, err
	}
	s.idTokens.mu.Lock()
	if s.idTokens.m == nil || len(s.idTokens.m) >= maxIDTokens {
		s.idTokens.m = make(map[string]cachedIDToken)
	}
	s.idTokens.m[key] = cachedIDToken{token: tok, issuedAt: in.IssuedAt}
	s.idTokens.mu.Unlock()
	return tok, nil
}
