package graph

import (
	"net/http"
	"strings"

	"github.com/mint-id/mint/internal/odata"
	"github.com/mint-id/mint/internal/store"
)

// Lists the store answers a page at a time. A tenant's service principals include every managed
// identity, a million of them at mint's scale, so `az ad sp list` (the first page) and the
// lookups az makes by appId or name (`az ad sp show --id`, `az role assignment create
// --assignee`) must not read the whole collection: the request shapes those clients send (no
// $search, $orderby or $count; a $filter of the clauses below) become a store.PrincipalFilter,
// and a page is read after the keyset position its $skiptoken carries. Every other request
// (Graph's advanced queries, filters on other properties, negations) loads the collection and
// is answered by writeList, as before.

// principalFilter is the store filter that answers lq over col (servicePrincipals or
// applications) for tenantID, or false when the request needs the in-memory path. Each clause
// is a non-negated comparison with a non-empty string; displayName only with printable ASCII,
// which the store folds exactly as Graph does.
func principalFilter(r *http.Request, lq listQuery, col collection, tenantID string) (store.PrincipalFilter, bool) {
	f := store.PrincipalFilter{TenantID: tenantID}
	if col.set == applicationsList.set {
		f.Kind, f.NoBuiltin = store.KindApplication, true
	}
	if lq.search != nil || len(lq.orderBy) > 0 || lq.count || isCountSegment(r) {
		return f, false
	}
	set := func(field *string, v string) bool {
		if *field != "" || v == "" {
			return false // the same property twice: rare, and in memory it stays right
		}
		*field = v
		return true
	}
	for _, c := range lq.filter {
		if c.Not || !c.Quoted || c.Op != "eq" && c.Kind != odata.Call {
			return f, false
		}
		var ok bool
		switch {
		case c.Kind == odata.Compare && strings.EqualFold(c.Name, "appId"):
			ok = set(&f.AppID, c.Value)
		case c.Kind == odata.Compare && strings.EqualFold(c.Name, "displayName"):
			ok = printableASCII(c.Value) && set(&f.DisplayName, c.Value)
		case c.Kind == odata.Call && strings.EqualFold(c.Name, "startswith") && strings.EqualFold(c.Property, "displayName"):
			ok = printableASCII(c.Value) && set(&f.DisplayNamePrefix, c.Value)
		case c.Kind == odata.Any && col.set == servicePrincipalsList.set && strings.EqualFold(c.Name, "servicePrincipalNames"):
			ok = set(&f.ServicePrincipalName, c.Value)
		case c.Kind == odata.Any && col.set == applicationsList.set && strings.EqualFold(c.Name, "identifierUris"):
			ok = set(&f.IdentifierURI, c.Value)
		}
		if !ok {
			return f, false
		}
	}
	return f, true
}

// msgBadSkipToken is the refusal of a $skiptoken mint did not hand out (as odata.ParseSkipToken's).
const msgBadSkipToken = "the $skiptoken is not one this service handed out"

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// listPrincipals answers a list of service principals or applications: from the store a page at
// a time when principalFilter admits the request, otherwise the whole collection through
// writeList. toJSON makes an object of a principal (an application reads its credentials).
func (s *Server) listPrincipals(w http.ResponseWriter, r *http.Request, tenantID string, col collection, toJSON func(store.ServicePrincipal) (map[string]any, error)) {
	q := r.URL.Query()
	lq, qerr := parseListQuery(q, eventual(r), col)
	f, pushed := principalFilter(r, lq, col, tenantID)
	if qerr != nil {
		s.writeList(w, r, col.set, nil) // refuses the request, in its usual words and order
		return
	}
	if !pushed {
		sps, err := s.st.ListPrincipals(r.Context(), tenantID, f.Kind)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out := make([]map[string]any, 0, len(sps))
		for _, sp := range sps {
			if f.NoBuiltin && sp.Builtin {
				continue
			}
			obj, err := toJSON(sp)
			if err != nil {
				s.internal(w, r, err)
				return
			}
			out = append(out, obj)
		}
		s.writeList(w, r, col.set, out)
		return
	}
	top, ok := pageTop(w, r, q)
	if !ok {
		return
	}
	if f.After = q.Get("$skiptoken"); f.After != "" {
		if _, _, err := store.ParsePrincipalCursor(f.After); err != nil {
			writeError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", msgBadSkipToken)
			return
		}
	}
	sel, ok := pageSelect(w, r, q)
	if !ok {
		return
	}
	f.Limit = top + 1 // one more tells whether there is a next page
	sps, err := s.st.ListPrincipalsPage(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	next := ""
	if len(sps) > top {
		sps = sps[:top]
		next = store.PrincipalCursor(sps[top-1])
	}
	page := make([]map[string]any, 0, len(sps))
	for _, sp := range sps {
		obj, err := toJSON(sp)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		// The store's comparisons are the filter's; checking again keeps the answer exactly
		// what the in-memory path gives should they ever differ.
		if match, err := matchFilter(lq.filter, obj, col); err != nil || !match {
			continue
		}
		page = append(page, obj)
	}
	writePage(w, r, col, page, sel, -1, next)
}
