package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/odata"
	"github.com/mint-id/mint/internal/store"
)

// Graph's advanced queries on directory objects (https://learn.microsoft.com/graph/aad-advanced-queries):
// $count (the query option and the /$count segment), $search, $orderby on some properties, and
// the $filter operators ne, not, endsWith and a collection's /$count need the request header
// ConsistencyLevel: eventual and, except for $search and the /$count segment, $count=true. Without
// them Graph refuses the request with its own words, or, for $count=true alone, ignores it; mint
// does the same. The rules are a function of the request: parseListQuery checks them, apply
// evaluates what they admit over the objects as Graph serialises them.

// collection is a list Graph serves, with what its advanced-query tables allow.
type collection struct {
	set      string // the entity set of @odata.context
	resource string // the type named in Graph's messages
	// orderBy lists the properties $orderby takes (lower case), true for those that need the
	// advanced query parameters.
	orderBy map[string]bool
	// mixed collections (members, memberOf) hold objects of several types: a property one of
	// them lacks does not match rather than being an error.
	mixed bool
}

var (
	usersList = collection{set: "users", resource: "User",
		orderBy: map[string]bool{"displayname": false, "userprincipalname": false, "createddatetime": true}}
	groupsList = collection{set: "groups", resource: "Group",
		orderBy: map[string]bool{"displayname": false}}
	applicationsList = collection{set: "applications", resource: "Application",
		orderBy: map[string]bool{"displayname": true, "createddatetime": true}}
	servicePrincipalsList = collection{set: "servicePrincipals", resource: "ServicePrincipal",
		orderBy: map[string]bool{"displayname": true, "createddatetime": true}}
	directoryObjectsList = collection{set: "directoryObjects", resource: "DirectoryObject",
		orderBy: map[string]bool{"displayname": true}, mixed: true}
)

// collectionNamed is the collection a list of the entity set set answers as.
func collectionNamed(set string) collection {
	for _, c := range []collection{usersList, groupsList, applicationsList, servicePrincipalsList, directoryObjectsList} {
		if c.set == set {
			return c
		}
	}
	return collection{set: set, resource: set, mixed: true}
}

// Graph's own words (learn.microsoft.com/graph/aad-advanced-queries, "Error handling").
const (
	msgSearchNeedsHeader = "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"
	msgCountSegment      = "$count is not currently supported."
	msgSorting           = "Sorting not supported for current query."
)

func msgOperatorNeedsParams(op string) string {
	return fmt.Sprintf("Operator '%s' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information", op)
}

// queryError is a refused list request: Graph's code and message, answered with 400.
type queryError struct{ code, message string }

func (e *queryError) Error() string { return e.message }

func unsupported(msg string) *queryError { return &queryError{"Request_UnsupportedQuery", msg} }

// listQuery is what a list request asks for beyond paging and projection.
type listQuery struct {
	filter  []odata.Clause
	search  *odata.Search
	orderBy []odata.OrderBy
	// count: add @odata.count (asked for with $count=true and the header).
	count bool
}

// eventual reports whether the request carries ConsistencyLevel: eventual.
func eventual(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("ConsistencyLevel")), "eventual")
}

// parseListQuery reads $filter, $search, $orderby and $count and checks them against Graph's
// rules for col; eventual is whether the request carries ConsistencyLevel: eventual.
func parseListQuery(q url.Values, eventual bool, col collection) (listQuery, *queryError) {
	var lq listQuery
	count, err := odata.ParseCount(q.Get("$count"))
	if err != nil {
		return lq, &queryError{"BadRequest", err.Error()}
	}
	// $count=true without the header is ignored, as Graph ignores it.
	lq.count = count && eventual
	advanced := eventual && count
	if raw := q.Get("$search"); raw != "" {
		if !eventual {
			return lq, unsupported(msgSearchNeedsHeader)
		}
		if lq.search, err = odata.ParseSearch(raw); err != nil {
			return lq, unsupported("Invalid $search: " + err.Error())
		}
	}
	if raw := q.Get("$filter"); raw != "" {
		var needs string
		if lq.filter, needs, err = parseFilter(raw, col); err != nil {
			if qe := (*queryError)(nil); errors.As(err, &qe) {
				return lq, qe
			}
			return lq, unsupported(fmt.Sprintf("Invalid filter clause: %v. mint's Graph supports prop eq|ne value, prop/any(c:c eq 'value'), startswith(prop,'value'), endswith(prop,'value'), prop/$count eq|ne 0|1 and not, joined by and", err))
		}
		if needs != "" && !advanced {
			return lq, unsupported(msgOperatorNeedsParams(needs))
		}
	}
	if lq.orderBy, err = odata.ParseOrderBy(q.Get("$orderby")); err != nil {
		return lq, &queryError{"BadRequest", err.Error()}
	}
	if len(lq.orderBy) > 0 {
		// One key, on a property the collection's table lists; the advanced query parameters
		// where the table says so, and whenever $filter comes with it.
		if len(lq.orderBy) > 1 {
			return lq, unsupported(msgSorting)
		}
		needsAdvanced, ok := col.orderBy[strings.ToLower(lq.orderBy[0].Property)]
		if !ok || (needsAdvanced || lq.filter != nil) && !advanced {
			return lq, unsupported(msgSorting)
		}
	}
	return lq, nil
}

// query reads the request's options for col and applies them to objs: the objects asked for,
// in order, or Graph's refusal.
func query(q url.Values, eventual bool, col collection, objs []map[string]any) (listQuery, []map[string]any, *queryError) {
	lq, qerr := parseListQuery(q, eventual, col)
	if qerr != nil {
		return lq, nil, qerr
	}
	out, err := lq.apply(col, objs)
	if err != nil {
		if qe := (*queryError)(nil); errors.As(err, &qe) {
			return lq, nil, qe
		}
		return lq, nil, unsupported("Invalid filter clause: " + err.Error())
	}
	return lq, out, nil
}

// apply keeps the objects the filter and search admit, in the order asked for.
func (lq listQuery) apply(col collection, objs []map[string]any) ([]map[string]any, error) {
	out := objs
	if lq.filter != nil || lq.search != nil {
		out = make([]map[string]any, 0, len(objs))
		words := map[string][]string{} // each search text's words, split once
		for _, o := range objs {
			ok, err := matchFilter(lq.filter, o, col)
			if err == nil && ok && lq.search != nil {
				ok, err = matchSearch(lq.search, o, col, words)
			}
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, o)
			}
		}
	}
	if len(lq.orderBy) == 1 {
		out = sortObjects(out, lq.orderBy[0])
	}
	return out, nil
}

// property reads obj's property name, case-insensitively; nil when absent.
func property(obj map[string]any, name string) any {
	if v, ok := obj[name]; ok {
		return v
	}
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func hasProperty(obj map[string]any, name string) (any, bool) {
	if v, ok := obj[name]; ok {
		return v, true
	}
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// sortObjects orders objs by one key: strings case-insensitively, times chronologically, null
// last; ties by id, so that $skiptoken pages of an ordered list neither repeat nor skip. Each
// object's sort key is computed once.
func sortObjects(objs []map[string]any, key odata.OrderBy) []map[string]any {
	type keyed struct {
		obj       map[string]any
		null      bool
		at        time.Time
		isTime    bool
		fold, raw string
		id        string
	}
	ks := make([]keyed, len(objs))
	for i, o := range objs {
		id, ok := o["id"].(string)
		if !ok {
			id = fmt.Sprint(o["id"])
		}
		k := keyed{obj: o, id: id}
		switch v := property(o, key.Property).(type) {
		case time.Time:
			k.at, k.isTime = v, true
		case string:
			k.raw, k.fold = v, strings.ToLower(v)
		default:
			if k.null = isNull(v); !k.null {
				k.raw = fmt.Sprint(v)
				k.fold = strings.ToLower(k.raw)
			}
		}
		ks[i] = k
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		c := 0
		switch {
		case a.null || b.null:
			if a.null != b.null {
				if a.null {
					return 1 // null last, whichever the direction
				}
				return -1
			}
		case a.isTime && b.isTime:
			c = a.at.Compare(b.at)
		default:
			if c = strings.Compare(a.fold, b.fold); c == 0 {
				c = strings.Compare(a.raw, b.raw)
			}
		}
		if key.Desc {
			c = -c
		}
		if c == 0 {
			c = strings.Compare(a.id, b.id)
		}
		return c
	})
	out := make([]map[string]any, len(ks))
	for i, k := range ks {
		out[i] = k.obj
	}
	return out
}

func isNull(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && rv.IsNil()
}

// matchSearch evaluates a $search over obj. displayName and description are searched by words,
// as Graph tokenizes them; any other string property by prefix, as Graph falls back to
// startsWith for them.
func matchSearch(s *odata.Search, obj map[string]any, col collection, words map[string][]string) (bool, error) {
	var bad error
	ok := s.Eval(func(c *odata.Search) bool {
		v, found := hasProperty(obj, c.Property)
		if !found {
			if !col.mixed && bad == nil {
				bad = unsupported(fmt.Sprintf("Invalid $search: property '%s' does not exist on resource '%s'.", c.Property, col.resource))
			}
			return false
		}
		switch v := v.(type) {
		case string:
			p := strings.ToLower(c.Property)
			if p == "displayname" || p == "description" {
				want, ok := words[c.Text]
				if !ok {
					want = searchTokens(c.Text)
					words[c.Text] = want
				}
				return searchWords(v, want)
			}
			return strings.HasPrefix(strings.ToLower(v), strings.ToLower(c.Text))
		case []string:
			for _, e := range v {
				if strings.HasPrefix(strings.ToLower(e), strings.ToLower(c.Text)) {
					return true
				}
			}
			return false
		case nil:
			return false
		default:
			if isNull(v) {
				return false
			}
			if bad == nil {
				bad = unsupported(fmt.Sprintf("Invalid $search: property '%s' of resource '%s' is not a string.", c.Property, col.resource))
			}
			return false
		}
	})
	return ok && bad == nil, bad
}

// searchWords reports whether every word of a search text (want, from searchTokens) begins a
// word of value (in any order, case ignored): Graph's tokenized search
// (https://learn.microsoft.com/graph/search-query-parameter).
func searchWords(value string, want []string) bool {
	if len(want) == 0 {
		return false
	}
	have := searchTokens(value)
	for _, w := range want {
		found := false
		for _, h := range have {
			if strings.HasPrefix(h, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// searchTokens splits s into lower-case words as Graph's directory search does
// (store.SearchTokens: the stores index display names by the same words).
func searchTokens(s string) []string { return store.SearchTokens(s) }

// countSegmentKey marks a request for a collection's /$count segment.
type countSegmentKey struct{}

// withCountSegment strips a trailing /$count from the path of a collection Graph counts
// (users, groups, applications, servicePrincipals, and the members and memberships of an
// object) and marks the request, so the list answers its count as text/plain.
func withCountSegment(r *http.Request, seg []string) (*http.Request, []string) {
	n := len(seg)
	if n < 2 || seg[n-1] != "$count" || r.Method != http.MethodGet {
		return r, seg
	}
	list := seg[:n-1]
	counted := false
	switch len(list) {
	case 1:
		counted = slices.Contains([]string{"users", "groups", "applications", "servicePrincipals"}, list[0])
	case 2:
		counted = list[0] == "me" && (list[1] == "memberOf" || list[1] == "transitiveMemberOf")
	case 3:
		counted = slices.Contains([]string{"users", "groups", "servicePrincipals", "directoryObjects"}, list[0]) &&
			slices.Contains([]string{"members", "transitiveMembers", "memberOf", "transitiveMemberOf"}, list[2])
	}
	if !counted {
		return r, seg
	}
	return r.WithContext(context.WithValue(r.Context(), countSegmentKey{}, true)), list
}

func isCountSegment(r *http.Request) bool {
	v, _ := r.Context().Value(countSegmentKey{}).(bool)
	return v
}
