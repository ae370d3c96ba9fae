package nodes

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/nodewire"
	"github.com/mint-id/mint/internal/proxy"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// Handler serves /mint/nodes/joinTokens (an administrator creates a join token; needs
// Microsoft.Authorization/roleAssignments/write at the scope, since joining grants a role there)
// and /mint/nodes/join (an agent presents the token and its certificate).
type Handler struct {
	reg    *Registry
	authz  *authz.Authorizer
	tokens *bearer.Validator
	log    *slog.Logger

	proxyCA ProxyCertIssuer // nil: no proxy certificates (see proxycert.go)
	feed    *Feed           // nil: no revocation feed (see revocations.go)
}

func NewHandler(reg *Registry, tokens *bearer.Validator, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{reg: reg, authz: authz.New(reg.st), tokens: tokens, log: logger}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == nodewire.RevocationsPath && r.Method == http.MethodGet {
		h.revocations(w, r)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, &InputError{http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	switch r.URL.Path {
	case "/mint/nodes/joinTokens":
		h.createToken(w, r)
	case "/mint/nodes/join":
		h.join(w, r)
	case proxy.NodeCertificatePath:
		h.proxyCertificate(w, r)
	default:
		writeError(w, &InputError{http.StatusNotFound, "NotFound", "no such node endpoint"})
	}
}

// CreateTokenRequest is the body of POST /mint/nodes/joinTokens.
type CreateTokenRequest struct {
	Scope string `json:"scope"`
	Name  string `json:"name"`
	TTL   string `json:"ttl"` // Go duration, default 1h
}

// CreateTokenResponse answers it.
type CreateTokenResponse struct {
	JoinToken string    `json:"joinToken"`
	Scope     string    `json:"scope"`
	ExpiresOn time.Time `json:"expiresOn"`
}

// caller validates the request's bearer token (for the management endpoint); a missing or
// invalid one is answered 401 and ok is false.
func (h *Handler) caller(w http.ResponseWriter, r *http.Request) (claims bearer.Claims, ok bool) {
	tok, err := bearer.FromRequest(r)
	if err != nil {
		writeError(w, &InputError{http.StatusUnauthorized, "AuthenticationFailed", err.Error()})
		return claims, false
	}
	claims, err = h.tokens.Validate(tok)
	if err != nil {
		writeError(w, &InputError{http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error()})
		return claims, false
	}
	return claims, true
}

// node authenticates the caller as caller does and checks that it is a node: a principal that
// holds the broker data action somewhere (a join gives it). A node that lost the role is
// answered 403 with what it may not do (mayNot) and, by the agent, drops every token it holds.
func (h *Handler) node(w http.ResponseWriter, r *http.Request, mayNot string) (claims bearer.Claims, ok bool) {
	if claims, ok = h.caller(w, r); !ok {
		return claims, false
	}
	isNode, err := h.reg.holdsBrokerRole(r.Context(), claims.ObjectID)
	if err != nil {
		h.internal(w, err)
		return claims, false
	}
	if !isNode {
		writeError(w, &InputError{http.StatusForbidden, "AuthorizationFailed", fmt.Sprintf(
			"The client '%s' with object id '%s' is not a node: it holds %s (the Managed Identity Token Broker role, which a join gives) nowhere, so it may %s.",
			claims.ClientID(), claims.ObjectID, rbac.IssueTokenDataAction, mayNot)})
		return claims, false
	}
	return claims, true
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) {
	claims, ok := h.caller(w, r)
	if !ok {
		return
	}
	var req CreateTokenRequest
	if !decode(w, r, &req) {
		return
	}
	ttl := time.Hour
	if req.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(req.TTL); err != nil {
			writeError(w, &InputError{http.StatusBadRequest, "InvalidTTL", fmt.Sprintf("ttl %q is not a duration like 1h", req.TTL)})
			return
		}
	}
	action := "Microsoft.Authorization/roleAssignments/write"
	d, err := h.authz.Decide(r.Context(), rbac.Query{PrincipalID: claims.ObjectID, Action: action, Scope: req.Scope})
	if err != nil {
		h.internal(w, err)
		return
	}
	if !d.Allowed {
		writeError(w, &InputError{http.StatusForbidden, "AuthorizationFailed", fmt.Sprintf(
			"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s', which a join token for that scope needs (the node will hold a role there). %s",
			claims.ClientID(), claims.ObjectID, action, req.Scope, d.Reason)})
		return
	}
	token, exp, err := h.reg.CreateJoinToken(r.Context(), claims.TenantID, req.Scope, req.Name, ttl)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, CreateTokenResponse{JoinToken: token, Scope: req.Scope, ExpiresOn: exp})
}

// JoinRequest is the body of POST /mint/nodes/join.
type JoinRequest struct {
	JoinToken   string `json:"joinToken"`
	Name        string `json:"name"`
	Certificate string `json:"certificate"` // base64 DER of the node's self-signed certificate
}

func (h *Handler) join(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	if !decode(w, r, &req) {
		return
	}
	der, err := base64.StdEncoding.DecodeString(req.Certificate)
	if err != nil || len(der) == 0 {
		writeError(w, &InputError{http.StatusBadRequest, "InvalidCertificate", "certificate must be the base64 DER of the node's certificate"})
		return
	}
	res, err := h.reg.Join(r.Context(), req.JoinToken, req.Name, der)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.log.Info("node joined", "name", res.Name, "client_id", res.ClientID, "scope", res.Scope)
	writeJSON(w, http.StatusOK, res)
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	var in *InputError
	if errors.As(err, &in) {
		writeError(w, in)
		return
	}
	h.internal(w, err)
}

func (h *Handler) internal(w http.ResponseWriter, err error) {
	h.log.Error("node request failed", "err", err)
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, authz.ErrUnavailable) {
		w.Header().Set("Retry-After", store.UnavailableRetryAfter)
		writeError(w, &InputError{http.StatusServiceUnavailable, "ServiceUnavailable", "mint's store did not answer; retry later"})
		return
	}
	writeError(w, &InputError{http.StatusInternalServerError, "InternalServerError", "the request failed; see the server log"})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		writeError(w, &InputError{http.StatusBadRequest, "InvalidRequestContent", "the body must be JSON: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *InputError) {
	writeJSON(w, e.Status, map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
}
