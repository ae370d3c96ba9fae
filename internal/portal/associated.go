package portal

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/odata"
)

// A user-assigned identity's Associated resources: the resources it is attached to, from ARM's
// POST {identity}/listAssociatedResources (api-version 2022-01-31-preview, what Azure's portal
// calls) with the person's token. As in Azure, every attachment is listed, also resources the
// person cannot otherwise read. The filter box and the sortable columns become the call's
// $filter and $orderby; pages follow its nextLink.

const apiAssociated = "2022-01-31-preview"

type associatedRow struct {
	ID, Name, Type, ResourceGroup, Subscription string
}

type sortColumn struct {
	Label, Field, Href, Sort string // Sort is aria-sort: ascending, descending or none
}

type associatedData struct {
	Path    string
	Filter  string
	Type    string
	Types   []string
	Total   int
	Rows    []associatedRow
	Columns []sortColumn
	Next    string
}

func (p *Portal) associatedResources(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	d := &associatedData{Path: resourcePath(id.String())}
	pg := page{Title: "Associated resources", Blade: newBlade(id, "assoc"), Data: d}
	if !armid.IsUserAssignedIdentity(id) {
		pg.Error = &APIError{Code: "NotAnIdentity", Message: "Only user assigned managed identities have associated resources."}
		p.render(w, r, s, http.StatusNotFound, "associated", pg)
		return
	}
	q := r.URL.Query()
	d.Filter = strings.TrimSpace(q.Get("filter"))
	d.Type = strings.TrimSpace(q.Get("type"))
	for t := range computeAPI {
		d.Types = append(d.Types, t)
	}
	sort.Strings(d.Types)
	sortField, dir := q.Get("sort"), q.Get("dir")
	if _, ok := associatedColumns[sortField]; !ok {
		sortField = "name"
	}
	if dir != "desc" {
		dir = "asc"
	}
	var clauses []odata.Clause
	if d.Type != "" {
		clauses = append(clauses, odata.Clause{Kind: odata.Compare, Name: "type", Op: "eq", Value: d.Type, Quoted: true})
	}
	if d.Filter != "" {
		clauses = append(clauses, odata.Clause{Kind: odata.Call, Name: "contains", Property: "name", Value: d.Filter, Quoted: true})
	}
	call := url.Values{"api-version": {apiAssociated}, "$orderby": {sortField + " " + dir}, "$top": {"100"}}
	if len(clauses) > 0 {
		call.Set("$filter", odata.Format(clauses))
	}
	if sk := q.Get("skip"); sk != "" {
		call.Set("$skiptoken", sk)
	}
	var out struct {
		TotalCount int `json:"totalCount"`
		Value      []struct {
			ID                      string `json:"id"`
			Name                    string `json:"name"`
			Type                    string `json:"type"`
			ResourceGroup           string `json:"resourceGroup"`
			SubscriptionID          string `json:"subscriptionId"`
			SubscriptionDisplayName string `json:"subscriptionDisplayName"`
		} `json:"value"`
		NextLink string `json:"nextLink"`
	}
	status := http.StatusOK
	if _, err := p.api(s).arm(r.Context(), http.MethodPost, id.String()+"/listAssociatedResources", call, nil, &out); err != nil {
		pg.Error, status = asAPIError(err), statusOf(err)
	}
	d.Total = out.TotalCount
	for _, v := range out.Value {
		sub := v.SubscriptionDisplayName
		if sub == "" {
			sub = v.SubscriptionID
		}
		d.Rows = append(d.Rows, associatedRow{ID: v.ID, Name: v.Name, Type: shortType(v.Type), ResourceGroup: v.ResourceGroup, Subscription: sub})
	}
	base := url.Values{"view": {"assoc"}}
	if d.Filter != "" {
		base.Set("filter", d.Filter)
	}
	if d.Type != "" {
		base.Set("type", d.Type)
	}
	for _, c := range []sortColumn{{Label: "Name", Field: "name"}, {Label: "Resource type", Field: "type"}, {Label: "Resource group", Field: "resourceGroup"}, {Label: "Subscription", Field: "subscriptionDisplayName"}} {
		v := url.Values{}
		for k, x := range base {
			v[k] = x
		}
		v.Set("sort", c.Field)
		c.Sort, c.Href = "none", d.Path+"?"
		next := "asc"
		if c.Field == sortField {
			c.Sort = map[string]string{"asc": "ascending", "desc": "descending"}[dir]
			if dir == "asc" {
				next = "desc"
			}
		}
		v.Set("dir", next)
		c.Href += v.Encode()
		d.Columns = append(d.Columns, c)
	}
	if sk := skipToken(out.NextLink); sk != "" {
		v := url.Values{}
		for k, x := range base {
			v[k] = x
		}
		v.Set("sort", sortField)
		v.Set("dir", dir)
		v.Set("skip", sk)
		d.Next = d.Path + "?" + v.Encode()
	}
	p.render(w, r, s, status, "associated", pg)
}

var associatedColumns = map[string]bool{"name": true, "type": true, "resourceGroup": true, "subscriptionDisplayName": true}
