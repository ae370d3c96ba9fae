package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/federation"
	"github.com/mint-id/mint/internal/managedidentity"
	"github.com/mint-id/mint/internal/store"
)

// Microsoft.ManagedIdentity: user-assigned identities and their federated identity credentials,
// the read of a resource's system-assigned identity, and the operations list (https://learn.microsoft.com/rest/api/managedidentity/).
//
// A user-assigned identity is a store.Resource whose Properties hold {tenantId, principalId,
// clientId, isolationScope} and whose PrincipalID is its service principal: both are written in
// one PutResource, and DeleteResource removes them together. A federated identity credential is a
// child store.Resource whose Properties hold {issuer, subject, audiences[,
// claimsMatchingExpression]}.

const (
	userAssignedIdentityType = managedidentity.UserAssignedType
	federatedCredentialType  = userAssignedIdentityType + "/federatedIdentityCredentials"
	systemIdentityType       = armid.ManagedIdentityNamespace + "/identities"
	msiOperationsType        = armid.ManagedIdentityNamespace + "/operations"
	// assignIdentityAction is the linked action attaching a user-assigned identity needs (granted
	// by Managed Identity Operator's ".../userAssignedIdentities/*/assign/action").
	assignIdentityAction = userAssignedIdentityType + "/assign/action"

	// isolationScopeVersion is the first api-version with properties.isolationScope.
	isolationScopeVersion = "2024-11-30"
	// flexibleFICVersion is the first api-version with claimsMatchingExpression.
	flexibleFICVersion = "2025-01-31-preview"

	defaultFICAudience = "api://AzureADTokenExchange"
)

// msiAPIVersions are the Microsoft.ManagedIdentity api-versions mint accepts (https://learn.microsoft.com/rest/api/managedidentity/).
var msiAPIVersions = []string{
	"2015-08-31-preview", "2018-11-30", "2021-09-30-preview", "2022-01-31-preview", "2023-01-31",
	"2023-07-31-preview", "2024-11-30", "2025-01-31-preview", "2025-05-31-preview",
}

// ficAPIVersions are those of them that know federated identity credentials.
var ficAPIVersions = []string{
	"2022-01-31-preview", "2023-01-31", "2023-07-31-preview", "2024-11-30", "2025-01-31-preview", "2025-05-31-preview",
}

func (s *Server) registerManagedIdentity() {
	locks := &keyedLocks{}
	s.register(&userAssignedIdentitiesProvider{locks: locks}, userAssignedIdentityType)
	s.register(&federatedCredentialsProvider{locks: locks}, federatedCredentialType)
	s.register(systemIdentityProvider{}, systemIdentityType)
	s.register(msiOperationsProvider{}, msiOperationsType)
}

// Identity is a user-assigned identity (the MSI resource provider's Identity model).
type Identity struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	Type       string             `json:"type"`
	Location   string             `json:"location"`
	Tags       map[string]string  `json:"tags"`
	Properties IdentityProperties `json:"properties"`
}

// IdentityProperties are read-only but for isolationScope.
type IdentityProperties struct {
	TenantID       string `json:"tenantId"`
	PrincipalID    string `json:"principalId"`
	ClientID       string `json:"clientId"`
	IsolationScope string `json:"isolationScope,omitempty"`
}

// identityRequest is the body of a PUT or PATCH.
type identityRequest struct {
	Location   *string            `json:"location"`
	Tags       *map[string]string `json:"tags"`
	Properties *struct {
		IsolationScope *string `json:"isolationScope"`
	} `json:"properties"`
}

// identityProperties reads what a stored user-assigned identity keeps in Properties.
func identityProperties(r store.Resource) IdentityProperties {
	var p IdentityProperties
	_ = json.Unmarshal(r.Properties, &p)
	if p.PrincipalID == "" {
		p.PrincipalID = r.PrincipalID
	}
	if p.IsolationScope == "" {
		p.IsolationScope = "None"
	}
	return p
}

func identityOut(r store.Resource, apiVersion string) Identity {
	id, err := armid.ParseUserAssignedIdentityID(r.ID)
	out := Identity{ID: r.ID, Name: r.Name, Type: userAssignedIdentityType, Location: r.Location, Tags: nonNilTags(r.Tags), Properties: identityProperties(r)}
	if err == nil {
		out.ID = miID(id)
	}
	if !apiVersionAtLeast(apiVersion, isolationScopeVersion) {
		out.Properties.IsolationScope = ""
	}
	return out
}

// parseIsolationScope accepts None and Regional, case-insensitively.
func parseIsolationScope(s string) (string, *Error) {
	switch {
	case strings.EqualFold(s, "None"):
		return "None", nil
	case strings.EqualFold(s, "Regional"):
		return "Regional", nil
	}
	return "", NewError(http.StatusBadRequest, "InvalidIsolationScope", fmt.Sprintf(
		"The isolation scope '%s' is invalid. The supported values are 'None' and 'Regional'.", s))
}

type userAssignedIdentitiesProvider struct{ locks *keyedLocks }

func (*userAssignedIdentitiesProvider) apiVersions() []string { return msiAPIVersions }

func (p *userAssignedIdentitiesProvider) serve(c *call) {
	if c.collection {
		if c.r.Method != http.MethodGet || c.scope.IsResource() || c.scope.SubscriptionID == "" {
			c.fail(notServed(c.r))
			return
		}
		listIdentities(c)
		return
	}
	if c.action != "" {
		if strings.EqualFold(c.action, "listAssociatedResources") && c.r.Method == http.MethodPost {
			listAssociatedResources(c)
			return
		}
		c.fail(notServed(c.r))
		return
	}
	if !armid.IsUserAssignedIdentity(c.id) {
		c.fail(notServed(c.r))
		return
	}
	c.id, _ = armid.ParseUserAssignedIdentityID(c.id.String())
	out := func(r store.Resource) any { return identityOut(r, c.apiVersion) }
	// A DELETE deletes the identity, its principal and its federated credentials. Resources it
	// is attached to keep the (now dangling) reference, as in Azure; tokens for it are refused
	// from then on because the principal is gone.
	serveTracked(c, userAssignedIdentityType, p.locks, out, putIdentity, patchIdentity)
}

func putIdentity(c *call) {
	if err := armid.ValidateUserAssignedIdentityName(c.id.Name()); err != nil {
		c.failErr(err)
		return
	}
	var req identityRequest
	if !c.decode(&req) {
		return
	}
	loc, e := requireLocation(req.Location, userAssignedIdentityType)
	if e != nil {
		c.fail(e)
		return
	}
	var tags map[string]string
	if req.Tags != nil {
		if tags, e = checkTags(*req.Tags); e != nil {
			c.fail(e)
			return
		}
	}
	scope := ""
	if req.Properties != nil && req.Properties.IsolationScope != nil {
		if scope, e = parseIsolationScope(*req.Properties.IsolationScope); e != nil {
			c.fail(e)
			return
		}
	}
	existing, found, err := getResource(c, c.id.String())
	if err != nil {
		c.failErr(err)
		return
	}
	now := c.s.cfg.Clock().UTC()
	if found {
		if !strings.EqualFold(existing.Type, userAssignedIdentityType) {
			c.fail(Conflict(fmt.Sprintf("The resource '%s' exists with another type.", c.id)))
			return
		}
		if existing.Location != loc {
			c.fail(invalidResourceLocation(c.id.Name(), existing.Location, loc, c.id.ResourceGroup))
			return
		}
		props := identityProperties(existing)
		if scope != "" {
			props.IsolationScope = scope
		}
		existing.Tags, existing.UpdatedAt = tags, now
		existing.Properties, _ = json.Marshal(props)
		if _, err := c.s.st.PutResource(c.ctx, existing, nil, nil); err != nil {
			c.failErr(err)
			return
		}
		c.json(http.StatusOK, identityOut(existing, c.apiVersion))
		return
	}
	tenantID, err := tenantOf(c, c.id.SubscriptionID)
	if err != nil {
		c.failErr(err)
		return
	}
	if scope == "" {
		scope = "None"
	}
	sp := directory.NewManagedIdentityPrincipal(tenantID, c.id.Name(), miID(c.id))
	props, _ := json.Marshal(IdentityProperties{TenantID: tenantID, PrincipalID: sp.ObjectID, ClientID: sp.AppID, IsolationScope: scope})
	r := store.Resource{
		ID: c.id.String(), SubscriptionID: c.id.SubscriptionID, ResourceGroup: c.id.ResourceGroup,
		Type: userAssignedIdentityType, Name: c.id.Name(), Location: loc, Tags: tags, Properties: props,
		PrincipalID: sp.ObjectID, CreatedAt: now, UpdatedAt: now,
	}
	created, err := c.s.st.PutResource(c.ctx, r, []store.ServicePrincipal{sp}, nil)
	if err != nil {
		c.failErr(err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		SetLocation(c.w, miID(c.id))
	}
	c.json(status, identityOut(r, c.apiVersion))
}

// patchIdentity updates tags and isolationScope; location and the ids cannot change.
func patchIdentity(c *call) {
	r, ok := lookupTracked(c, userAssignedIdentityType)
	if !ok {
		return
	}
	var req identityRequest
	if !c.decode(&req) || !patchTags(c, &r, req.Tags) {
		return
	}
	if req.Properties != nil && req.Properties.IsolationScope != nil {
		scope, e := parseIsolationScope(*req.Properties.IsolationScope)
		if e != nil {
			c.fail(e)
			return
		}
		props := identityProperties(r)
		props.IsolationScope = scope
		r.Properties, _ = json.Marshal(props)
	}
	r.UpdatedAt = c.s.cfg.Clock().UTC()
	if _, err := c.s.st.PutResource(c.ctx, r, nil, nil); err != nil {
		c.failErr(err)
		return
	}
	c.json(http.StatusOK, identityOut(r, c.apiVersion))
}

func listIdentities(c *call) {
	rs, next, ok := c.resourcePage(store.ResourceFilter{SubscriptionID: c.scope.SubscriptionID, ResourceGroup: c.scope.ResourceGroup, Type: userAssignedIdentityType})
	if !ok {
		return
	}
	out := []Identity{}
	for _, r := range rs {
		if c.canRead(userAssignedIdentityType, r.ID) {
			out = append(out, identityOut(r, c.apiVersion))
		}
	}
	WritePage(c.w, c.r, c.s.cfg.BaseURL, out, next)
}

// AzureResource is an entry of listAssociatedResources.
type AzureResource struct {
	ID                      string `json:"id"`
	Name                    string `json:"name"`
	Type                    string `json:"type"`
	ResourceGroup           string `json:"resourceGroup"`
	SubscriptionID          string `json:"subscriptionId"`
	SubscriptionDisplayName string `json:"subscriptionDisplayName"`
}

// AssociatedResourcesListResult is listAssociatedResources' answer.
type AssociatedResourcesListResult struct {
	TotalCount int             `json:"totalCount"`
	Value      []AzureResource `json:"value"`
	NextLink   string          `json:"nextLink,omitempty"`
}

// listAssociatedResources lists the resources the identity is attached to. As in Azure, every
// attachment is listed whatever the caller may read elsewhere: permission to list the identity's
// associations is the whole check, so a person sees the identity's full usage (a resource they
// cannot read answers its own 403 when opened).
func listAssociatedResources(c *call) {
	c.id, _ = armid.ParseUserAssignedIdentityID(c.id.String())
	if !armid.IsUserAssignedIdentity(c.id) {
		c.fail(notServed(c.r))
		return
	}
	query, e := parseAssociatedQuery(c.r.URL.Query())
	if e != nil {
		c.fail(e)
		return
	}
	if _, ok := lookupTracked(c, userAssignedIdentityType); !ok {
		return
	}
	rs, err := c.s.st.ListResources(c.ctx, store.ResourceFilter{AttachedIdentity: c.id.String()})
	if err != nil {
		c.failErr(err)
		return
	}
	names := map[string]string{}
	all := []AzureResource{}
	for _, r := range rs {
		if _, ok := names[r.SubscriptionID]; !ok {
			if sub, err := c.s.st.GetSubscription(c.ctx, r.SubscriptionID); err == nil {
				names[r.SubscriptionID] = sub.DisplayName
			}
		}
		name := r.Name
		if id, err := armid.Parse(r.ID); err == nil {
			name = id.Name()
		}
		all = append(all, AzureResource{ID: r.ID, Name: name, Type: r.Type, ResourceGroup: r.ResourceGroup, SubscriptionID: r.SubscriptionID, SubscriptionDisplayName: names[r.SubscriptionID]})
	}
	matched := query.apply(all)
	out := AssociatedResourcesListResult{TotalCount: len(matched), Value: []AzureResource{}}
	if !query.count {
		rest := matched[min(query.skip, len(matched)):]
		page, next, e := Page(rest, c.r.URL.Query().Get("$skiptoken"), query.top)
		if e != nil {
			c.fail(e)
			return
		}
		out.Value = append(out.Value, page...)
		if next != "" {
			out.NextLink = NextLink(c.s.cfg.BaseURL, c.r, next)
		}
	}
	c.json(http.StatusOK, out)
}

// FederatedIdentityCredential is the child resource (https://learn.microsoft.com/rest/api/managedidentity/federated-identity-credentials).
type FederatedIdentityCredential struct {
	ID         string                                `json:"id"`
	Name       string                                `json:"name"`
	Type       string                                `json:"type"`
	Properties FederatedIdentityCredentialProperties `json:"properties"`
}

// FederatedIdentityCredentialProperties are the trust: tokens from Issuer about Subject (or
// matching ClaimsMatchingExpression) for one of Audiences.
type FederatedIdentityCredentialProperties struct {
	Issuer                   string                    `json:"issuer"`
	Subject                  string                    `json:"subject,omitempty"`
	Audiences                []string                  `json:"audiences"`
	ClaimsMatchingExpression *ClaimsMatchingExpression `json:"claimsMatchingExpression,omitempty"`
	// MintJWKS is mint's own property: the issuer's public keys (a JSON Web Key Set) for an
	// issuer mint cannot reach; see internal/federation.
	MintJWKS json.RawMessage `json:"mintJwks,omitempty"`
}

// ClaimsMatchingExpression is the preview "flexible FIC" matcher.
type ClaimsMatchingExpression struct {
	Value           string `json:"value"`
	LanguageVersion int    `json:"languageVersion"`
}

// federatedCredentialRequest tells absent from empty.
type federatedCredentialRequest struct {
	Properties *struct {
		Issuer                   *string                   `json:"issuer"`
		Subject                  *string                   `json:"subject"`
		Audiences                []string                  `json:"audiences"`
		ClaimsMatchingExpression *ClaimsMatchingExpression `json:"claimsMatchingExpression"`
	} `json:"properties"`
	// mintJWKS is properties.mintJwks (FederatedIdentityCredentialProperties.MintJWKS), read by
	// UnmarshalJSON.
	mintJWKS json.RawMessage
}

func (r *federatedCredentialRequest) UnmarshalJSON(data []byte) error {
	type plain federatedCredentialRequest
	if err := json.Unmarshal(data, (*plain)(r)); err != nil {
		return err
	}
	var extra struct {
		Properties *struct {
			MintJWKS json.RawMessage `json:"mintJwks"`
		} `json:"properties"`
	}
	if json.Unmarshal(data, &extra) == nil && extra.Properties != nil {
		r.mintJWKS = extra.Properties.MintJWKS
	}
	return nil
}

func ficError(msg string) *Error { return NewError(http.StatusBadRequest, CodeBadRequest, msg) }

// validateFederatedCredential checks a request's properties and returns what to store. flexible
// allows claimsMatchingExpression (the preview api-versions).
func validateFederatedCredential(req federatedCredentialRequest, flexible bool) (FederatedIdentityCredentialProperties, *Error) {
	var out FederatedIdentityCredentialProperties
	p := req.Properties
	if p == nil {
		return out, ficError("Federated Identity Credential from HTTP body has empty properties")
	}
	if p.Issuer != nil {
		out.Issuer = *p.Issuer
	}
	if err := federation.CheckIssuer(out.Issuer); err != nil {
		return out, ficError(err.Error())
	}
	cme := p.ClaimsMatchingExpression
	if !flexible {
		cme = nil
	}
	hasSubject := p.Subject != nil && *p.Subject != ""
	switch {
	case hasSubject && cme != nil:
		return out, ficError("Either 'subject' or 'claimsMatchingExpression' must be defined, but not both.")
	case !hasSubject && cme == nil && flexible:
		return out, ficError("Either 'subject' or 'claimsMatchingExpression' must be defined, but not both.")
	case !hasSubject && cme == nil:
		return out, ficError("The 'subject' property is required.")
	}
	if hasSubject {
		out.Subject = *p.Subject
		if err := federation.CheckSubject(out.Subject); err != nil {
			return out, ficError(err.Error())
		}
	}
	if cme != nil {
		if strings.TrimSpace(cme.Value) == "" {
			return out, ficError("The 'claimsMatchingExpression.value' property is required.")
		}
		if cme.LanguageVersion != 1 {
			return out, ficError(fmt.Sprintf("The claims matching expression language version '%d' is not supported. The supported version is 1.", cme.LanguageVersion))
		}
		if _, err := federation.ParseExpression(cme.Value); err != nil {
			return out, ficError(err.Error())
		}
		out.ClaimsMatchingExpression = &ClaimsMatchingExpression{Value: cme.Value, LanguageVersion: 1}
	}
	if err := federation.CheckAudiences(p.Audiences); err != nil {
		return out, ficError(err.Error())
	}
	out.Audiences = []string{p.Audiences[0]}
	if len(req.mintJWKS) > 0 && string(req.mintJWKS) != "null" {
		if _, err := federation.ParseStaticKeys(req.mintJWKS); err != nil {
			return out, ficError(err.Error() + ".")
		}
		out.MintJWKS = req.mintJWKS
	}
	return out, nil
}

func federatedCredentialOut(r store.Resource) FederatedIdentityCredential {
	var p FederatedIdentityCredentialProperties
	_ = json.Unmarshal(r.Properties, &p)
	if p.Audiences == nil {
		p.Audiences = []string{}
	}
	out := FederatedIdentityCredential{ID: r.ID, Name: r.Name, Type: federatedCredentialType, Properties: p}
	if id, err := armid.Parse(r.ID); err == nil {
		out.ID = miID(id)
	}
	return out
}

type federatedCredentialsProvider struct{ locks *keyedLocks }

func (*federatedCredentialsProvider) apiVersions() []string { return ficAPIVersions }

func (p *federatedCredentialsProvider) serve(c *call) {
	parent := c.scope
	if !c.collection {
		parent, _ = c.id.Parent()
	}
	if !armid.IsUserAssignedIdentity(parent) || c.action != "" {
		c.fail(notServed(c.r))
		return
	}
	parent, _ = armid.ParseUserAssignedIdentityID(parent.String())
	if c.collection {
		if c.r.Method != http.MethodGet {
			c.fail(MethodNotAllowed(c.r.Method))
			return
		}
	} else {
		c.id = parent.Child("federatedIdentityCredentials", c.id.Name())
		switch c.r.Method {
		case http.MethodPut, http.MethodDelete:
			defer p.locks.lock(parent.String())()
		case http.MethodGet:
		default:
			c.fail(MethodNotAllowed(c.r.Method))
			return
		}
	}
	identity, found, err := getResource(c, parent.String())
	if err != nil {
		c.failErr(err)
		return
	}
	if !found || !strings.EqualFold(identity.Type, userAssignedIdentityType) {
		c.fail(NewError(http.StatusNotFound, "ParentResourceNotFound", "The parent user-assigned identity doesn't exist."))
		return
	}
	switch {
	case c.collection:
		listFederatedCredentials(c, parent)
	case c.r.Method == http.MethodPut:
		putFederatedCredential(c, parent)
	case c.r.Method == http.MethodGet:
		r, found, err := getResource(c, c.id.String())
		switch {
		case err != nil:
			c.failErr(err)
		case !found:
			c.fail(ResourceNotFound(c.id))
		default:
			c.json(http.StatusOK, federatedCredentialOut(r))
		}
	case c.r.Method == http.MethodDelete:
		_, err := c.s.st.DeleteResource(c.ctx, c.id.String())
		switch {
		case errors.Is(err, store.ErrNotFound):
			WriteEmpty(c.w, c.r, http.StatusNoContent)
		case err != nil:
			c.failErr(err)
		default:
			WriteEmpty(c.w, c.r, http.StatusOK)
		}
	}
}

func putFederatedCredential(c *call, parent armid.ResourceID) {
	if err := armid.ValidateFederatedCredentialName(c.id.Name()); err != nil {
		c.failErr(err)
		return
	}
	var req federatedCredentialRequest
	if !c.decode(&req) {
		return
	}
	props, e := validateFederatedCredential(req, apiVersionAtLeast(c.apiVersion, flexibleFICVersion[:10]))
	if e != nil {
		c.fail(e)
		return
	}
	siblings, err := c.s.st.ListResources(c.ctx, store.ResourceFilter{ParentID: parent.String(), Type: federatedCredentialType})
	if err != nil {
		c.failErr(err)
		return
	}
	var existing *store.Resource
	others := 0
	for i, s := range siblings {
		if strings.EqualFold(s.ID, c.id.String()) {
			existing = &siblings[i]
			continue
		}
		others++
		var sp FederatedIdentityCredentialProperties
		_ = json.Unmarshal(s.Properties, &sp)
		if props.Subject != "" && sp.Issuer == props.Issuer && sp.Subject == props.Subject {
			c.fail(ficError("Issuer and subject combination already exists for this Managed Identity."))
			return
		}
	}
	if existing == nil && others >= federation.MaxCredentials {
		c.fail(ficError(fmt.Sprintf("The managed identity '%s' already has the maximum of %d federated identity credentials.", parent.Name(), federation.MaxCredentials)))
		return
	}
	now := c.s.cfg.Clock().UTC()
	data, _ := json.Marshal(props)
	r := store.Resource{
		ID: c.id.String(), SubscriptionID: c.id.SubscriptionID, ResourceGroup: c.id.ResourceGroup,
		Type: federatedCredentialType, Name: c.id.Name(), Properties: data, CreatedAt: now, UpdatedAt: now,
	}
	if existing != nil {
		r.ID, r.Name, r.CreatedAt = existing.ID, existing.Name, existing.CreatedAt
	}
	created, err := c.s.st.PutResource(c.ctx, r, nil, nil)
	if err != nil {
		c.failErr(err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		SetLocation(c.w, miID(c.id))
	}
	c.json(status, federatedCredentialOut(r))
}

func listFederatedCredentials(c *call, parent armid.ResourceID) {
	rs, next, ok := c.resourcePage(store.ResourceFilter{ParentID: parent.String(), Type: federatedCredentialType})
	if !ok {
		return
	}
	out := []FederatedIdentityCredential{}
	for _, r := range rs {
		if c.canRead(federatedCredentialType, r.ID) {
			out = append(out, federatedCredentialOut(r))
		}
	}
	WritePage(c.w, c.r, c.s.cfg.BaseURL, out, next)
}

// SystemAssignedIdentity is the read model of a resource's system-assigned identity
// (https://learn.microsoft.com/rest/api/managedidentity/operations/list).
type SystemAssignedIdentity struct {
	ID         string                           `json:"id"`
	Name       string                           `json:"name"`
	Type       string                           `json:"type"`
	Location   string                           `json:"location"`
	Tags       map[string]string                `json:"tags,omitempty"`
	Properties SystemAssignedIdentityProperties `json:"properties"`
}

// SystemAssignedIdentityProperties are the principal's ids.
type SystemAssignedIdentityProperties struct {
	TenantID        string `json:"tenantId"`
	PrincipalID     string `json:"principalId"`
	ClientID        string `json:"clientId"`
	ClientSecretURL string `json:"clientSecretUrl,omitempty"`
}

type systemIdentityProvider struct{}

func (systemIdentityProvider) apiVersions() []string { return msiAPIVersions }

// serve answers GET {resource}/providers/Microsoft.ManagedIdentity/identities/default.
func (systemIdentityProvider) serve(c *call) {
	if c.collection || c.action != "" {
		c.fail(notServed(c.r))
		return
	}
	if c.r.Method != http.MethodGet {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	scope, ok := c.id.Scope()
	if !ok || !scope.IsResource() || !strings.EqualFold(c.id.Name(), "default") {
		c.fail(ResourceNotFound(c.id))
		return
	}
	r, found, err := getResource(c, scope.String())
	if err != nil {
		c.failErr(err)
		return
	}
	if !found || r.PrincipalID == "" || strings.EqualFold(r.Type, userAssignedIdentityType) {
		c.fail(ResourceNotFound(c.id))
		return
	}
	sp, err := c.s.st.GetPrincipal(c.ctx, r.PrincipalID)
	if err != nil {
		c.failErr(err)
		return
	}
	id := r.ID + "/providers/" + systemIdentityType + "/default"
	c.json(http.StatusOK, SystemAssignedIdentity{
		ID: id, Name: "default", Type: systemIdentityType, Location: r.Location, Tags: r.Tags,
		Properties: SystemAssignedIdentityProperties{
			TenantID: sp.TenantID, PrincipalID: sp.ObjectID, ClientID: sp.AppID,
			// The data-plane URL Azure's platform uses to fetch the identity's certificate; mint
			// issues tokens through its node agent instead and does not serve this URL.
			ClientSecretURL: c.s.cfg.BaseURL + id + "/credentials/v2/identities?tid=" + sp.TenantID + "&said=" + sp.AppID,
		},
	})
}

// Operation is one entry of the operations list.
type Operation struct {
	Name    string           `json:"name"`
	Display OperationDisplay `json:"display"`
}

// OperationDisplay describes an operation.
type OperationDisplay struct {
	Provider    string `json:"provider"`
	Resource    string `json:"resource"`
	Operation   string `json:"operation"`
	Description string `json:"description"`
}

var msiOperations = func() []Operation {
	op := func(name, resource, operation, description string) Operation {
		return Operation{Name: armid.ManagedIdentityNamespace + "/" + name, Display: OperationDisplay{
			Provider: "Managed Service Identity", Resource: resource, Operation: operation, Description: description}}
	}
	return []Operation{
		op("identities/read", "Managed Identities", "Get Identity", "Gets an existing system assigned identity"),
		op("userAssignedIdentities/read", "User Assigned Identities", "Get User Assigned Identity", "Gets an existing user assigned identity"),
		op("userAssignedIdentities/write", "User Assigned Identities", "Create/Update User Assigned Identity", "Creates a new user assigned identity or updates the tags associated with an existing user assigned identity"),
		op("userAssignedIdentities/delete", "User Assigned Identities", "Delete User Assigned Identity", "Deletes an existing user assigned identity"),
		op("userAssignedIdentities/*/assign/action", "User Assigned Identities", "Assign User Assigned Identity", "RBAC action for assigning an existing user assigned identity to a resource"),
		op("userAssignedIdentities/listAssociatedResources/action", "User Assigned Identities", "List Associated Resources", "Lists all associated resources for an identity"),
		op("userAssignedIdentities/federatedIdentityCredentials/read", "Federated Identity Credentials", "Get Federated Identity Credential", "Get or list Federated Identity Credentials"),
		op("userAssignedIdentities/federatedIdentityCredentials/write", "Federated Identity Credentials", "Create/Update Federated Identity Credential", "Add or update a Federated Identity Credential"),
		op("userAssignedIdentities/federatedIdentityCredentials/delete", "Federated Identity Credentials", "Delete Federated Identity Credential", "Delete a Federated Identity Credential"),
		op("operations/read", "Operations", "List Operations", "Lists all of the available operations of Microsoft.ManagedIdentity"),
	}
}()

type msiOperationsProvider struct{}

func (msiOperationsProvider) apiVersions() []string { return msiAPIVersions }

// serve answers GET /providers/Microsoft.ManagedIdentity/operations, a tenant-level list every
// signed-in caller may read (ARM does not authorize it).
func (msiOperationsProvider) serve(c *call) {
	if !c.collection || !c.scope.IsRoot() {
		c.fail(notServed(c.r))
		return
	}
	if c.r.Method != http.MethodGet {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	WriteList(c.w, c.r, c.s.cfg.BaseURL, msiOperations)
}
