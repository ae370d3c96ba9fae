package nodes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// JoinTokenPrefix starts every join token, so that one is recognisable in a paste (and by
// secret scanners).
const JoinTokenPrefix = "mintjoin_"

// Registry creates join tokens and joins nodes.
type Registry struct {
	st  store.Store
	dir *directory.Directory
	now func() time.Time
}

func NewRegistry(st store.Store, dir *directory.Directory) *Registry {
	return &Registry{st: st, dir: dir, now: time.Now}
}

// pendingJoin is what a join token grants, kept under the token's hash (never the token).
type pendingJoin struct {
	TenantID  string    `json:"tenantId"`
	Scope     string    `json:"scope"`
	Name      string    `json:"name"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func joinKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "join-token:" + hex.EncodeToString(sum[:])
}

// InputError is a refusal caused by the request; handlers answer it with a 400 (or the status).
type InputError struct {
	Status  int
	Code    string
	Message string
}

func (e *InputError) Error() string { return e.Message }

// CreateJoinToken returns a one-time token that lets one host join as a node holding the broker
// role at scope. The token itself is not stored.
func (r *Registry) CreateJoinToken(ctx context.Context, tenantID, scope, name string, ttl time.Duration) (string, time.Time, error) {
	id, err := armid.ParseScope(scope)
	if err != nil {
		return "", time.Time{}, &InputError{400, "InvalidScope", fmt.Sprintf("scope %q is not an ARM scope: %v", scope, err)}
	}
	if id.ResourceGroup != "" {
		// The node's role is written inside the group, which the store requires to exist.
		if _, err := r.st.GetResourceGroup(ctx, id.SubscriptionID, id.ResourceGroup); errors.Is(err, store.ErrNotFound) {
			return "", time.Time{}, groupNotFound(scope, id.ResourceGroup)
		} else if err != nil {
			return "", time.Time{}, err
		}
	}
	if ttl <= 0 || ttl > 7*24*time.Hour {
		return "", time.Time{}, &InputError{400, "InvalidTTL", "a join token must expire within 7 days"}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	token := JoinTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	p := pendingJoin{TenantID: tenantID, Scope: scope, Name: name, ExpiresAt: r.now().Add(ttl).UTC()}
	data, _ := json.Marshal(p)
	if err := r.st.PutSetting(ctx, joinKey(token), string(data)); err != nil {
		return "", time.Time{}, fmt.Errorf("record join token: %w", err)
	}
	return token, p.ExpiresAt, nil
}

// JoinResult is what a joined node needs to sign in.
type JoinResult struct {
	TenantID string `json:"tenantId"`
	ClientID string `json:"clientId"`
	ObjectID string `json:"objectId"`
	Scope    string `json:"scope"`
	Name     string `json:"name"`
}

// Join consumes a join token: it registers the node's principal with its certificate (the node
// keeps the private key) and grants it the broker role at the token's scope.
func (r *Registry) Join(ctx context.Context, token, name string, certDER []byte) (JoinResult, error) {
	refused := &InputError{401, "InvalidJoinToken", "The join token is unknown, expired or already used; create a new one with: mint node join-token create --scope <scope>"}
	if !strings.HasPrefix(token, JoinTokenPrefix) {
		return JoinResult{}, refused
	}
	key := joinKey(token)
	raw, err := r.st.GetSetting(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return JoinResult{}, refused
	}
	if err != nil {
		return JoinResult{}, err
	}
	var p pendingJoin
	if err := json.Unmarshal([]byte(raw), &p); err != nil || r.now().After(p.ExpiresAt) {
		return JoinResult{}, refused
	}
	if err := r.st.UseAssertion(ctx, key, p.ExpiresAt); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return JoinResult{}, refused
		}
		return JoinResult{}, err
	}
	if name == "" {
		name = p.Name
	}
	if name == "" {
		name = "node"
	}
	return r.register(ctx, p.TenantID, name, p.Scope, certDER)
}

// register creates a node principal with its certificate and the broker role at scope.
func (r *Registry) register(ctx context.Context, tenantID, name, scope string, certDER []byte) (JoinResult, error) {
	sp, err := r.dir.CreateApplication(ctx, tenantID, directory.ApplicationSpec{DisplayName: "mint node " + name})
	if err != nil {
		return JoinResult{}, err
	}
	if _, err := r.dir.AddCertificate(ctx, sp.ObjectID, "node key", certDER); err != nil {
		_ = r.dir.DeletePrincipal(ctx, sp.ObjectID)
		var in *directory.InputError
		if errors.As(err, &in) {
			return JoinResult{}, &InputError{400, "InvalidCertificate", in.Message}
		}
		return JoinResult{}, err
	}
	if err := authz.EnsureRole(ctx, r.st, sp.ObjectID, rbac.TokenBrokerRoleID, scope, "mint: node "+name+" hosts resources in this scope"); err != nil {
		_ = r.dir.DeletePrincipal(ctx, sp.ObjectID)
		if errors.Is(err, store.ErrNotFound) { // the scope's resource group was deleted since the token was made
			id, _ := armid.ParseScope(scope)
			return JoinResult{}, groupNotFound(scope, id.ResourceGroup)
		}
		return JoinResult{}, err
	}
	return JoinResult{TenantID: tenantID, ClientID: sp.AppID, ObjectID: sp.ObjectID, Scope: scope, Name: name}, nil
}

// RegisterLocal registers the node of `mint dev`'s in-process agent directly (no token) with the
// broker role at scope.
func (r *Registry) RegisterLocal(ctx context.Context, tenantID, name, scope string, certDER []byte) (JoinResult, error) {
	return r.register(ctx, tenantID, name, scope, certDER)
}

func groupNotFound(scope, group string) *InputError {
	return &InputError{404, "ResourceGroupNotFound", fmt.Sprintf(
		"The scope %s is in resource group '%s', which does not exist: create it (mint group create -n %s -l <location>) and then a new join token.", scope, group, group)}
}
