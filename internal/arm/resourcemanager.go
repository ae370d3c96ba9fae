package arm

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/odata"
	"github.com/mint-id/mint/internal/store"
)

// Microsoft.Resources: subscriptions (read-only: the directory creates them), resource groups,
// and the generic resource lists.

const (
	// genericResourcesType is the pseudo type of GET {subscription or group}/resources.
	genericResourcesType = "Microsoft.Resources/resources"
	// rbacResourceGroupType is how RBAC spells actions on resource groups
	// ("Microsoft.Resources/subscriptions/resourceGroups/read").
	rbacResourceGroupType = "Microsoft.Resources/subscriptions/resourceGroups"
)

// resourceManagerAPIVersions are the api-versions of Microsoft.Resources that mint accepts: every
// version the SDKs and the CLI have used for groups and subscriptions in recent years (the
// shapes mint serves did not change across them). 2015-11-01 is the Azure CLI's (2.45) for the
// generic resource list behind `az keyvault show -n <vault>` without a group, and Azure accepts it.
var resourceManagerAPIVersions = []string{
	"2015-11-01", "2016-02-01", "2016-06-01", "2016-09-01", "2017-05-10", "2018-02-01", "2018-05-01",
	"2019-03-01", "2019-05-01", "2019-05-10", "2019-06-01", "2019-07-01", "2019-08-01",
	"2019-10-01", "2019-11-01", "2020-01-01", "2020-06-01", "2020-08-01", "2020-10-01",
	"2021-01-01", "2021-04-01", "2022-01-01", "2022-09-01", "2022-12-01", "2023-07-01",
	"2024-03-01", "2024-07-01", "2024-11-01", "2025-01-01", "2025-03-01", "2025-04-01",
}

func (s *Server) registerResourceManager() {
	s.register(subscriptionsProvider{}, armid.SubscriptionType)
	s.register(tenantsProvider{}, tenantsType)
	s.register(resourceGroupsProvider{}, armid.ResourceGroupType)
	s.register(genericResourcesProvider{}, genericResourcesType)
}

// Subscription is ARM's subscription model.
type Subscription struct {
	ID                   string               `json:"id"`
	SubscriptionID       string               `json:"subscriptionId"`
	TenantID             string               `json:"tenantId"`
	DisplayName          string               `json:"displayName"`
	State                string               `json:"state"`
	SubscriptionPolicies SubscriptionPolicies `json:"subscriptionPolicies"`
	AuthorizationSource  string               `json:"authorizationSource"`
	ManagedByTenants     []any                `json:"managedByTenants"`
}

// SubscriptionPolicies are fixed: mint has no quotas or spending limits.
type SubscriptionPolicies struct {
	LocationPlacementID string `json:"locationPlacementId"`
	QuotaID             string `json:"quotaId"`
	SpendingLimit       string `json:"spendingLimit"`
}

func subscriptionOut(sub store.Subscription) Subscription {
	state := sub.State
	if state == "" {
		state = "Enabled"
	}
	return Subscription{
		ID:             "/subscriptions/" + sub.ID,
		SubscriptionID: sub.ID,
		TenantID:       sub.TenantID,
		DisplayName:    sub.DisplayName,
		State:          state,
		SubscriptionPolicies: SubscriptionPolicies{
			LocationPlacementID: "Public_2014-09-01",
			QuotaID:             "PayAsYouGo_2014-09-01",
			SpendingLimit:       "Off",
		},
		AuthorizationSource: "RoleBased",
		ManagedByTenants:    []any{},
	}
}

type subscriptionsProvider struct{}

func (subscriptionsProvider) apiVersions() []string { return resourceManagerAPIVersions }

func (subscriptionsProvider) serve(c *call) {
	if c.r.Method != http.MethodGet {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	if c.collection {
		listSubscriptions(c)
		return
	}
	sub, err := c.s.st.GetSubscription(c.ctx, c.id.SubscriptionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !strings.EqualFold(sub.TenantID, c.caller.TenantID)) {
		c.fail(SubscriptionNotFound(c.id.SubscriptionID))
		return
	}
	if err != nil {
		c.failErr(err)
		return
	}
	c.json(http.StatusOK, subscriptionOut(sub))
}

// listSubscriptions lists the subscriptions of the caller's tenant the caller has any access
// to: a role that reads the subscription, or any role assignment at or below it (ARM shows a
// subscription to someone who holds a role only on one of its groups).
func listSubscriptions(c *call) {
	subs, err := c.s.st.ListSubscriptions(c.ctx, c.caller.TenantID)
	if err != nil {
		c.failErr(err)
		return
	}
	out := []Subscription{}
	for _, sub := range subs {
		id := armid.Subscription(sub.ID)
		visible := c.canRead(armid.SubscriptionType, id.String())
		if c.access == nil {
			c.failErr(errors.New("the caller's role assignments could not be loaded"))
			return
		}
		// The caller's own assignments and those of the groups it belongs to.
		for _, a := range c.access.Assignments() {
			if visible {
				break
			}
			if scope, err := armid.ParseScope(a.Scope); err == nil && scope.IsUnderID(id) {
				visible = true
			}
		}
		if visible {
			out = append(out, subscriptionOut(sub))
		}
	}
	WriteList(c.w, c.r, c.s.cfg.BaseURL, out)
}

// ResourceGroup is ARM's resource group model.
type ResourceGroup struct {
	ID         string                  `json:"id"`
	Name       string                  `json:"name"`
	Type       string                  `json:"type"`
	Location   string                  `json:"location"`
	ManagedBy  string                  `json:"managedBy,omitempty"`
	Tags       map[string]string       `json:"tags,omitempty"`
	Properties ResourceGroupProperties `json:"properties"`
}

// ResourceGroupProperties holds the read-only provisioning state.
type ResourceGroupProperties struct {
	ProvisioningState string `json:"provisioningState"`
}

func resourceGroupOut(g store.ResourceGroup) ResourceGroup {
	return ResourceGroup{
		ID:         armid.ResourceGroupID(g.SubscriptionID, g.Name).String(),
		Name:       g.Name,
		Type:       armid.ResourceGroupType,
		Location:   g.Location,
		ManagedBy:  g.ManagedBy,
		Tags:       g.Tags,
		Properties: ResourceGroupProperties{ProvisioningState: provisioningSucceeded},
	}
}

// resourceGroupRequest is a PUT or PATCH body; pointers tell absent from empty.
type resourceGroupRequest struct {
	Location  *string            `json:"location"`
	Tags      *map[string]string `json:"tags"`
	ManagedBy *string            `json:"managedBy"`
}

type resourceGroupsProvider struct{}

func (resourceGroupsProvider) apiVersions() []string { return resourceManagerAPIVersions }

func (resourceGroupsProvider) serve(c *call) {
	if c.collection {
		if c.r.Method != http.MethodGet {
			c.fail(MethodNotAllowed(c.r.Method))
			return
		}
		listResourceGroups(c)
		return
	}
	switch c.r.Method {
	case http.MethodPut:
		putResourceGroup(c)
	case http.MethodGet, http.MethodHead:
		g, ok := lookupResourceGroup(c)
		if !ok {
			return
		}
		if c.r.Method == http.MethodHead {
			WriteEmpty(c.w, c.r, http.StatusNoContent)
			return
		}
		c.json(http.StatusOK, resourceGroupOut(g))
	case http.MethodPatch:
		patchResourceGroup(c)
	case http.MethodDelete:
		deleteResourceGroup(c)
	default:
		c.fail(MethodNotAllowed(c.r.Method))
	}
}

// lookupResourceGroup reads the group the call names, answering ResourceGroupNotFound (a bare
// 404 for HEAD, as CheckExistence expects) when it does not exist.
func lookupResourceGroup(c *call) (store.ResourceGroup, bool) {
	g, err := c.s.st.GetResourceGroup(c.ctx, c.id.SubscriptionID, c.id.ResourceGroup)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if c.r.Method == http.MethodHead {
			WriteEmpty(c.w, c.r, http.StatusNotFound)
		} else {
			c.fail(ResourceGroupNotFound(c.id.ResourceGroup))
		}
		return g, false
	case err != nil:
		c.failErr(err)
		return g, false
	}
	return g, true
}

func putResourceGroup(c *call) {
	if err := armid.ValidateResourceGroupName(c.id.ResourceGroup); err != nil {
		c.failErr(err)
		return
	}
	var req resourceGroupRequest
	if !c.decode(&req) {
		return
	}
	if req.Location == nil || strings.TrimSpace(*req.Location) == "" {
		c.fail(LocationRequired())
		return
	}
	loc := normalizeLocation(*req.Location)
	if !validLocation(loc) {
		c.fail(NewError(http.StatusBadRequest, "LocationNotAvailableForResourceGroup", fmt.Sprintf(
			"The provided location '%s' is not available for resource group. A location is a region name made of letters, digits and hyphens, such as 'eastus'.", *req.Location)))
		return
	}
	var tags map[string]string
	if req.Tags != nil {
		var e *Error
		if tags, e = checkTags(*req.Tags); e != nil {
			c.fail(e)
			return
		}
	}
	g := store.ResourceGroup{SubscriptionID: c.id.SubscriptionID, Name: c.id.ResourceGroup, Location: loc, Tags: tags, CreatedAt: c.s.cfg.Clock().UTC()}
	if req.ManagedBy != nil {
		g.ManagedBy = *req.ManagedBy
	}
	existing, err := c.s.st.GetResourceGroup(c.ctx, c.id.SubscriptionID, c.id.ResourceGroup)
	switch {
	case err == nil:
		if existing.Location != loc {
			c.fail(NewError(http.StatusConflict, "InvalidResourceGroupLocation", fmt.Sprintf(
				"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", loc, existing.Location)))
			return
		}
		g.Name, g.CreatedAt = existing.Name, existing.CreatedAt
	case !errors.Is(err, store.ErrNotFound):
		c.failErr(err)
		return
	}
	created, err := c.s.st.PutResourceGroup(c.ctx, g)
	if err != nil {
		c.failErr(err)
		return
	}
	if saved, err := c.s.st.GetResourceGroup(c.ctx, c.id.SubscriptionID, c.id.ResourceGroup); err == nil {
		g = saved
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.json(status, resourceGroupOut(g))
}

// patchResourceGroup updates tags and managedBy; fields not sent keep their value, and the
// location cannot change.
func patchResourceGroup(c *call) {
	g, ok := lookupResourceGroup(c)
	if !ok {
		return
	}
	var req resourceGroupRequest
	if !c.decode(&req) {
		return
	}
	if req.Location != nil && *req.Location != "" && normalizeLocation(*req.Location) != g.Location {
		c.fail(NewError(http.StatusConflict, "InvalidResourceGroupLocation", fmt.Sprintf(
			"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", normalizeLocation(*req.Location), g.Location)))
		return
	}
	if req.Tags != nil {
		tags, e := checkTags(*req.Tags)
		if e != nil {
			c.fail(e)
			return
		}
		g.Tags = tags
	}
	if req.ManagedBy != nil {
		g.ManagedBy = *req.ManagedBy
	}
	if _, err := c.s.st.PutResourceGroup(c.ctx, g); err != nil {
		c.failErr(err)
		return
	}
	c.json(http.StatusOK, resourceGroupOut(g))
}

// deleteResourceGroup deletes the group and everything in it, synchronously: the store removes
// the resources, the principals they own (system-assigned identities, user-assigned identities'
// own principals) and the role assignments at or below the group in one transaction. ARM answers
// 202 and deletes in the background; a 200 completes the SDKs' pollers at once.
func deleteResourceGroup(c *call) {
	if _, ok := lookupResourceGroup(c); !ok {
		return
	}
	deleted, err := c.s.st.DeleteResourceGroup(c.ctx, c.id.SubscriptionID, c.id.ResourceGroup)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(ResourceGroupNotFound(c.id.ResourceGroup))
		return
	}
	if err != nil {
		c.failErr(err)
		return
	}
	c.s.log.Info("resource group deleted", "resource_group", c.id.String(), "resources", len(deleted), "correlation_id", c.correlationID)
	WriteEmpty(c.w, c.r, http.StatusOK)
}

func listResourceGroups(c *call) {
	f, e := parseListFilter(c.r.URL.Query().Get("$filter"), "tagName", "tagValue")
	if e != nil {
		c.fail(e)
		return
	}
	groups, err := c.s.st.ListResourceGroups(c.ctx, c.scope.SubscriptionID)
	if err != nil {
		c.failErr(err)
		return
	}
	sort.SliceStable(groups, func(i, j int) bool { return strings.ToLower(groups[i].Name) < strings.ToLower(groups[j].Name) })
	out := []ResourceGroup{}
	for _, g := range groups {
		id := armid.ResourceGroupID(g.SubscriptionID, g.Name).String()
		if !f.matchTags(g.Tags) || !c.canRead(rbacResourceGroupType, id) {
			continue
		}
		out = append(out, resourceGroupOut(g))
	}
	WriteList(c.w, c.r, c.s.cfg.BaseURL, out)
}

// GenericResource is an entry of the generic resource list (ARM's GenericResourceExpanded, the
// parts mint has).
type GenericResource struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Location string            `json:"location,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
	Identity any               `json:"identity,omitempty"`
	// CreatedTime, ChangedTime and ProvisioningState are there when $expand asks for them.
	CreatedTime       *time.Time `json:"createdTime,omitempty"`
	ChangedTime       *time.Time `json:"changedTime,omitempty"`
	ProvisioningState string     `json:"provisioningState,omitempty"`
}

// genericExpand is what a generic list's $expand asks for: a comma-separated list of
// createdTime, changedTime and provisioningState (az resource list sends all three).
type genericExpand struct{ createdTime, changedTime, provisioningState bool }

func parseGenericExpand(expand string) (genericExpand, *Error) {
	var x genericExpand
	if strings.TrimSpace(expand) == "" {
		return x, nil
	}
	for _, part := range strings.Split(expand, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "createdtime":
			x.createdTime = true
		case "changedtime":
			x.changedTime = true
		case "provisioningstate":
			x.provisioningState = true
		default:
			return x, NewError(http.StatusBadRequest, "InvalidQueryParameterValue", fmt.Sprintf(
				"The $expand '%s' is not valid. Valid values are a comma-separated list of createdTime, changedTime and provisioningState.", expand))
		}
	}
	return x, nil
}

type genericResourcesProvider struct{}

func (genericResourcesProvider) apiVersions() []string { return resourceManagerAPIVersions }

// serve lists the top-level resources of a subscription or group, those the caller can read.
func (genericResourcesProvider) serve(c *call) {
	if !c.collection || c.r.Method != http.MethodGet {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	f, e := parseListFilter(c.r.URL.Query().Get("$filter"), "resourceType", "name", "location", "resourceGroup", "tagName", "tagValue")
	if e != nil {
		c.fail(e)
		return
	}
	expand, e := parseGenericExpand(c.r.URL.Query().Get("$expand"))
	if e != nil {
		c.fail(e)
		return
	}
	group := c.scope.ResourceGroup
	if rg, ok := f.values["resourcegroup"]; ok {
		if group != "" && !strings.EqualFold(group, rg) {
			WritePage(c.w, c.r, c.s.cfg.BaseURL, []GenericResource{}, "") // another group's resources: none here
			return
		}
		group = rg
	}
	rs, next, ok := c.resourcePage(store.ResourceFilter{SubscriptionID: c.scope.SubscriptionID, ResourceGroup: group, Type: f.values["resourcetype"]})
	if !ok {
		return
	}
	ir := newIdentityResolver(c)
	out := []GenericResource{}
	for _, r := range rs {
		id, err := armid.Parse(r.ID)
		if err != nil || len(id.Types) != 1 {
			continue // child resources are not in the generic list
		}
		if !f.matchName(r.Name) || !f.matchLocation(r.Location) || !f.matchTags(r.Tags) || !c.canRead(r.Type, r.ID) {
			continue
		}
		g := GenericResource{ID: r.ID, Name: r.Name, Type: r.Type, Location: r.Location, Tags: r.Tags}
		if expand.createdTime {
			g.CreatedTime = &r.CreatedAt
		}
		if expand.changedTime {
			g.ChangedTime = &r.UpdatedAt
		}
		if expand.provisioningState {
			g.ProvisioningState = "Succeeded" // mint's writes complete before they answer
		}
		if t := computeTypes[strings.ToLower(r.Type)]; t != "" {
			if ident := ir.identity(r, t); ident != nil {
				g.Identity = ident
			}
		}
		out = append(out, g)
	}
	WritePage(c.w, c.r, c.s.cfg.BaseURL, out, next)
}

// listFilter is a parsed $filter of ARM's list calls: clauses "field eq 'value'" joined by
// "and". Fields are matched case-insensitively, values as ARM does (types, names, groups and
// locations ignoring case; tag names ignoring case, tag values exactly).
type listFilter struct {
	values map[string]string // lower-case field → value
}

// parseListFilter parses filter, allowing only the given fields, each once. An empty filter
// matches all.
func parseListFilter(filter string, allowed ...string) (listFilter, *Error) {
	f := listFilter{values: map[string]string{}}
	bad := NewError(http.StatusBadRequest, "InvalidFilterInQueryString", fmt.Sprintf(
		"Invalid $filter '%s' specified in the query string. Supported: clauses \"field eq 'value'\" joined by 'and', for the fields %s.", filter, strings.Join(allowed, ", ")))
	clauses, err := odata.Parse(filter)
	if err != nil {
		return f, bad
	}
	for _, c := range clauses {
		known := slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, c.Name) })
		key := strings.ToLower(c.Name)
		// resourceType eq '' would read as no filter (every type): refused.
		empty := key == "resourcetype" && c.Value == ""
		if _, repeated := f.values[key]; c.Kind != odata.Compare || c.Op != "eq" || !c.Quoted || !known || repeated || empty {
			return f, bad
		}
		f.values[key] = c.Value
	}
	if _, ok := f.values["tagvalue"]; ok {
		if _, ok := f.values["tagname"]; !ok {
			return f, bad
		}
	}
	return f, nil
}

func (f listFilter) matchName(name string) bool {
	v, ok := f.values["name"]
	return !ok || strings.EqualFold(v, name)
}

func (f listFilter) matchLocation(loc string) bool {
	v, ok := f.values["location"]
	return !ok || normalizeLocation(v) == normalizeLocation(loc)
}

func (f listFilter) matchTags(tags map[string]string) bool {
	name, ok := f.values["tagname"]
	if !ok {
		return true
	}
	want, hasValue := f.values["tagvalue"]
	for k, v := range tags {
		if strings.EqualFold(k, name) && (!hasValue || v == want) {
			return true
		}
	}
	return false
}

// tenantsType is GET /tenants: the tenants the caller may use. The Azure CLI lists them after a
// person signs in without --tenant, then asks each for a token and its subscriptions.
const tenantsType = "Microsoft.Resources/tenants"

// Tenant is ARM's TenantIdDescription.
type Tenant struct {
	ID             string   `json:"id"`
	TenantID       string   `json:"tenantId"`
	TenantCategory string   `json:"tenantCategory"`
	CountryCode    string   `json:"countryCode"`
	DisplayName    string   `json:"displayName"`
	Domains        []string `json:"domains"`
	DefaultDomain  string   `json:"defaultDomain"`
	TenantType     string   `json:"tenantType"`
}

type tenantsProvider struct{}

func (tenantsProvider) apiVersions() []string { return resourceManagerAPIVersions }

// serve lists the caller's home tenant: mint has no guest accounts, so a principal belongs to
// exactly one tenant, the token's.
func (tenantsProvider) serve(c *call) {
	if c.r.Method != http.MethodGet || !c.collection {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	t, err := c.s.dir.Tenant(c.ctx, c.caller.TenantID)
	if err != nil {
		c.failErr(err)
		return
	}
	WriteList(c.w, c.r, c.s.cfg.BaseURL, []Tenant{{
		ID: "/tenants/" + t.ID, TenantID: t.ID, TenantCategory: "Home", CountryCode: "US", DisplayName: t.DisplayName,
		Domains: []string{t.DefaultDomain}, DefaultDomain: t.DefaultDomain, TenantType: "AAD",
	}})
}
