package portal

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mint-id/mint/internal/armid"
)

// Home, global search and the browse lists.

// service is an entry of the portal's fixed service catalogue (the search's "Services" group).
type service struct {
	Name, Href, Description string
}

var services = []service{
	{"Managed Identities", "/portal/identities", "User-assigned managed identities"},
	{"Resource groups", "/portal/resourcegroups", "Containers of related resources"},
	{"All resources", "/portal/resources", "Every resource you can read"},
	{"Key vaults", "/portal/resources?type=Microsoft.KeyVault%2Fvaults", "Vaults and their secrets"},
	{"Container Apps", "/portal/resources?type=Microsoft.App%2FcontainerApps", "Container apps and their identities"},
	{"App Services", "/portal/resources?type=Microsoft.Web%2Fsites", "Web apps and their identities"},
	{"Virtual machines", "/portal/resources?type=Microsoft.Compute%2FvirtualMachines", "Virtual machines and their identities"},
	{"Subscriptions", "/portal/resources?view=subscriptions", "Subscriptions you can read"},
	{"Check access", "/portal/checkaccess", "Why a principal may or may not do something (mint)"},
	{"Sign-in logs", "/portal/signins", "Token requests and sign-ins: successes and failures over time"},
	{"Activity log", "/portal/activitylog", "Control-plane writes of a subscription"},
}

func (p *Portal) home(w http.ResponseWriter, r *http.Request, s *Session) {
	p.render(w, r, s, http.StatusOK, "home", page{Title: "Home", Nav: "home", Data: services})
}

// subscriptions lists the subscriptions the person can read.
func (c *apiClient) subscriptions(ctx context.Context) ([]subscription, error) {
	return listAll[subscription](ctx, c, "/subscriptions", versionQ(apiResources), 1000)
}

type searchResults struct {
	Query          string
	Services       []service
	Resources      []genericResource
	ResourceGroups []resourceGroup
	Subscriptions  []subscription
}

// search answers the global search: services by name, and the resource groups and resources
// whose name contains the text, among those the person can read (the APIs list only those).
func (p *Portal) search(w http.ResponseWriter, r *http.Request, s *Session) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	res := searchResults{Query: q}
	pg := page{Title: "Search", Query: q, Data: &res}
	if q == "" {
		p.render(w, r, s, http.StatusOK, "search", pg)
		return
	}
	needle := strings.ToLower(q)
	for _, sv := range services {
		if strings.Contains(strings.ToLower(sv.Name), needle) || strings.Contains(strings.ToLower(sv.Description), needle) {
			res.Services = append(res.Services, sv)
		}
	}
	c := p.api(s)
	subs, err := c.subscriptions(r.Context())
	if err != nil {
		pg.Error = asAPIError(err)
	}
	for _, sub := range subs {
		if strings.Contains(strings.ToLower(sub.DisplayName), needle) || strings.Contains(sub.SubscriptionID, needle) {
			res.Subscriptions = append(res.Subscriptions, sub)
		}
		groups, err := listAll[resourceGroup](r.Context(), c, "/subscriptions/"+sub.SubscriptionID+"/resourcegroups", versionQ(apiResources), 5000)
		if err == nil {
			for _, g := range groups {
				if strings.Contains(strings.ToLower(g.Name), needle) {
					res.ResourceGroups = append(res.ResourceGroups, g)
				}
			}
		}
		rs, err := listAll[genericResource](r.Context(), c, "/subscriptions/"+sub.SubscriptionID+"/resources", versionQ(apiResources), 20000)
		if err != nil && pg.Error == nil {
			pg.Error = asAPIError(err)
		}
		for _, x := range rs {
			if strings.Contains(strings.ToLower(x.Name), needle) {
				res.Resources = append(res.Resources, x)
			}
		}
	}
	sort.Slice(res.Resources, func(i, j int) bool {
		return strings.ToLower(res.Resources[i].Name) < strings.ToLower(res.Resources[j].Name)
	})
	p.render(w, r, s, http.StatusOK, "search", pg)
}

// identityRow is a row of the Managed Identities list.
type identityRow struct {
	ID, Name, ResourceGroup, Location, Subscription string
}

type identityList struct {
	Subscriptions []subscription
	Subscription  string
	Rows          []identityRow
	Next          string
	Filter        string
}

const pageSize = 100

// identities is the Managed Identities browse list: one page of the subscription's identities.
func (p *Portal) identities(w http.ResponseWriter, r *http.Request, s *Session) {
	c := p.api(s)
	q := r.URL.Query()
	data := &identityList{Filter: strings.TrimSpace(q.Get("filter"))}
	pg := page{Title: "Managed Identities", Nav: "identities", Data: data}
	subs, err := c.subscriptions(r.Context())
	if err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, http.StatusOK, "identities", pg)
		return
	}
	data.Subscriptions = subs
	data.Subscription = pickSubscription(subs, q.Get("subscription"))
	if data.Subscription == "" {
		p.render(w, r, s, http.StatusOK, "identities", pg)
		return
	}
	subName := subscriptionName(subs, data.Subscription)
	items, next, err := listPage[userAssignedIdentity](r.Context(), c,
		"/subscriptions/"+data.Subscription+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities", versionQ(apiMSI), q.Get("skip"), pageSize)
	if err != nil {
		pg.Error = asAPIError(err)
	}
	needle := strings.ToLower(data.Filter)
	for _, it := range items {
		if needle != "" && !strings.Contains(strings.ToLower(it.Name), needle) {
			continue
		}
		id, _ := armid.Parse(it.ID)
		data.Rows = append(data.Rows, identityRow{ID: it.ID, Name: it.Name, ResourceGroup: id.ResourceGroup, Location: it.Location, Subscription: subName})
	}
	if next != "" {
		data.Next = "/portal/identities?" + url.Values{"subscription": {data.Subscription}, "skip": {next}, "filter": {data.Filter}}.Encode()
	}
	p.render(w, r, s, http.StatusOK, "identities", pg)
}

// pickSubscription is want when the person can read it, else the first readable one.
func pickSubscription(subs []subscription, want string) string {
	for _, s := range subs {
		if strings.EqualFold(s.SubscriptionID, want) {
			return s.SubscriptionID
		}
	}
	if len(subs) > 0 {
		return subs[0].SubscriptionID
	}
	return ""
}

func subscriptionName(subs []subscription, id string) string {
	for _, s := range subs {
		if strings.EqualFold(s.SubscriptionID, id) {
			return s.DisplayName
		}
	}
	return id
}

type groupList struct {
	Subscriptions []subscription
	Subscription  string
	Groups        []resourceGroup
	Next          string
}

func (p *Portal) resourceGroups(w http.ResponseWriter, r *http.Request, s *Session) {
	c := p.api(s)
	q := r.URL.Query()
	data := &groupList{}
	pg := page{Title: "Resource groups", Nav: "groups", Data: data}
	subs, err := c.subscriptions(r.Context())
	if err != nil {
		pg.Error = asAPIError(err)
	}
	data.Subscriptions = subs
	data.Subscription = pickSubscription(subs, q.Get("subscription"))
	if data.Subscription != "" {
		groups, next, err := listPage[resourceGroup](r.Context(), c, "/subscriptions/"+data.Subscription+"/resourcegroups", versionQ(apiResources), q.Get("skip"), pageSize)
		if err != nil {
			pg.Error = asAPIError(err)
		}
		data.Groups = groups
		if next != "" {
			data.Next = "/portal/resourcegroups?" + url.Values{"subscription": {data.Subscription}, "skip": {next}}.Encode()
		}
	}
	p.render(w, r, s, http.StatusOK, "resourcegroups", pg)
}

type resourceList struct {
	Title         string
	Type          string
	Subscriptions []subscription
	Subscription  string
	ShowSubs      bool
	Resources     []genericResource
	Next          string
}

// resources lists the subscription's resources, optionally of one type.
func (p *Portal) resources(w http.ResponseWriter, r *http.Request, s *Session) {
	c := p.api(s)
	q := r.URL.Query()
	data := &resourceList{Type: q.Get("type"), Title: "All resources"}
	if data.Type != "" {
		data.Title = shortType(data.Type) + "s"
	}
	pg := page{Title: data.Title, Nav: "resources", Data: data}
	subs, err := c.subscriptions(r.Context())
	if err != nil {
		pg.Error = asAPIError(err)
	}
	data.Subscriptions = subs
	if q.Get("view") == "subscriptions" {
		data.Title, pg.Title, data.ShowSubs = "Subscriptions", "Subscriptions", true
		p.render(w, r, s, http.StatusOK, "resources", pg)
		return
	}
	data.Subscription = pickSubscription(subs, q.Get("subscription"))
	if data.Subscription != "" {
		lq := versionQ(apiResources)
		if data.Type != "" {
			lq.Set("$filter", "resourceType eq '"+strings.ReplaceAll(data.Type, "'", "''")+"'")
		}
		rs, next, err := listPage[genericResource](r.Context(), c, "/subscriptions/"+data.Subscription+"/resources", lq, q.Get("skip"), pageSize)
		if err != nil {
			pg.Error = asAPIError(err)
		}
		data.Resources = rs
		if next != "" {
			data.Next = "/portal/resources?" + url.Values{"subscription": {data.Subscription}, "type": {data.Type}, "skip": {next}}.Encode()
		}
	}
	p.render(w, r, s, http.StatusOK, "resources", pg)
}

// asAPIError shows any error as a refusal banner; non-API errors are described generically (and
// were logged where they happened).
func asAPIError(err error) *APIError {
	if err == nil {
		return nil
	}
	if e, ok := err.(*APIError); ok {
		return e
	}
	return &APIError{Status: http.StatusBadGateway, Code: "PortalError", Message: "The portal could not read the API's answer: " + err.Error()}
}
