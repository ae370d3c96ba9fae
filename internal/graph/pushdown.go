package graph

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/mint-id/mint/internal/odata"
	"github.com/mint-id/mint/internal/store"
)

// Lists the store answers a page at a time. A tenant's service principals include every managed
// identity, a million of them at mint's scale, so `az ad sp list` (the first page) and the
// lookups az makes by appId or name (`az ad sp show --id`, `az role assignment create
// --assignee`, `az ad group create`'s mailNickname check) and the portal's member picker
// ($search) must not read the whole collection: the request shapes those clients send (no
// $orderby or $count; a $filter of the clauses pushdown takes, a $search searchTerm takes)
// become a store filter
// (store.PrincipalFilter, store.PeopleFilter for users and groups), and a page is read after the
// keyset position its $skiptoken carries. Every other request (Graph's advanced queries,
// filters on other properties, negations) loads the collection and is answered by writeList,
// as before; a request writeList refuses is refused without loading anything.

// pushed is what a list request asks the store for: the values of the clauses it may push
// down, "" for those absent.
type pushed struct {
	appID, displayName, displayNamePrefix, servicePrincipalName, identifierURI, userPrincipalName, mailNickname string
	search                                                                                                      *store.SearchTerm
}

// pushdown reads lq for col and reports what the store is to be asked, or false when the
// request needs the in-memory path. Each clause is a non-negated comparison with a non-empty
// string on a property col has; displayName only with printable ASCII, which the stores fold as
// Graph does.
func pushdown(r *http.Request, lq listQuery, col collection) (pushed, bool) {
	var p pushed
	if len(lq.orderBy) > 0 || lq.count || isCountSegment(r) {
		return p, false
	}
	if lq.search != nil {
		var ok bool
		if p.search, ok = searchTerm(lq.search, col); !ok {
			return p, false
		}
	}
	set := func(field *string, v string) bool {
		if *field != "" || v == "" {
			return false // the same property twice: rare, and in memory it stays right
		}
		*field = v
		return true
	}
	principals := col.set == servicePrincipalsList.set || col.set == applicationsList.set
	for _, c := range lq.filter {
		if c.Not || !c.Quoted || c.Op != "eq" && c.Kind != odata.Call {
			return p, false
		}
		var ok bool
		switch {
		case c.Kind == odata.Compare && principals && strings.EqualFold(c.Name, "appId"):
			ok = set(&p.appID, c.Value)
		case c.Kind == odata.Compare && col.set == usersList.set && strings.EqualFold(c.Name, "userPrincipalName"):
			ok = set(&p.userPrincipalName, c.Value)
		case c.Kind == odata.Compare && (col.set == usersList.set || col.set == groupsList.set) && strings.EqualFold(c.Name, "mailNickname"):
			// Graph's nicknames are ASCII; a value that is not takes the in-memory path, whose
			// case folding ("ſ" is "s") the stored key's does not match.
			ok = printableASCII(c.Value) && set(&p.mailNickname, c.Value)
		case c.Kind == odata.Compare && strings.EqualFold(c.Name, "displayName"):
			ok = printableASCII(c.Value) && set(&p.displayName, c.Value)
		case c.Kind == odata.Call && strings.EqualFold(c.Name, "startswith") && strings.EqualFold(c.Property, "displayName"):
			ok = printableASCII(c.Value) && set(&p.displayNamePrefix, c.Value)
		case c.Kind == odata.Any && col.set == servicePrincipalsList.set && strings.EqualFold(c.Name, "servicePrincipalNames"):
			ok = set(&p.servicePrincipalName, c.Value)
		case c.Kind == odata.Any && col.set == applicationsList.set && strings.EqualFold(c.Name, "identifierUris"):
			ok = set(&p.identifierURI, c.Value)
		}
		if !ok {
			return p, false
		}
	}
	return p, true
}

// searchTerm is the store's form of a $search on col, or false when some clause needs the
// in-memory path. A clause is pushed down when its text is printable ASCII: displayName by its
// words (Graph's tokens, each of them no longer than the stores index), id, appId,
// userPrincipalName and mailNickname by beginning, on the collections that have them. Other
// properties (description ...) and other text stay in memory.
func searchTerm(s *odata.Search, col collection) (*store.SearchTerm, bool) {
	if s.Op != "" {
		l, ok := searchTerm(s.Left, col)
		if !ok {
			return nil, false
		}
		r, ok := searchTerm(s.Right, col)
		if !ok {
			return nil, false
		}
		return &store.SearchTerm{Op: s.Op, Left: l, Right: r}, true
	}
	if s.Text == "" || !printableASCII(s.Text) {
		return nil, false
	}
	principals := col.set == servicePrincipalsList.set || col.set == applicationsList.set
	prefix := func(p store.SearchProperty) (*store.SearchTerm, bool) {
		return &store.SearchTerm{Property: p, Prefix: s.Text}, true
	}
	switch {
	case strings.EqualFold(s.Property, "displayName"):
		words := store.SearchTokens(s.Text)
		if len(words) == 0 {
			return nil, false
		}
		for _, w := range words {
			if len(w) > store.MaxIndexedWord {
				return nil, false
			}
		}
		return &store.SearchTerm{Property: store.SearchDisplayName, Words: words}, true
	case strings.EqualFold(s.Property, "id"):
		return prefix(store.SearchObjectID)
	case principals && strings.EqualFold(s.Property, "appId"):
		return prefix(store.SearchAppID)
	case col.set == usersList.set && strings.EqualFold(s.Property, "userPrincipalName"):
		return prefix(store.SearchUserPrincipalName)
	case (col.set == usersList.set || col.set == groupsList.set) && strings.EqualFold(s.Property, "mailNickname"):
		return prefix(store.SearchMailNickname)
	}
	return nil, false
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

// pagedList is a collection the store reads a page at a time: all loads it whole (the
// in-memory path), page reads the objects after a cursor (ObjectCursor), position names an
// object's place in the list, toJSON makes the object Graph answers.
type pagedList[T any] struct {
	col      collection
	all      func(ctx context.Context) ([]T, error)
	page     func(ctx context.Context, p pushed, after string, limit int) ([]T, error)
	position func(T) string
	toJSON   func(context.Context, T) (map[string]any, error)
}

// listPaged answers a list request: from the store a page at a time when pushdown admits it,
// otherwise the whole collection through writeList.
func listPaged[T any](s *Server, w http.ResponseWriter, r *http.Request, l pagedList[T]) {
	ctx := r.Context()
	q := r.URL.Query()
	lq, qerr := parseListQuery(q, eventual(r), l.col)
	if qerr != nil || isCountSegment(r) && !eventual(r) {
		s.writeList(w, r, l.col.set, nil) // refuses the request, in its usual words and order
		return
	}
	p, ok := pushdown(r, lq, l.col)
	if !ok {
		items, err := l.all(ctx)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out := make([]map[string]any, 0, len(items))
		for _, it := range items {
			obj, err := l.toJSON(ctx, it)
			if err != nil {
				s.internal(w, r, err)
				return
			}
			out = append(out, obj)
		}
		s.writeList(w, r, l.col.set, out)
		return
	}
	top, ok := pageTop(w, r, q)
	if !ok {
		return
	}
	after := q.Get("$skiptoken")
	if after != "" {
		if _, _, err := store.ParseObjectCursor(after); err != nil {
			writeError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", msgBadSkipToken)
			return
		}
	}
	sel, ok := pageSelect(w, r, q)
	if !ok {
		return
	}
	items, err := l.page(ctx, p, after, top+1) // one more tells whether there is a next page
	if err != nil {
		s.internal(w, r, err)
		return
	}
	next := ""
	if len(items) > top {
		items = items[:top]
		next = l.position(items[top-1])
	}
	page := make([]map[string]any, 0, len(items))
	words := map[string][]string{} // each search text's words, split once
	for _, it := range items {
		obj, err := l.toJSON(ctx, it)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		// The store's comparisons are the filter's and the search's; checking again keeps the
		// answer exactly what the in-memory path gives should they ever differ.
		if match, err := matchFilter(lq.filter, obj, l.col); err != nil || !match {
			continue
		}
		if lq.search != nil {
			if match, err := matchSearch(lq.search, obj, l.col, words); err != nil || !match {
				continue
			}
		}
		page = append(page, obj)
	}
	writePage(w, r, l.col, page, sel, -1, next)
}

// listPrincipals answers a list of service principals or applications (kind, without the
// first-party ones).
func (s *Server) listPrincipals(w http.ResponseWriter, r *http.Request, tenantID string, col collection, kind store.PrincipalKind,
	toJSON func(context.Context, store.ServicePrincipal) (map[string]any, error)) {
	noBuiltin := kind == store.KindApplication
	listPaged(s, w, r, pagedList[store.ServicePrincipal]{
		col: col,
		all: func(ctx context.Context) ([]store.ServicePrincipal, error) {
			sps, err := s.st.ListPrincipals(ctx, tenantID, kind)
			if !noBuiltin || err != nil {
				return sps, err
			}
			return slices.DeleteFunc(sps, func(sp store.ServicePrincipal) bool { return sp.Builtin }), nil
		},
		page: func(ctx context.Context, p pushed, after string, limit int) ([]store.ServicePrincipal, error) {
			return s.st.ListPrincipalsPage(ctx, store.PrincipalFilter{TenantID: tenantID, Kind: kind, NoBuiltin: noBuiltin,
				AppID: p.appID, ServicePrincipalName: p.servicePrincipalName, IdentifierURI: p.identifierURI,
				DisplayName: p.displayName, DisplayNamePrefix: p.displayNamePrefix, Search: p.search, After: after, Limit: limit})
		},
		position: store.PrincipalCursor,
		toJSON:   toJSON,
	})
}

// listUsersPaged and listGroupsPaged: the tenant's people, paged by the store likewise.
func (s *Server) listUsersPaged(w http.ResponseWriter, r *http.Request, tenantID string) {
	listPaged(s, w, r, pagedList[store.User]{
		col: usersList,
		all: func(ctx context.Context) ([]store.User, error) { return s.dir.Users(ctx, tenantID) },
		page: func(ctx context.Context, p pushed, after string, limit int) ([]store.User, error) {
			return s.st.ListUsersPage(ctx, store.PeopleFilter{TenantID: tenantID, UserPrincipalName: p.userPrincipalName,
				DisplayName: p.displayName, DisplayNamePrefix: p.displayNamePrefix, MailNickname: p.mailNickname, Search: p.search,
				After: after, Limit: limit})
		},
		position: func(u store.User) string { return store.ObjectCursor(u.CreatedAt, u.ObjectID) },
		toJSON:   func(_ context.Context, u store.User) (map[string]any, error) { return userJSON(u), nil },
	})
}

func (s *Server) listGroupsPaged(w http.ResponseWriter, r *http.Request, tenantID string) {
	listPaged(s, w, r, pagedList[store.Group]{
		col: groupsList,
		all: func(ctx context.Context) ([]store.Group, error) { return s.dir.Groups(ctx, tenantID) },
		page: func(ctx context.Context, p pushed, after string, limit int) ([]store.Group, error) {
			return s.st.ListGroupsPage(ctx, store.PeopleFilter{TenantID: tenantID, DisplayName: p.displayName,
				DisplayNamePrefix: p.displayNamePrefix, MailNickname: p.mailNickname, Search: p.search, After: after, Limit: limit})
		},
		position: func(g store.Group) string { return store.ObjectCursor(g.CreatedAt, g.ObjectID) },
		toJSON:   func(_ context.Context, g store.Group) (map[string]any, error) { return groupJSON(g), nil },
	})
}
