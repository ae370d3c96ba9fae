package portal

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mint-id/mint/internal/armid"
)

// A resource's pages: its menu (the blade), Overview, and the dispatch to Identity, Access
// control (IAM), Add role assignment and Secrets.

type bladeItem struct {
	Label, Href string
	Current     bool
}

// blade is the resource menu shown on every page of a resource (or group or subscription).
type blade struct {
	ID, Name, TypeName string
	Items              []bladeItem
}

func newBlade(id armid.ResourceID, view string) *blade {
	path := resourcePath(id.String())
	b := &blade{ID: id.String()}
	t := strings.ToLower(id.ResourceType())
	switch {
	case id.IsSubscription():
		b.Name, b.TypeName = id.SubscriptionID, "Subscription"
	case id.IsResourceGroup():
		b.Name, b.TypeName = id.ResourceGroup, "Resource group"
	default:
		b.Name, b.TypeName = id.Name(), shortType(id.ResourceType())
	}
	add := func(label, v string) {
		href := path
		if v != "" {
			href += "?view=" + v
		}
		b.Items = append(b.Items, bladeItem{Label: label, Href: href, Current: v == view || (v == "" && view == "overview")})
	}
	add("Overview", "")
	addMonitoringItems(add, t)
	add("Access control (IAM)", "iam")
	if _, ok := computeAPI[t]; ok {
		add("Identity", "identity")
	}
	if t == "microsoft.keyvault/vaults" {
		add("Secrets", "secrets")
	}
	if t == "microsoft.managedidentity/userassignedidentities" {
		add("Azure role assignments", "roles")
		add("Federated credentials", "fic")
		add("Associated resources", "assoc")
	}
	return b
}

// parseResourcePath reads the ARM id from /portal/resource/{id...}.
func parseResourcePath(r *http.Request) (armid.ResourceID, error) {
	raw := "/" + strings.TrimPrefix(r.PathValue("id"), "/")
	return armid.ParseScope(raw)
}

func (p *Portal) resource(w http.ResponseWriter, r *http.Request, s *Session) {
	id, err := parseResourcePath(r)
	if err != nil || id.IsRoot() {
		p.render(w, r, s, http.StatusNotFound, "message", page{Title: "Not found",
			Error: &APIError{Code: "InvalidResourceId", Message: "The address does not name a resource, resource group or subscription."}})
		return
	}
	view := r.URL.Query().Get("view")
	if view == "" {
		view = r.PostForm.Get("view")
	}
	if serve, ok := resourceViews[view]; ok {
		serve(p, w, r, s, id)
		return
	}
	p.overview(w, r, s, id)
}

// resourceViews are a resource's pages beside its Overview, by their ?view= name (the blade's
// menu links to those its resource type has).
var resourceViews = map[string]func(p *Portal, w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID){
	"activitylog": (*Portal).activityLogBlade,
	"tokens":      (*Portal).tokenHolders,
	"reach":       (*Portal).vaultReach,
	"identity":    (*Portal).identityBlade,
	"iam":         (*Portal).iamBlade,
	"addrole":     (*Portal).addRoleWizard,
	"secrets":     (*Portal).secretsBlade,
	"roles":       (*Portal).identityRoleAssignments,
	"fic":         (*Portal).federatedCredentials,
	"assoc":       (*Portal).associatedResources,
}

type essential struct {
	Label, Value, Href string
	Copy               bool
}

type overviewData struct {
	ID        string
	Essential []essential
	Tags      []tagRow
	Children  []genericResource
	Next      string
	IsGroup   bool
}

// get reads any resource, group or subscription with the api-version its type takes.
func (c *apiClient) get(ctx context.Context, id armid.ResourceID, out any) error {
	_, err := c.arm(ctx, http.MethodGet, id.String(), versionQ(apiVersionFor(id)), nil, out)
	return err
}

func apiVersionFor(id armid.ResourceID) string {
	t := strings.ToLower(id.ResourceType())
	if v, ok := computeAPI[t]; ok {
		return v
	}
	switch t {
	case "microsoft.managedidentity/userassignedidentities":
		return apiMSI
	case "microsoft.keyvault/vaults":
		return apiKeyVaultARM
	}
	return apiResources
}

func (p *Portal) overview(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	c := p.api(s)
	ctx := r.Context()
	d := &overviewData{ID: id.String()}
	pg := page{Title: "Overview", Blade: newBlade(id, "overview"), Data: d}
	subHref := resourcePath(armid.Subscription(id.SubscriptionID).String())
	rgHref := resourcePath(armid.ResourceGroupID(id.SubscriptionID, id.ResourceGroup).String())
	switch {
	case id.IsSubscription():
		var sub subscription
		if err := c.get(ctx, id, &sub); err != nil {
			pg.Error = asAPIError(err)
			break
		}
		pg.Blade.Name = sub.DisplayName
		d.Essential = []essential{{Label: "Subscription ID", Value: sub.SubscriptionID, Copy: true}, {Label: "Directory", Value: sub.TenantID}, {Label: "Status", Value: sub.State}}
	case id.IsResourceGroup():
		var g resourceGroup
		if err := c.get(ctx, id, &g); err != nil {
			pg.Error = asAPIError(err)
			break
		}
		d.IsGroup = true
		d.Essential = []essential{{Label: "Subscription", Value: id.SubscriptionID, Href: subHref}, {Label: "Location", Value: g.Location}}
		d.Tags = sortedTags(g.Tags)
		rs, next, err := listPage[genericResource](ctx, c, id.String()+"/resources", versionQ(apiResources), r.URL.Query().Get("skip"), pageSize)
		if err != nil {
			pg.Error = asAPIError(err)
		}
		d.Children = rs
		if next != "" {
			d.Next = resourcePath(id.String()) + "?" + url.Values{"skip": {next}}.Encode()
		}
	case strings.EqualFold(id.ResourceType(), "Microsoft.ManagedIdentity/userAssignedIdentities"):
		var mi userAssignedIdentity
		if err := c.get(ctx, id, &mi); err != nil {
			pg.Error = asAPIError(err)
			break
		}
		d.Essential = []essential{
			{Label: "Resource group", Value: id.ResourceGroup, Href: rgHref},
			{Label: "Location", Value: mi.Location},
			{Label: "Subscription ID", Value: id.SubscriptionID, Href: subHref},
			{Label: "Client ID", Value: mi.Properties.ClientID, Copy: true},
			{Label: "Object (principal) ID", Value: mi.Properties.PrincipalID, Copy: true},
			{Label: "Tenant ID", Value: mi.Properties.TenantID},
			{Label: "Resource ID", Value: mi.ID, Copy: true},
		}
		d.Tags = sortedTags(mi.Tags)
	default:
		var g genericResource
		if err := c.get(ctx, id, &g); err != nil {
			pg.Error = asAPIError(err)
			break
		}
		d.Essential = []essential{
			{Label: "Resource group", Value: id.ResourceGroup, Href: rgHref},
			{Label: "Location", Value: g.Location},
			{Label: "Subscription ID", Value: id.SubscriptionID, Href: subHref},
			{Label: "Type", Value: g.Type},
			{Label: "Resource ID", Value: g.ID, Copy: true},
		}
		if strings.EqualFold(g.Type, "Microsoft.KeyVault/vaults") {
			var v vaultResource
			if c.get(ctx, id, &v) == nil {
				d.Essential = append(d.Essential, essential{Label: "Vault URI", Value: v.Properties.VaultURI, Copy: true})
			}
		}
		if g.Identity != nil && g.Identity.PrincipalID != "" {
			d.Essential = append(d.Essential, essential{Label: "System assigned identity (object ID)", Value: g.Identity.PrincipalID, Copy: true})
		}
		d.Tags = sortedTags(g.Tags)
	}
	p.render(w, r, s, statusForPage(pg), "overview", pg)
}

// statusForPage: a page whose main read was refused answers with the API's status.
func statusForPage(pg page) int {
	if pg.Error != nil && pg.Error.Status >= 400 {
		return pg.Error.Status
	}
	return http.StatusOK
}

func sortedTags(m map[string]string) []tagRow {
	var out []tagRow
	for k, v := range m {
		out = append(out, tagRow{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
