package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/jsonbody"
	"github.com/mint-id/mint/internal/managedidentity"
	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/sts"
)

// Workload tokens make mint an OIDC issuer for its own workloads, so that a program started by
// `mint run --federated-token-file` can use WorkloadIdentityCredential (AZURE_FEDERATED_TOKEN_FILE)
// as a Kubernetes pod would:
//
//	iss  mint's v2 issuer for the resource's tenant, https://login.microsoftonline.com/{tenant}/v2.0
//	     as Entra's, whose discovery document and JWKS mint serves at BaseURL/{tenant}/v2.0 (and
//	     which the Verifier checks with mint's keys, without HTTP)
//	sub  "mint:resource:" + the resource's ARM id as mint stores it (mint resource show's "id")
//	aud  api://AzureADTokenExchange unless asked otherwise
//	exp  one hour; `mint run` rewrites the file at half-life
//
// A user-assigned identity trusts such tokens through a federated identity credential with that
// issuer and subject. Trust model: a caller may obtain the token of a resource if it could make
// the resource obtain tokens anyway: it holds Microsoft.ManagedIdentity/identities/issueToken/action
// there (a node agent's "Managed Identity Token Broker") or may write the resource
// ({type}/write: Contributor, Owner). The identity's owner consents by writing the credential.
// The audience must be an api:// URI that no principal of the tenant answers to, so that a
// workload token can never pass for an access token of one of mint's resources (it is signed
// with the same keys).

const (
	workloadTokenLifetime = time.Hour
	// WorkloadSubjectPrefix starts the subject of a workload token; the resource id follows.
	WorkloadSubjectPrefix = "mint:resource:"
	workloadTokenGrant    = "workload_token"
	maxAudienceLength     = 600
)

// HandlerConfig configures the workload-token endpoint.
type HandlerConfig struct {
	Store   store.Store
	Signer  sts.Signer
	Tokens  *bearer.Validator // management-audience bearer tokens
	BaseURL string
	SignIns sts.SignInRecorder // may be nil
	Clock   func() time.Time
	Logger  *slog.Logger
}

// Handler serves nodewire.WorkloadTokensPath.
type Handler struct {
	cfg   HandlerConfig
	authz *authz.Authorizer
}

// NewHandler returns the workload-token endpoint.
func NewHandler(cfg HandlerConfig) *Handler {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Handler{cfg: cfg, authz: authz.New(cfg.Store)}
}

// apiError is the endpoint's error: ARM's envelope.
type apiError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

// storeFailure is the error for a store read that failed: 503 with Retry-After while the store
// is unavailable (the agent's caller may retry), else a 500 saying what could not be read.
func storeFailure(err error, what string) *apiError {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, authz.ErrUnavailable) {
		return &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", what + " because mint's store did not answer; retry later."}
	}
	return &apiError{http.StatusInternalServerError, "InternalServerError", what + "."}
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", store.UnavailableRetryAfter)
	}
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != nodewire.WorkloadTokensPath {
		writeError(w, &apiError{http.StatusNotFound, "NotFound", "No endpoint at " + r.URL.Path + "; the workload-token endpoint is POST " + nodewire.WorkloadTokensPath + "."})
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, &apiError{http.StatusMethodNotAllowed, "MethodNotAllowed", "Use POST."})
		return
	}
	raw, err := bearer.FromRequest(r)
	if err != nil {
		writeError(w, &apiError{http.StatusUnauthorized, "AuthenticationFailed", err.Error()})
		return
	}
	caller, err := h.cfg.Tokens.Validate(raw)
	if err != nil {
		writeError(w, &apiError{http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error()})
		return
	}
	var req nodewire.WorkloadTokenRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil || json.Unmarshal(body, &req) != nil || jsonbody.Check(body) != nil {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidRequestContent", `The body must be JSON: {"resourceId": "<ARM id>", "audience": "api://AzureADTokenExchange"}.`})
		return
	}
	tok, e := h.issue(r.Context(), caller, req)
	if e != nil {
		h.cfg.Logger.InfoContext(r.Context(), "workload token refused", "caller", caller.ObjectID, "resource", req.ResourceID, "reason", e.Message)
		h.record(store.SignIn{TenantID: caller.TenantID, PrincipalID: caller.ObjectID, AppID: caller.ClientID(), Resource: clip(req.Audience),
			Grant: workloadTokenGrant, Result: "failure", Reason: e.Message, ResourceID: clip(req.ResourceID)})
		writeError(w, e)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(tok)
}

func (h *Handler) record(rec store.SignIn) {
	if h.cfg.SignIns == nil {
		return
	}
	if rec.ID == "" {
		rec.ID = uuid.NewString()
	}
	if rec.Time.IsZero() {
		rec.Time = h.cfg.Clock()
	}
	rec.CorrelationID = rec.ID
	h.cfg.SignIns.Record(rec)
}

func (h *Handler) issue(ctx context.Context, caller bearer.Claims, req nodewire.WorkloadTokenRequest) (nodewire.WorkloadToken, *apiError) {
	var none nodewire.WorkloadToken
	id, err := armid.Parse(req.ResourceID)
	if err != nil || !id.IsResource() {
		return none, &apiError{http.StatusBadRequest, "InvalidResourceId", fmt.Sprintf("'%s' is not the ARM id of a resource.", clip(req.ResourceID))}
	}
	audience := req.Audience
	if audience == "" {
		audience = DefaultAudience
	}
	// Authorization first, so a caller learns nothing about resources it may not act for.
	allowed, err := h.allowed(ctx, caller.ObjectID, id)
	if err != nil {
		h.cfg.Logger.ErrorContext(ctx, "workload token authorization failed", "err", err)
		return none, storeFailure(err, "Authorization could not be decided")
	}
	if !allowed {
		return none, &apiError{http.StatusForbidden, "AuthorizationFailed", fmt.Sprintf(
			"The client '%s' with object id '%s' may not obtain workload tokens for '%s': it needs %s (Managed Identity Token Broker) or %s/write (Contributor) there.",
			caller.ClientID(), caller.ObjectID, id, rbac.IssueTokenDataAction, id.ResourceType())}
	}
	res, err := h.cfg.Store.GetResource(ctx, id.String())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return none, &apiError{http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The resource '%s' was not found.", id)}
	case err != nil:
		return none, storeFailure(err, "The resource could not be read")
	case managedidentity.IsUserAssigned(res.Type) || strings.EqualFold(res.Type, CredentialType):
		return none, &apiError{http.StatusBadRequest, "InvalidResourceId", fmt.Sprintf(
			"'%s' is an identity, not a resource a workload runs as: ask for the token of the container app, web app or VM the workload runs as.", id)}
	}
	sub, err := h.cfg.Store.GetSubscription(ctx, res.SubscriptionID)
	if err != nil {
		return none, storeFailure(err, "The resource's subscription could not be read")
	}
	if caller.TenantID != "" && !strings.EqualFold(caller.TenantID, sub.TenantID) {
		return none, &apiError{http.StatusForbidden, "InvalidAuthenticationTokenTenant", fmt.Sprintf(
			"The token is from tenant '%s' but the resource is in tenant '%s'.", caller.TenantID, sub.TenantID)}
	}
	if e := h.checkAudience(ctx, sub.TenantID, audience); e != nil {
		return none, e
	}
	now := h.cfg.Clock().Truncate(time.Second)
	exp := now.Add(workloadTokenLifetime)
	jti := uuid.NewString()
	out := nodewire.WorkloadToken{Issuer: bearer.V2Issuer(sub.TenantID), Subject: WorkloadSubjectPrefix + res.ID,
		Audience: audience, TenantID: sub.TenantID, ExpiresOn: exp.Unix()}
	claims := map[string]any{"iss": out.Issuer, "sub": out.Subject, "aud": audience, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": exp.Unix(), "jti": jti, "tid": sub.TenantID, "xms_az_rid": res.ID}
	if out.Token, err = h.cfg.Signer.Sign(claims, false); err != nil {
		h.cfg.Logger.ErrorContext(ctx, "workload token signing failed", "err", err)
		return none, &apiError{http.StatusInternalServerError, "InternalServerError", "The token could not be signed."}
	}
	h.record(store.SignIn{ID: jti, Time: now, TenantID: sub.TenantID, PrincipalID: caller.ObjectID, AppID: caller.ClientID(), Resource: audience,
		Grant: workloadTokenGrant, Result: "success", TokenID: jti, ResourceID: res.ID})
	h.cfg.Logger.InfoContext(ctx, "workload token issued", "caller", caller.ObjectID, "resource", res.ID, "jti", jti)
	return out, nil
}

// allowed reports whether principalID may obtain the workload token of resource id.
func (h *Handler) allowed(ctx context.Context, principalID string, id armid.ResourceID) (bool, error) {
	if principalID == "" {
		return false, nil
	}
	for _, q := range []rbac.Query{
		{PrincipalID: principalID, Action: rbac.IssueTokenDataAction, Scope: id.String(), DataAction: true},
		{PrincipalID: principalID, Action: id.ResourceType() + "/write", Scope: id.String()},
	} {
		d, err := h.authz.Decide(ctx, q)
		if err != nil {
			return false, err
		}
		if d.Allowed {
			return true, nil
		}
	}
	return false, nil
}

// checkAudience refuses audiences a workload token could be mistaken for an access token with.
func (h *Handler) checkAudience(ctx context.Context, tenantID, audience string) *apiError {
	if len(audience) > maxAudienceLength || !strings.HasPrefix(audience, "api://") || strings.ContainsAny(audience, " \t\r\n") {
		return &apiError{http.StatusBadRequest, "InvalidAudience", fmt.Sprintf(
			"The audience '%s' is not allowed: a workload token's audience is an api:// URI of at most %d characters, normally %s.", clip(audience), maxAudienceLength, DefaultAudience)}
	}
	_, err := h.cfg.Store.GetPrincipalByIdentifierURI(ctx, tenantID, audience)
	switch {
	case err == nil:
		return &apiError{http.StatusBadRequest, "InvalidAudience", fmt.Sprintf(
			"The audience '%s' is the identifier URI of an application in the tenant: a workload token for it could pass for an access token. Use %s.", audience, DefaultAudience)}
	case !errors.Is(err, store.ErrNotFound):
		return storeFailure(err, "The audience could not be checked")
	}
	return nil
}
