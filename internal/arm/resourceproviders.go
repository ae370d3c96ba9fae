package arm

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/mint-id/mint/internal/armid"
)

// Resource provider metadata (Microsoft.Resources/providers): what az and the SDKs read to pick
// an api-version (`az resource show --ids` without --api-version, `az provider show`) and what
// tools register before they start (Terraform's azurerm provider). It is derived from the front
// door's own table of resource types and their api-versions, so it cannot say anything the
// router does not serve.
//
//	GET  /providers                                        every namespace (tenant level)
//	GET  /providers/{namespace}                            one namespace (tenant level)
//	GET  /subscriptions/{s}/providers                      every namespace, registrationState
//	GET  /subscriptions/{s}/providers/{namespace}          one namespace, registrationState
//	POST /subscriptions/{s}/providers/{namespace}/register | unregister
//
// Every namespace mint serves is registered in every subscription; register and unregister
// change nothing and answer the provider as Azure does for a registered one.

const (
	// providersType is the pseudo type of the subscription-level provider calls (RBAC's spelling:
	// Microsoft.Resources/subscriptions/providers/read).
	providersType = "Microsoft.Resources/subscriptions/providers"
	// tenantProvidersType is the pseudo type of the tenant-level ones, readable by every caller.
	tenantProvidersType = "Microsoft.Resources/providers"
)

// providerRegions are the regions the metadata names for the tracked types. mint accepts any
// region name (validLocation); these are Azure's public regions, which is what a client that
// checks a location against the metadata expects to find.
var providerRegions = []string{
	"East US", "East US 2", "West US", "West US 2", "West US 3", "Central US", "North Central US",
	"South Central US", "West Central US", "Canada Central", "Canada East", "Brazil South",
	"North Europe", "West Europe", "UK South", "UK West", "France Central", "Germany West Central",
	"Switzerland North", "Norway East", "Sweden Central", "Poland Central", "Italy North",
	"Spain Central", "East Asia", "Southeast Asia", "Japan East", "Japan West", "Korea Central",
	"Australia East", "Australia Southeast", "Central India", "South India", "UAE North",
	"South Africa North", "Qatar Central", "Israel Central",
}

// Provider is ARM's resource provider model.
type Provider struct {
	ID                 string                 `json:"id"`
	Namespace          string                 `json:"namespace"`
	RegistrationState  string                 `json:"registrationState,omitempty"`
	RegistrationPolicy string                 `json:"registrationPolicy,omitempty"`
	ResourceTypes      []ProviderResourceType `json:"resourceTypes"`
}

// ProviderResourceType is one resource type of a Provider. APIVersions are newest first, as
// Azure lists them: az takes the first one without "preview".
type ProviderResourceType struct {
	ResourceType      string   `json:"resourceType"`
	Locations         []string `json:"locations"`
	APIVersions       []string `json:"apiVersions"`
	DefaultAPIVersion string   `json:"defaultApiVersion,omitempty"`
	Capabilities      string   `json:"capabilities,omitempty"`
}

// providerCatalog builds the metadata of every namespace from the registered types, ordered by
// namespace and type. Types whose resources have a location (trackedTypes) list the regions.
func (s *Server) providerCatalog() []Provider {
	byNS := map[string]*Provider{}
	var order []string
	for _, t := range s.types {
		ns, rest, ok := strings.Cut(t, "/")
		if !ok {
			continue
		}
		p := byNS[strings.ToLower(ns)]
		if p == nil {
			p = &Provider{Namespace: ns}
			byNS[strings.ToLower(ns)] = p
			order = append(order, strings.ToLower(ns))
		}
		versions := slices.Clone(s.providers[strings.ToLower(t)].apiVersions())
		sort.Sort(sort.Reverse(sort.StringSlice(versions)))
		rt := ProviderResourceType{ResourceType: rest, Locations: []string{}, APIVersions: versions}
		for _, v := range versions {
			if !strings.Contains(strings.ToLower(v), "preview") {
				rt.DefaultAPIVersion = v
				break
			}
		}
		if trackedType(t) {
			rt.Locations = providerRegions
			rt.Capabilities = "SupportsTags, SupportsLocation"
		}
		p.ResourceTypes = append(p.ResourceTypes, rt)
	}
	sort.Strings(order)
	out := make([]Provider, 0, len(order))
	for _, ns := range order {
		p := byNS[ns]
		sort.Slice(p.ResourceTypes, func(i, j int) bool {
			return strings.ToLower(p.ResourceTypes[i].ResourceType) < strings.ToLower(p.ResourceTypes[j].ResourceType)
		})
		out = append(out, *p)
	}
	return out
}

// trackedType reports whether resources of type t carry a location.
func trackedType(t string) bool {
	switch strings.ToLower(t) {
	case strings.ToLower(userAssignedIdentityType), strings.ToLower(keyVaultType), strings.ToLower(armid.ResourceGroupType):
		return true
	}
	_, ok := computeTypes[strings.ToLower(t)]
	return ok
}

// routeProviderMetadata routes the provider metadata paths (see the top of the file) and reports
// whether segs is one of them.
func (s *Server) routeProviderMetadata(c *call, segs []string) bool {
	isProviders := func(i int) bool { return len(segs) > i && strings.EqualFold(segs[i], "providers") }
	switch {
	case len(segs) == 1 && isProviders(0):
		c.resourceType, c.collection = tenantProvidersType, true
	case len(segs) == 2 && isProviders(0):
		c.resourceType, c.namespace = tenantProvidersType, segs[1]
	case len(segs) >= 3 && len(segs) <= 5 && strings.EqualFold(segs[0], "subscriptions") && isProviders(2):
		sub := armid.Subscription(segs[1])
		switch len(segs) {
		case 3:
			c.resourceType, c.collection, c.scope = providersType, true, sub
		case 4:
			c.resourceType, c.namespace, c.id, c.scope = providersType, segs[3], sub, sub
		default:
			verb := segs[4]
			if c.r.Method != http.MethodPost || !(strings.EqualFold(verb, "register") || strings.EqualFold(verb, "unregister")) {
				return false
			}
			c.resourceType, c.namespace, c.action, c.id, c.scope = providersType, segs[3], strings.ToLower(verb), sub, sub
		}
	default:
		return false
	}
	return true
}

// resourceProvidersProvider serves both pseudo types.
type resourceProvidersProvider struct{ s *Server }

func (resourceProvidersProvider) apiVersions() []string { return resourceManagerAPIVersions }

// exemptFromFrontDoor: the tenant-level metadata is readable by every signed-in caller, and
// register/unregister need {namespace}/register/action, which serve checks.
func (resourceProvidersProvider) exemptFromFrontDoor(c *call) bool {
	return strings.EqualFold(c.resourceType, tenantProvidersType) || c.action != ""
}

func (p resourceProvidersProvider) serve(c *call) {
	tenant := strings.EqualFold(c.resourceType, tenantProvidersType)
	switch {
	case c.action != "":
		if c.r.Method != http.MethodPost {
			c.fail(MethodNotAllowed(c.r.Method))
			return
		}
	case c.r.Method != http.MethodGet && c.r.Method != http.MethodHead:
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	if c.collection && !tenant && !c.canRead(providersType, c.scope.String()) {
		c.fail(c.authorizationFailed(providersType+"/read", c.scope.String()))
		return
	}
	catalog := p.s.providerCatalog()
	for i := range catalog {
		if tenant {
			catalog[i].ID = "/providers/" + catalog[i].Namespace
		} else {
			catalog[i].ID = c.scope.String() + "/providers/" + catalog[i].Namespace
			catalog[i].RegistrationState, catalog[i].RegistrationPolicy = "Registered", "RegistrationRequired"
		}
	}
	if c.collection {
		WriteList(c.w, c.r, c.s.cfg.BaseURL, catalog)
		return
	}
	i := slices.IndexFunc(catalog, func(pr Provider) bool { return strings.EqualFold(pr.Namespace, c.namespace) })
	if i < 0 {
		c.fail(NewError(http.StatusNotFound, "InvalidResourceNamespace", "The resource namespace '"+c.namespace+"' is invalid."))
		return
	}
	if c.action != "" {
		// Registering needs {namespace}/register/action at the subscription (Contributor has it).
		c.operation = catalog[i].Namespace + "/register/action"
		ok, err := c.allowed(c.operation, c.scope.String(), false)
		if err != nil {
			c.failErr(err)
			return
		}
		if !ok {
			c.fail(c.authorizationFailed(c.operation, c.scope.String()))
			return
		}
	}
	c.json(http.StatusOK, catalog[i])
}
