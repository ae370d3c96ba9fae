package arm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/revocation"
	"github.com/mint-id/mint/internal/store"
)

// Store is what the management endpoint reads and writes.
type Store interface {
	store.Store
	store.ControlPlane
}

// Config configures the management endpoint.
type Config struct {
	// BaseURL is mint's public base URL: the management endpoint and the authority host.
	BaseURL string
	Logger  *slog.Logger
	Clock   func() time.Time
}

// Server serves the ARM-shaped management endpoint. The front door (ServeHTTP) authenticates
// the caller, routes the path to the provider of its resource type, authorizes the request the
// way ARM does (the caller needs {type}/read, /write, /delete or /{verb}/action at the target)
// and records every write, successful or not, in the activity log. Providers add what is theirs:
// validation, linked authorization, the resource's semantics.
type Server struct {
	cfg       Config
	st        Store
	dir       *directory.Directory
	authz     *authz.Authorizer
	tokens    *bearer.Validator
	revoked   *revocation.Checker
	log       *slog.Logger
	providers map[string]provider // lower-case full resource type → provider
	types     []string            // the registered types in their canonical spelling
}

// provider serves one resource type (or several, sharing code). The front door has already
// authenticated and authorized the call and checked that the subscription and resource group in
// the path exist.
type provider interface {
	// apiVersions are the api-versions the type accepts.
	apiVersions() []string
	// serve answers a call on one resource (c.collection false) or a list (c.collection true).
	serve(c *call)
}

// New builds the management endpoint.
func New(cfg Config, st Store, dir *directory.Directory, keys bearer.KeySource) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	s := &Server{
		cfg: cfg, st: st, dir: dir, authz: authz.New(st), log: cfg.Logger, revoked: revocation.NewChecker(st, cfg.Clock),
		tokens: &bearer.Validator{Keys: keys, IssuerBase: cfg.BaseURL, Audiences: ManagementAudiences(cfg.BaseURL)},
	}
	s.providers = map[string]provider{}
	s.registerProviders()
	return s
}

// ManagementAudiences are the audiences a management token may carry.
func ManagementAudiences(baseURL string) []string {
	return []string{"https://management.azure.com/", "https://management.core.windows.net/", baseURL + "/", directory.ResourceManagerAppID}
}

func (s *Server) register(p provider, resourceTypes ...string) {
	for _, t := range resourceTypes {
		s.providers[strings.ToLower(t)] = p
		s.types = append(s.types, t)
	}
}

// call is one request as the front door hands it to a provider.
type call struct {
	s             *Server
	w             *recorder
	r             *http.Request
	ctx           context.Context
	caller        bearer.Claims
	correlationID string
	apiVersion    string

	// resourceType is the full type, e.g. Microsoft.ManagedIdentity/userAssignedIdentities/
	// federatedIdentityCredentials.
	resourceType string
	// collection: the path names a list of resourceType below scope, not one resource.
	collection bool
	// id is the resource the path names (when not a collection).
	id armid.ResourceID
	// scope is, for a collection, the scope it is listed at; for a resource, id's parent scope.
	scope armid.ResourceID
	// action is a POST's verb (".../{name}/{action}"), e.g. "listAssociatedResources".
	action string
	// namespace is the resource provider namespace a provider metadata call names.
	namespace string
	// operation is the RBAC action authorized at the front door (and recorded in the activity log).
	operation string
	// activity is a write's activity-log entry, which the store records in the write's own
	// transaction (nil for a read).
	activity *store.PendingActivity
	// access is the caller's assignments, loaded at the first authorization question of the
	// request and reused for the others (a list asks once per item).
	access *authz.Principal
}

// principalID is the caller's object id.
func (c *call) principalID() string { return c.caller.ObjectID }

// fail writes an ARM error.
func (c *call) fail(e *Error) { WriteError(c.w, c.r, 0, e) }

// failErr writes err: ARM errors as they are, parse and validation errors as 400s, not-found as
// ResourceNotFound of the call's id, anything else as a 500 that is logged (never shown).
func (c *call) failErr(err error) {
	var ae *Error
	switch {
	case errors.As(err, &ae):
		c.fail(ae)
	case errors.Is(err, authz.ErrUnavailable), errors.Is(err, store.ErrUnavailable):
		c.fail(c.storeError(err))
	case errors.Is(err, store.ErrNotFound):
		c.fail(ResourceNotFound(c.id))
	default:
		if e := AsError(err); e.Status != http.StatusInternalServerError {
			c.fail(e)
			return
		}
		c.s.log.Error("management request failed", "method", c.r.Method, "path", c.r.URL.Path, "correlation_id", c.correlationID, "err", err)
		c.fail(InternalServerError(c.correlationID))
	}
}

// storeError is the error to answer for a store read or write that failed (not with
// ErrNotFound, which callers answer themselves): 503 ServiceUnavailable when the store may
// serve again (store.ErrUnavailable, authz.ErrUnavailable), else 500. Both are logged.
func (c *call) storeError(err error) *Error {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, authz.ErrUnavailable) {
		c.s.log.Error("management request: store unavailable", "method", c.r.Method, "path", c.r.URL.Path, "correlation_id", c.correlationID, "err", err)
		return ServiceUnavailable(c.correlationID)
	}
	c.s.log.Error("management request failed", "method", c.r.Method, "path", c.r.URL.Path, "correlation_id", c.correlationID, "err", err)
	return InternalServerError(c.correlationID)
}

// json writes v with status.
func (c *call) json(status int, v any) { WriteJSON(c.w, c.r, status, v) }

// resourcePage lists the page of f's resources the request's $skiptoken and $top ask for (see
// ResourcePage), writing the error when it fails.
func (c *call) resourcePage(f store.ResourceFilter) (page []store.Resource, next string, ok bool) {
	page, next, err := ResourcePage(c.ctx, c.s.st, c.r, f)
	if err != nil {
		c.failErr(err)
		return nil, "", false
	}
	return page, next, true
}

// decode reads the JSON body into v, writing the error when it fails.
func (c *call) decode(v any) bool {
	if e := DecodeJSON(c.r, v); e != nil {
		c.fail(e)
		return false
	}
	return true
}

// allowed evaluates an RBAC action for the caller at scope, without writing anything.
func (c *call) allowed(action, scope string, dataAction bool) (bool, error) {
	if err := c.loadAccess(); err != nil {
		return false, err
	}
	return c.access.Decide(rbac.Query{PrincipalID: c.principalID(), Action: action, Scope: scope, DataAction: dataAction}).Allowed, nil
}

// loadAccess loads the caller's assignments and roles once per request.
func (c *call) loadAccess() error {
	if c.access != nil {
		return nil
	}
	p, err := c.s.authz.ForPrincipal(c.ctx, c.principalID())
	if err != nil {
		return err
	}
	c.access = p
	return nil
}

// authorizeLinked checks an action the request needs on other scopes (e.g. the assign action on
// each user-assigned identity being attached); it writes LinkedAuthorizationFailed and returns
// false when one is missing.
func (c *call) authorizeLinked(linkedAction string, linkedScopes []string) bool {
	var missing []string
	for _, scope := range linkedScopes {
		ok, err := c.allowed(linkedAction, scope, false)
		if err != nil {
			c.failErr(err)
			return false
		}
		if !ok {
			missing = append(missing, scope)
		}
	}
	if len(missing) == 0 {
		return true
	}
	actions := make([]string, len(missing))
	for i := range actions {
		actions[i] = linkedAction
	}
	c.fail(LinkedAuthorizationFailed(c.caller.ClientID(), c.principalID(), c.operation, c.id.String(), actions, missing))
	return false
}

// canRead reports whether the caller may read resourceType at id (lists show only those).
func (c *call) canRead(resourceType, id string) bool {
	ok, err := c.allowed(resourceType+"/read", id, false)
	return err == nil && ok
}

// ServeHTTP is the front door.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	_, corr := StampHeaders(rec, r)
	c := &call{s: s, w: rec, r: r, ctx: r.Context(), correlationID: corr}

	claims, e := s.authenticate(r, corr)
	if e != nil {
		c.fail(e)
		return
	}
	c.caller = claims
	if e := s.route(c); e != nil {
		c.fail(e)
		return
	}
	p := s.providers[strings.ToLower(c.resourceType)]
	if p == nil {
		c.fail(NewError(http.StatusBadRequest, "InvalidResourceType",
			"The resource type '"+c.resourceType+"' could not be found in the namespace '"+namespace(c.resourceType)+"' for api version '"+r.URL.Query().Get("api-version")+"'."))
		return
	}
	v, e := RequireAPIVersion(r, p.apiVersions())
	if e != nil {
		c.fail(e)
		return
	}
	c.apiVersion = v
	c.operation = operationFor(r.Method, c.resourceType, c.action)
	write := isWrite(r.Method)
	if write {
		c.startActivity()
		defer s.recordActivity(c)
	}
	if !c.collection && !s.authorizeFrontDoor(c) {
		return
	}
	// A list shows what the caller may read: load its access here, so that a store outage is a
	// 503 rather than a list that silently leaves everything out.
	if c.collection {
		if err := c.loadAccess(); err != nil {
			c.failErr(err)
			return
		}
	}
	if e := s.checkContainers(c); e != nil {
		c.fail(e)
		return
	}
	p.serve(c)
}

func namespace(resourceType string) string {
	ns, _, _ := strings.Cut(resourceType, "/")
	return ns
}

func isWrite(method string) bool {
	return method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete || method == http.MethodPost
}

// operationFor is the RBAC action a method on a type needs, as ARM derives it.
func operationFor(method, resourceType, action string) string {
	if strings.EqualFold(resourceType, armid.ResourceGroupType) {
		resourceType = "Microsoft.Resources/subscriptions/resourceGroups" // RBAC's spelling
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		return resourceType + "/read"
	case http.MethodPut, http.MethodPatch:
		return resourceType + "/write"
	case http.MethodDelete:
		return resourceType + "/delete"
	default:
		if action == "" {
			return resourceType + "/action"
		}
		return resourceType + "/" + action + "/action"
	}
}

func (s *Server) authorizeFrontDoor(c *call) bool {
	// A provider may exempt calls that every authenticated caller may make (role definition reads).
	if p, ok := s.providers[strings.ToLower(c.resourceType)].(interface{ exemptFromFrontDoor(*call) bool }); ok && p.exemptFromFrontDoor(c) {
		return true
	}
	scope := c.id.String()
	ok, err := c.allowed(c.operation, scope, false)
	if err != nil {
		c.failErr(err)
		return false
	}
	if !ok {
		c.fail(c.authorizationFailed(c.operation, scope)) // Azure's AuthorizationFailed + what is missing
		return false
	}
	return true
}

// checkContainers answers SubscriptionNotFound / ResourceGroupNotFound for a path below a
// subscription or group that does not exist (ARM's front door does, before any provider).
func (s *Server) checkContainers(c *call) *Error {
	id := c.id
	if c.collection {
		id = c.scope
	}
	if id.SubscriptionID == "" || (c.resourceType == armid.SubscriptionType) {
		return nil
	}
	sub, err := s.st.GetSubscription(c.ctx, id.SubscriptionID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return SubscriptionNotFound(id.SubscriptionID)
		}
		return c.storeError(err)
	}
	if sub.TenantID != "" && !strings.EqualFold(sub.TenantID, c.caller.TenantID) {
		return WrongTokenTenant(c.caller.TenantID, sub.TenantID)
	}
	if id.ResourceGroup == "" || id.IsResourceGroup() {
		return nil
	}
	if _, err := s.st.GetResourceGroup(c.ctx, id.SubscriptionID, id.ResourceGroup); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ResourceGroupNotFound(id.ResourceGroup)
		}
		return c.storeError(err)
	}
	return nil
}

// authenticate validates the bearer token; failures are ARM's 401s with a challenge naming
// mint's authority.
func (s *Server) authenticate(r *http.Request, correlationID string) (bearer.Claims, *Error) {
	tenant := s.defaultTenant(r.Context())
	tok, err := bearer.FromRequest(r)
	if err != nil {
		if bearer.IsMissing(err) {
			return bearer.Claims{}, AuthenticationFailed("Authentication failed. The 'Authorization' header is missing.").WithChallenge(s.cfg.BaseURL, tenant)
		}
		return bearer.Claims{}, AuthenticationHeaderInvalid().WithChallenge(s.cfg.BaseURL, tenant)
	}
	claims, err := s.tokens.Validate(tok)
	if err != nil {
		return bearer.Claims{}, InvalidAuthenticationToken(err.Error()).WithChallenge(s.cfg.BaseURL, tenant)
	}
	if _, err := s.dir.Tenant(r.Context(), claims.TenantID); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("management request: tenant unreadable", "path", r.URL.Path, "err", err)
			if errors.Is(err, store.ErrUnavailable) {
				return bearer.Claims{}, ServiceUnavailable("")
			}
			return bearer.Claims{}, InternalServerError("")
		}
		return bearer.Claims{}, InvalidAuthenticationToken("The access token is from a tenant that does not exist.").WithChallenge(s.cfg.BaseURL, tenant)
	}
	// Beyond Azure, which accepts a token until it expires: one whose principal was deleted or
	// whose managed identity was detached from its resource is refused, as the vault does.
	reason, err := s.revoked.Check(r.Context(), claims)
	if err != nil {
		s.log.Error("token revocation check failed", "correlation_id", correlationID, "err", err)
		return bearer.Claims{}, ServiceUnavailable(correlationID)
	}
	if reason != "" {
		s.log.Info("management token refused", "uti", claims.TokenID, "oid", claims.ObjectID, "reason", reason, "correlation_id", correlationID)
		return bearer.Claims{}, InvalidAuthenticationToken("The access token has been revoked: "+reason+".").WithChallenge(s.cfg.BaseURL, tenant)
	}
	return claims, nil
}

func (s *Server) defaultTenant(ctx context.Context) string {
	t, err := s.st.GetSetting(ctx, directory.SettingDefaultTenant)
	if err != nil {
		return "common"
	}
	return t
}

// route parses the path into the call's type, id or collection scope, and action.
//
//	/subscriptions                                    collection of Microsoft.Resources/subscriptions
//	/subscriptions/{s}                                a subscription
//	/subscriptions/{s}/resourcegroups[/{rg}]          groups
//	{scope}/providers/{ns}/{type}                     collection of ns/type at scope
//	{scope}/providers/{ns}/{type}/{name}[/{t}/{n}...] a resource
//	{resource}/{childType}                            collection of children
//	{resource}/{action} (POST)                        an action on a resource
func (s *Server) route(c *call) *Error {
	path := strings.Trim(c.r.URL.Path, "/")
	if path == "" {
		return NewError(http.StatusNotFound, "NotFound", "No resource is addressed by the path '/'.")
	}
	segs := strings.Split(path, "/")
	for _, seg := range segs {
		if seg == "" {
			return BadRequest("The request path '" + c.r.URL.Path + "' has an empty segment.")
		}
	}
	if s.routeProviderMetadata(c, segs) {
		return nil
	}
	lastProv := -1
	for i := len(segs) - 2; i >= 0; i-- {
		if strings.EqualFold(segs[i], "providers") {
			lastProv = i
			break
		}
	}
	if lastProv < 0 {
		return s.routeResources(c, segs)
	}
	after := segs[lastProv+1:]
	if len(after) < 2 {
		return NewError(http.StatusNotFound, "NotFound", "The path '"+c.r.URL.Path+"' names no resource type.")
	}
	types := []string{after[0]}
	for i := 1; i < len(after); i += 2 {
		types = append(types, after[i])
	}
	c.resourceType = strings.Join(types, "/")
	if len(after)%2 == 1 {
		id, err := armid.Parse("/" + path)
		if err != nil {
			return AsError(err)
		}
		c.id = id
		c.scope, _ = id.Parent()
		return nil
	}
	// An even count: a collection, or a POST action on a resource.
	parentPath := "/" + strings.Join(segs[:len(segs)-1], "/")
	if len(after) == 2 {
		parentPath = "/" + strings.Join(segs[:lastProv], "/")
	}
	scope, err := armid.ParseScope(parentPath)
	if err != nil {
		return AsError(err)
	}
	if c.r.Method == http.MethodPost && len(after) > 2 {
		c.action = segs[len(segs)-1]
		c.resourceType = strings.Join(types[:len(types)-1], "/")
		c.id = scope
		c.scope, _ = scope.Parent()
		return nil
	}
	c.collection = true
	c.scope = scope
	return nil
}

// routeResources routes the paths without a providers section: subscriptions and groups.
func (s *Server) routeResources(c *call, segs []string) *Error {
	if len(segs) == 1 && strings.EqualFold(segs[0], "tenants") {
		c.resourceType, c.collection = tenantsType, true
		return nil
	}
	if !strings.EqualFold(segs[0], "subscriptions") {
		return NewError(http.StatusNotFound, "NotFound", "The path '"+c.r.URL.Path+"' is not served here.")
	}
	switch {
	case len(segs) == 1:
		c.resourceType, c.collection = armid.SubscriptionType, true
	case len(segs) == 2:
		c.resourceType, c.id = armid.SubscriptionType, armid.Subscription(segs[1])
	case len(segs) == 3 && strings.EqualFold(segs[2], "resourcegroups"):
		c.resourceType, c.collection, c.scope = armid.ResourceGroupType, true, armid.Subscription(segs[1])
	case len(segs) == 3 && strings.EqualFold(segs[2], "resources"):
		c.resourceType, c.collection, c.scope = "Microsoft.Resources/resources", true, armid.Subscription(segs[1])
	case len(segs) == 4 && strings.EqualFold(segs[2], "resourcegroups"):
		c.resourceType, c.id, c.scope = armid.ResourceGroupType, armid.ResourceGroupID(segs[1], segs[3]), armid.Subscription(segs[1])
	case len(segs) == 5 && strings.EqualFold(segs[2], "resourcegroups") && strings.EqualFold(segs[4], "resources"):
		c.resourceType, c.collection, c.scope = "Microsoft.Resources/resources", true, armid.ResourceGroupID(segs[1], segs[3])
	default:
		return NewError(http.StatusNotFound, "NotFound", "The path '"+c.r.URL.Path+"' is not served here.")
	}
	if !c.collection {
		if err := armid.ValidateResourceGroupName(c.id.ResourceGroup); c.id.ResourceGroup != "" && err != nil && c.r.Method == http.MethodPut {
			return AsError(err)
		}
	}
	return nil
}

// recorder remembers the status and (for errors) the message written, for the activity log.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status >= 400 && r.body.Len() < 4096 {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

// activityEvent is the Administrative event of the call's write, without its outcome.
func (c *call) activityEvent() store.ActivityEvent {
	ev := store.ActivityEvent{
		ID:            uuid.NewString(),
		OperationID:   c.w.Header().Get(HeaderRequestID),
		CorrelationID: c.correlationID,
		Time:          c.s.cfg.Clock().UTC(),
		ResourceType:  c.resourceType,
		OperationName: c.operation,
		Caller:        c.principalID(),
		CallerAppID:   c.caller.ClientID(),
		HTTPMethod:    c.r.Method,
	}
	target := c.id
	if c.collection {
		target = c.scope
	}
	ev.ResourceID = target.String()
	ev.SubscriptionID, ev.ResourceGroup = target.SubscriptionID, target.ResourceGroup
	return ev
}

// startActivity hands the write's entry to the store through the call's context: the first
// store transaction of the write records it, so that no change commits without its entry (and
// a store that cannot write the entry fails the write). A PUT answers 201 when it creates its
// target, 200 when it replaces it; other writes answer 200 (providers that answer otherwise
// say so with c.activity.SetStatuses).
func (c *call) startActivity() {
	created := http.StatusOK
	if c.r.Method == http.MethodPut {
		created = http.StatusCreated
	}
	c.ctx, c.activity = store.WithPendingActivity(c.ctx, c.activityEvent(), created, http.StatusOK)
}

// recordActivity appends the Administrative event of a write that the store did not record
// with a change: a refused or failed attempt, or a write that changed nothing. A write whose
// entry was committed with its change and that then failed (a later step of the same request)
// gets a second, Failed, entry.
func (s *Server) recordActivity(c *call) {
	status := c.w.status
	if status == 0 {
		status = http.StatusOK
	}
	if recorded, recordedStatus := c.activity.Recorded(); recorded {
		if status < 400 {
			if status != recordedStatus {
				s.log.Warn("activity-log entry recorded with another status than the answer", "correlation_id", c.correlationID,
					"recorded", recordedStatus, "answered", status)
			}
			return
		}
	}
	ev := c.activityEvent()
	ev.Status, ev.SubStatus, ev.HTTPStatus = "Succeeded", http.StatusText(status), status
	if status >= 400 {
		ev.Status = "Failed"
		var env ErrorResponse
		if json.Unmarshal(c.w.body.Bytes(), &env) == nil && env.Error != nil {
			ev.Message = env.Error.Code + ": " + env.Error.Message
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.r.Context()), 5*time.Second)
	defer cancel()
	if err := s.st.AppendActivity(ctx, ev); err != nil {
		s.log.Error("activity log write failed", "correlation_id", c.correlationID, "err", err)
	}
}
