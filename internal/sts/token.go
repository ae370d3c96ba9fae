package sts

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/jsonstr"
	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/store"
)

// IssueRequest is a token to issue for an already authenticated client.
type IssueRequest struct {
	Tenant   store.Tenant
	Client   store.ServicePrincipal
	Resource store.ServicePrincipal
	// Audience is the resource exactly as the client asked for it (the v1 token's aud and the v1
	// response's resource); empty means the resource's first identifier URI, else its app id.
	Audience       string
	CredentialKind CredentialKind
	// ManagedIdentity adds xms_mirid / xms_az_rid; such tokens default to the managed-identity
	// lifetime.
	ManagedIdentity *ManagedIdentityClaims
	// Lifetime overrides the configured lifetime when non-zero (not clamped).
	Lifetime time.Duration
	// TraceID and CorrelationID tie the token to its request in the sign-in log; new ids are
	// made when empty.
	TraceID       string
	CorrelationID string
	// Roles, when non-nil, are used instead of asking the directory for Client's app roles on
	// Resource.
	Roles []string
}

// Token is an issued access token.
type Token struct {
	AccessToken string
	TokenID     string // uti: log this, never AccessToken
	Version     Version
	Audience    string // the resource as requested
	// ClientID is the app id the token was issued to; a managed-identity token response carries
	// it (client_id), as IMDS's does.
	ClientID        string
	ManagedIdentity bool
	IssuedAt        time.Time
	ExpiresAt       time.Time
}

// ExpiresIn is the expires_in of the token response: whole seconds left, less one, as Entra
// counts them (3599 for a one-hour token).
func (t Token) ExpiresIn() int64 {
	n := int64(t.ExpiresAt.Sub(t.IssuedAt)/time.Second) - 1
	if n < 0 {
		return 0
	}
	return n
}

// Issue builds, signs and logs (sign-in log, success) a token. It is the single place tokens are
// minted: the token endpoint uses it, and so will managed-identity issuance and the node agents'
// broker grant. Callers have authenticated and authorized the client; they log their own
// refusals. A returned error is an *Error.
func (s *Server) Issue(ctx context.Context, req IssueRequest) (Token, error) {
	tok, e := s.issue(ctx, req)
	if e != nil {
		return Token{}, e
	}
	return tok, nil
}

func (s *Server) issue(ctx context.Context, req IssueRequest) (Token, *Error) {
	now := s.clock()
	if req.TraceID == "" {
		req.TraceID = newUUID()
	}
	if req.CorrelationID == "" {
		req.CorrelationID = req.TraceID
	}
	if req.Audience == "" {
		req.Audience = req.Resource.AppID
		if len(req.Resource.IdentifierURIs) > 0 {
			req.Audience = req.Resource.IdentifierURIs[0]
		}
	}
	lifetime := req.Lifetime
	if lifetime == 0 {
		lifetime = s.appLifetime
		if req.ManagedIdentity != nil || req.CredentialKind == CredentialManagedIdentity {
			lifetime = s.miLifetime
		}
	}
	roles := req.Roles
	if roles == nil {
		var err error
		if roles, err = s.dir.AppRoles(ctx, req.Client.ObjectID, req.Resource); err != nil {
			s.log.ErrorContext(ctx, "app role lookup failed", "trace_id", req.TraceID, "client_id", req.Client.AppID, "err", err)
			return Token{}, errServer(err)
		}
	}
	uti, aio := NewTokenIdentifiers()
	v := TokenVersion(req.Resource)
	claims := ClaimsFor(ClaimsInput{
		BaseURL:         s.baseURL,
		Tenant:          req.Tenant,
		Client:          req.Client,
		Resource:        req.Resource,
		Audience:        req.Audience,
		CredentialKind:  req.CredentialKind,
		Roles:           roles,
		IssuedAt:        now,
		Lifetime:        lifetime,
		TokenID:         uti,
		AIO:             aio,
		ManagedIdentity: req.ManagedIdentity,
	})
	jwt, err := s.signer.Sign(claims, v == V1)
	if err != nil {
		s.log.ErrorContext(ctx, "token signing failed", "trace_id", req.TraceID, "client_id", req.Client.AppID, "err", err)
		return Token{}, errServer(err)
	}
	tok := Token{AccessToken: jwt, TokenID: uti, Version: v, Audience: req.Audience, ClientID: req.Client.AppID, ManagedIdentity: req.ManagedIdentity != nil,
		IssuedAt: time.Unix(now.Unix(), 0), ExpiresAt: time.Unix(now.Add(lifetime).Unix(), 0)}
	rec := store.SignIn{
		ID:            req.TraceID,
		Time:          now,
		TenantID:      req.Tenant.ID,
		PrincipalID:   req.Client.ObjectID,
		AppID:         req.Client.AppID,
		Resource:      req.Audience,
		Grant:         req.CredentialKind.Grant(),
		Result:        "success",
		CorrelationID: req.CorrelationID,
		TokenID:       uti,
	}
	if req.ManagedIdentity != nil {
		rec.ResourceID = firstNonEmpty(req.ManagedIdentity.AzResourceID, req.ManagedIdentity.MIResourceID)
	}
	s.record(rec)
	s.log.LogAttrs(ctx, slog.LevelInfo, "token issued", slog.String("tenant_id", req.Tenant.ID), slog.String("client_id", req.Client.AppID),
		slog.String("resource", req.Audience), slog.String("grant", rec.Grant), slog.String("uti", uti),
		slog.String("trace_id", req.TraceID), slog.String("correlation_id", req.CorrelationID))
	return tok, nil
}

func (s *Server) record(rec store.SignIn) {
	if s.signins != nil {
		s.signins.Record(rec)
	}
}

// attempt is what is known about a token request so far, for its sign-in log entry.
type attempt struct {
	traceID       string
	correlationID string
	echoID        string // client-request-id to echo
	now           time.Time
	tenantID      string
	principalID   string
	appID         string
	resource      string
	grant         string
}

// serveToken answers /{tenant}/oauth2/v2.0/token and /{tenant}/oauth2/token.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, seg string, v Version) {
	at := attempt{traceID: newUUID(), now: s.clock()}
	if id := r.Header.Get("Client-Request-Id"); isGUID(id) {
		at.correlationID, at.echoID = id, id
	}
	if r.Method != http.MethodPost {
		if at.echoID != "" {
			w.Header()["Client-Request-Id"] = []string{at.echoID}
		}
		s.writeError(w, errMethod("POST", r.Method), at.traceID, at.correlationID, at.now)
		return
	}
	form, e := ReadForm(r, s.maxBody)
	if at.correlationID == "" {
		id := form.Get("client-request-id") // nil form reads as empty
		if id == "" && r.URL.RawQuery != "" {
			id = r.URL.Query().Get("client-request-id")
		}
		if isGUID(id) {
			at.correlationID, at.echoID = id, id
		}
	}
	if at.correlationID == "" {
		at.correlationID = newUUID()
	}
	if e != nil {
		s.refuse(r.Context(), w, &at, e)
		return
	}
	at.appID = truncate(strings.TrimSpace(form.Get("client_id")), 200)
	if v == V1 {
		at.resource = truncate(strings.TrimSpace(form.Get("resource")), 500)
	} else {
		at.resource = truncate(strings.TrimSpace(form.Get("scope")), 500)
	}
	switch {
	case form.Get("client_assertion") != "":
		at.grant = CredentialCertificate.Grant()
	case form.Get("client_secret") != "" || hasBasicAuth(r.Header.Get("Authorization")):
		at.grant = CredentialSecret.Grant()
	default:
		at.grant = truncate(form.Get("grant_type"), 100)
	}

	if isUserGrant(form.Get("grant_type")) {
		s.serveUserToken(w, r, &at, seg, v, form)
		return
	}

	var tenant store.Tenant
	switch classifySegment(seg) {
	case segmentInvalid:
		s.refuse(r.Context(), w, &at, errTenantInvalid(truncate(seg, 100)))
		return
	case segmentMultiTenant:
		s.refuse(r.Context(), w, &at, errNoTenant(seg))
		return
	default:
		if tenant, e = s.resolveTenant(r.Context(), seg); e != nil {
			s.refuse(r.Context(), w, &at, e)
			return
		}
	}
	at.tenantID = tenant.ID

	req, e := ParseTokenRequest(v, form, r.Header.Get("Authorization"))
	if req.ClientID != "" {
		at.appID = truncate(req.ClientID, 200)
	}
	if e != nil {
		s.refuse(r.Context(), w, &at, e)
		return
	}
	at.resource = req.Resource
	if origin := r.Header.Get("Origin"); origin != "" { // a client credential used from a browser
		s.refuse(r.Context(), w, &at, errCrossOriginNotSPA(origin))
		return
	}

	ir, e := s.clientCredentials(r.Context(), &at, tenant, seg, req)
	if e == nil && req.GrantType == nodewire.GrantManagedIdentity {
		at.grant = brokerGrantName
		ir, e = s.brokerGrant(r.Context(), &at, ir, req)
	}
	if e != nil {
		s.refuse(r.Context(), w, &at, e)
		return
	}
	ir.TraceID, ir.CorrelationID = at.traceID, at.correlationID
	if ir.ManagedIdentity != nil {
		key := miCacheKey(ir, TokenVersion(ir.Resource))
		if tok, ok := s.miCache.get(key, at.now); ok {
			s.record(store.SignIn{ID: at.traceID, Time: at.now, TenantID: tenant.ID, PrincipalID: ir.Client.ObjectID, AppID: ir.Client.AppID,
				Resource: ir.Audience, Grant: ir.CredentialKind.Grant(), Result: "success", Reason: "a token issued earlier was reused",
				CorrelationID: at.correlationID, TokenID: tok.TokenID, ResourceID: firstNonEmpty(ir.ManagedIdentity.AzResourceID, ir.ManagedIdentity.MIResourceID)})
			s.writeToken(w, &at, v, tok)
			return
		}
		tok, e := s.issue(r.Context(), ir)
		if e != nil {
			s.refuse(r.Context(), w, &at, e)
			return
		}
		s.miCache.put(key, tok, at.now)
		s.writeToken(w, &at, v, tok)
		return
	}
	tok, e := s.issue(r.Context(), ir)
	if e != nil {
		s.refuse(r.Context(), w, &at, e)
		return
	}
	s.writeToken(w, &at, v, tok)
}

// clientCredentials authenticates a client_credentials request and resolves its resource.
func (s *Server) clientCredentials(ctx context.Context, at *attempt, tenant store.Tenant, seg string, req TokenRequest) (IssueRequest, *Error) {
	client, err := s.dir.Client(ctx, tenant.ID, req.ClientID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return IssueRequest{}, errClientNotFound(truncate(req.ClientID, 200), tenantName(tenant.DisplayName, tenant.ID))
		}
		s.log.ErrorContext(ctx, "client lookup failed", "trace_id", at.traceID, "client_id", at.appID, "err", err)
		return IssueRequest{}, errServer(err)
	}
	at.principalID, at.appID = client.ObjectID, client.AppID

	var kind CredentialKind
	var e *Error
	switch {
	case req.ClientAssertion != "":
		kind, e = s.authenticateAssertion(ctx, at, tenant, seg, client, req)
	case req.ClientSecret != "":
		kind, e = s.authenticateSecret(ctx, at, client, req.ClientSecret)
	default:
		e = NewError(http.StatusUnauthorized, "invalid_client", codeNoClientCredential,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	if e != nil {
		return IssueRequest{}, e
	}

	resource, err := s.dir.Resource(ctx, tenant.ID, req.Resource)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return IssueRequest{}, errResourceNotFound(truncate(req.Resource, 300), tenantName(tenant.DisplayName, tenant.ID))
		}
		s.log.ErrorContext(ctx, "resource lookup failed", "trace_id", at.traceID, "resource", req.Resource, "err", err)
		return IssueRequest{}, errServer(err)
	}
	ir := IssueRequest{Tenant: tenant, Client: client, Resource: resource, Audience: req.Resource, CredentialKind: kind}
	if kind == CredentialFederated && client.Kind == store.KindManagedIdentity {
		// A user-assigned identity's federated exchange yields that identity's managed-identity
		// token: xms_mirid names it; no xms_az_rid, since no compute resource is involved.
		ir.ManagedIdentity = &ManagedIdentityClaims{MIResourceID: managedIdentityResourceID(client)}
	}
	return ir, nil
}

// managedIdentityResourceID is the ARM id a managed identity's principal stands for: the first
// of its alternative names that is an ARM id (Entra lists "isExplicit=True" beside it).
func managedIdentityResourceID(sp store.ServicePrincipal) string {
	for _, n := range sp.AlternativeNames {
		if strings.HasPrefix(n, "/") {
			return n
		}
	}
	return ""
}

func hasBasicAuth(authorization string) bool {
	return len(authorization) > 6 && strings.EqualFold(authorization[:6], "basic ")
}

func errManagedIdentityClient(appID string) *Error {
	return NewError(http.StatusUnauthorized, "invalid_client", codeInvalidClient,
		"Error validating credentials. '%s' is a managed identity: managed identities have no client secrets or certificates "+
			"and cannot use the client credentials grant with them. Get its tokens from the managed identity endpoint "+
			"(IDENTITY_ENDPOINT / IMDS) of a resource it is attached to, or through a federated identity credential.", appID)
}

func (s *Server) authenticateSecret(ctx context.Context, at *attempt, client store.ServicePrincipal, secret string) (CredentialKind, *Error) {
	if client.Kind == store.KindManagedIdentity {
		return 0, errManagedIdentityClient(client.AppID)
	}
	ok, err := s.dir.VerifySecret(ctx, client.ObjectID, secret)
	switch {
	case errors.Is(err, ErrSecretExpired):
		return 0, NewError(http.StatusUnauthorized, "invalid_client", codeSecretExpired,
			"The provided client secret keys for app '%s' are expired. Create a new client secret for the app, "+
				"or use a certificate credential.", client.AppID)
	case err != nil:
		s.log.ErrorContext(ctx, "secret verification failed", "trace_id", at.traceID, "client_id", client.AppID, "err", err)
		return 0, errServer(err)
	case !ok && s.secretExpired(ctx, at, client.ObjectID, secret):
		return 0, NewError(http.StatusUnauthorized, "invalid_client", codeSecretExpired,
			"The provided client secret keys for app '%s' are expired. Create a new client secret for the app, "+
				"or use a certificate credential.", client.AppID)
	case !ok:
		return 0, NewError(http.StatusUnauthorized, "invalid_client", codeInvalidSecret,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the "+
				"client secret ID, for a secret added to app '%s'.", client.AppID)
	}
	return CredentialSecret, nil
}

// secretExpired asks a Directory that implements SecretExpiryChecker whether a refused secret
// matches an expired credential. A failure to tell is logged and read as "no".
func (s *Server) secretExpired(ctx context.Context, at *attempt, principalID, secret string) bool {
	chk, ok := s.dir.(SecretExpiryChecker)
	if !ok {
		return false
	}
	expired, err := chk.SecretExpired(ctx, principalID, secret)
	if err != nil {
		s.log.WarnContext(ctx, "secret expiry check failed", "trace_id", at.traceID, "err", err)
		return false
	}
	return expired
}

func (s *Server) authenticateAssertion(ctx context.Context, at *attempt, tenant store.Tenant, seg string, client store.ServicePrincipal, req TokenRequest) (CredentialKind, *Error) {
	a, e := ParseAssertion(req.ClientAssertion)
	if e != nil {
		return 0, e
	}
	if a.IsFederated(req.ClientID) {
		at.grant = CredentialFederated.Grant()
		return s.authenticateFederated(ctx, at, tenant, client, a)
	}
	if !certificateAlgorithm(a.Algorithm) { // ECDSA is for federated assertions only
		return 0, errUnsupportedAlgorithm(a.Algorithm)
	}
	if client.Kind == store.KindManagedIdentity {
		return 0, errManagedIdentityClient(client.AppID)
	}
	certs, err := s.dir.Certificates(ctx, client.ObjectID)
	if err != nil {
		s.log.ErrorContext(ctx, "certificate lookup failed", "trace_id", at.traceID, "client_id", client.AppID, "err", err)
		return 0, errServer(err)
	}
	e = VerifyClientAssertion(a, AssertionCheck{
		ClientID:     req.ClientID,
		Certificates: certs,
		AudienceOK:   func(aud string) bool { return s.assertionAudienceOK(tenant.ID, seg, aud) },
		Now:          at.now,
	})
	if e != nil {
		return 0, e
	}
	if s.assertions == nil {
		s.log.ErrorContext(ctx, "no assertion store configured; refusing client assertion", "trace_id", at.traceID)
		return 0, errServer(err)
	}
	switch err := s.assertions.UseAssertion(ctx, strings.ToLower(client.AppID)+"|"+a.ID, a.Expiry); {
	case errors.Is(err, store.ErrConflict):
		return 0, NewError(http.StatusUnauthorized, "invalid_client", codeAssertionReplay,
			"Assertion is invalid because of various reasons - The assertion has already been used (jti replay). "+
				"Make a new assertion, with a new 'jti', for each token request.")
	case err != nil:
		s.log.ErrorContext(ctx, "assertion replay check failed", "trace_id", at.traceID, "client_id", client.AppID, "err", err)
		return 0, errServer(err)
	}
	return CredentialCertificate, nil
}

func (s *Server) authenticateFederated(ctx context.Context, at *attempt, tenant store.Tenant, client store.ServicePrincipal, a *Assertion) (CredentialKind, *Error) {
	if s.federated == nil {
		return 0, NewError(http.StatusBadRequest, "invalid_request", codeNoFederatedRecord,
			"No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. "+
				"Assertion Audience: '%s'. Add a federated identity credential with this issuer and subject to app '%s'.",
			truncate(a.Issuer, 200), truncate(a.Subject, 200), truncate(strings.Join(a.Audience, ","), 200), client.AppID)
	}
	err := s.federated.VerifyFederated(ctx, FederatedRequest{Tenant: tenant, Client: client, Assertion: a, Now: at.now})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return 0, e
		}
		s.log.ErrorContext(ctx, "federated assertion verification failed", "trace_id", at.traceID, "client_id", client.AppID, "err", err)
		return 0, errServer(err)
	}
	return CredentialFederated, nil
}

// refuse answers e, logs it and records the refusal in the sign-in log.
func (s *Server) refuse(ctx context.Context, w http.ResponseWriter, at *attempt, e *Error) {
	s.record(store.SignIn{
		ID:            at.traceID,
		Time:          at.now,
		TenantID:      at.tenantID,
		PrincipalID:   at.principalID,
		AppID:         at.appID,
		Resource:      at.resource,
		Grant:         at.grant,
		Result:        "failure",
		ErrorCode:     e.AADSTS(),
		Reason:        e.Description,
		CorrelationID: at.correlationID,
	})
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	s.log.LogAttrs(ctx, level, "token refused", slog.String("tenant_id", at.tenantID), slog.String("client_id", at.appID),
		slog.String("resource", at.resource), slog.String("grant", at.grant), slog.String("error_code", e.AADSTS()),
		slog.String("reason", e.Description), slog.String("trace_id", at.traceID), slog.String("correlation_id", at.correlationID))
	if at.echoID != "" {
		w.Header()["Client-Request-Id"] = []string{at.echoID}
	}
	if e.Code == codeCrossOriginNotSPA {
		w.Header()["Access-Control-Allow-Origin"] = []string{"*"} // as Entra: the page may read why
	}
	s.writeError(w, e, at.traceID, at.correlationID, at.now)
}

// writeToken writes the token response: v2 with integer times, v1 with string times plus
// expires_on, not_before and resource. Built by hand: it is the hot path.
func (s *Server) writeToken(w http.ResponseWriter, at *attempt, v Version, tok Token) {
	b := make([]byte, 0, len(tok.AccessToken)+256)
	b = append(b, `{"token_type":"Bearer"`...)
	b = appendLifetime(b, v != V2, tok.ExpiresIn(), tok.ExpiresAt.Unix(), tok.IssuedAt.Unix(), tok.Audience)
	if tok.ManagedIdentity {
		b = append(b, `,"client_id":"`...)
		b = append(b, tok.ClientID...) // a GUID
		b = append(b, '"')
	}
	b = append(b, `,"access_token":"`...)
	b = append(b, tok.AccessToken...) // a compact JWS: base64url and dots, nothing to escape
	b = append(b, `"}`...)
	writeTokenAnswer(w, at, b)
}

// appendLifetime writes a token answer's times after its first members, in Entra's shapes: v2's
// numbers, or v1's strings with expires_on, not_before and the resource.
func appendLifetime(b []byte, v1 bool, expiresIn, expiresOn, notBefore int64, resource string) []byte {
	if !v1 {
		b = append(b, `,"expires_in":`...)
		b = strconv.AppendInt(b, expiresIn, 10)
		b = append(b, `,"ext_expires_in":`...)
		return strconv.AppendInt(b, expiresIn, 10)
	}
	b = append(b, `,"expires_in":"`...)
	b = strconv.AppendInt(b, expiresIn, 10)
	b = append(b, `","ext_expires_in":"`...)
	b = strconv.AppendInt(b, expiresIn, 10)
	b = append(b, `","expires_on":"`...)
	b = strconv.AppendInt(b, expiresOn, 10)
	b = append(b, `","not_before":"`...)
	b = strconv.AppendInt(b, notBefore, 10)
	b = append(b, `","resource":`...)
	return jsonstr.Append(b, resource)
}

// writeTokenAnswer sends a token answer body (JSON written by hand) with the headers every
// successful token response carries.
func writeTokenAnswer(w http.ResponseWriter, at *attempt, body []byte) {
	h := w.Header()
	setNoStoreHeaders(h, at.traceID)
	if at.echoID != "" {
		h["Client-Request-Id"] = []string{at.echoID}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
