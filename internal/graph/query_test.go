package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testUsers() []map[string]any {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(id, name, upn string, enabled bool, at int) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.user", "id": id, "displayName": name, "userPrincipalName": upn,
			"accountEnabled": enabled, "mail": nil, "businessPhones": []string{}, "createdDateTime": t0.Add(time.Duration(at) * time.Hour)}
	}
	return []map[string]any{
		mk("u1", "Dev Lead", "dev.lead@mint.test", true, 3),
		mk("u2", "ada developer", "ada@mint.test", true, 1),
		mk("u3", "Bob-Builder", "bob@other.test", false, 2),
		mk("u4", "DevOps Bot", "devops@mint.test", true, 0),
		mk("u5", "bob builder", "bob2@other.test", true, 4),
	}
}

func ids(objs []map[string]any) string {
	var s []string
	for _, o := range objs {
		s = append(s, fmt.Sprint(o["id"]))
	}
	return strings.Join(s, ",")
}

// Each of Graph's advanced-query rules: what works by default, what needs ConsistencyLevel:
// eventual (and $count=true), what is refused whatever the headers, each with Graph's words.
func TestAdvancedQueryRules(t *testing.T) {
	for _, tc := range []struct {
		col      collection
		query    string
		eventual bool
		want     string // the ids, in order, or "error: <code>: <part of the message>"
	}{
		// Defaults.
		{usersList, "", false, "u1,u2,u3,u4,u5"},
		{usersList, "$filter=accountEnabled eq false", false, "u3"},
		{usersList, "$filter=startswith(displayName,'dev')", false, "u1,u4"},
		{usersList, "$orderby=displayName", false, "u2,u5,u3,u1,u4"},
		{usersList, "$orderby=userPrincipalName desc", false, "u4,u1,u3,u5,u2"},
		{groupsList, "$orderby=displayName", false, ""},
		{usersList, "$count=true", false, "u1,u2,u3,u4,u5"}, // ignored without the header, as Graph does
		{usersList, "$filter=mail eq null", false, "u1,u2,u3,u4,u5"},

		// $search: the header, not $count.
		{usersList, `$search="displayName:dev"`, false, "error: Request_UnsupportedQuery: " + msgSearchNeedsHeader},
		{usersList, `$search="displayName:dev"`, true, "u1,u2,u4"}, // words are matched by their beginning
		{usersList, `$search="displayName:DEV lead"`, true, "u1"},
		{usersList, `$search="displayName:lead dev"`, true, "u1"},
		{usersList, `$search="displayName:developer"`, true, "u2"},
		{usersList, `$search="displayName:ops"`, true, "u4"},          // DevOps is two words
		{usersList, `$search="displayName:bobbuilder"`, true, "u3"},   // words joined by a symbol
		{usersList, `$search="displayName:velo"`, true, ""},           // words, not substrings
		{usersList, `$search="userPrincipalName:bob"`, true, "u3,u5"}, // other properties: startsWith
		{usersList, `$search="displayName:bob" AND "userPrincipalName:bob2"`, true, "u5"},
		{usersList, `$search="displayName:ada" OR "displayName:lead"`, true, "u1,u2"},
		{usersList, `$search="displayName:bob" AND ("userPrincipalName:bob2" OR "userPrincipalName:dev")`, true, "u5"},
		{usersList, `$search="displayName:dev"&$filter=accountEnabled eq true`, true, "u1,u2,u4"},
		{usersList, `$search=displayName:dev`, true, "error: Request_UnsupportedQuery: in double quotes"},
		{usersList, `$search="nosuch:x"`, true, "error: Request_UnsupportedQuery: 'nosuch' does not exist on resource 'User'"},
		{directoryObjectsList, `$search="description:x"`, true, ""}, // users have no description: no match in a mixed list

		// ne, not, endsWith, /$count in a filter: the header and $count=true.
		{usersList, "$filter=accountEnabled ne true", false, "error: Request_UnsupportedQuery: Operator 'ne' is not supported because the required parameters might be missing"},
		{usersList, "$filter=accountEnabled ne true", true, "error: Request_UnsupportedQuery: Operator 'ne'"},
		{usersList, "$filter=accountEnabled ne true&$count=true", false, "error: Request_UnsupportedQuery: Operator 'ne'"},
		{usersList, "$filter=accountEnabled ne true&$count=true", true, "u3"},
		{usersList, "$filter=endsWith(userPrincipalName,'@other.test')&$count=true", true, "u3,u5"},
		{usersList, "$filter=endsWith(userPrincipalName,'@other.test')", false, "error: Request_UnsupportedQuery: Operator 'endsWith' is not supported"},
		{usersList, "$filter=endsWith(displayName,'x')&$count=true", true, "error: Request_UnsupportedQuery: Unsupported or invalid query filter clause specified for property 'displayName' of resource 'User'."},
		{usersList, "$filter=NOT startsWith(displayName, 'dev')&$count=true", true, "u2,u3,u5"},
		{usersList, "$filter=not(accountEnabled eq true)&$count=true", true, "u3"},
		{usersList, "$filter=not(accountEnabled eq true)", true, "error: Request_UnsupportedQuery: Operator 'not'"},
		{usersList, "$filter=businessPhones/$count eq 0&$count=true", true, "u1,u2,u3,u4,u5"},
		{usersList, "$filter=businessPhones/$count ne 0&$count=true", true, ""},
		{usersList, "$filter=businessPhones/$count eq 0", true, "error: Request_UnsupportedQuery: Operator '$count'"},
		{usersList, "$filter=businessPhones/$count eq 2&$count=true", true, "error: Request_UnsupportedQuery: Invalid filter clause"},
		{usersList, "$filter=displayName ge 'a'&$count=true", true, "error: Request_UnsupportedQuery: Invalid filter clause"},

		// $orderby: where the table lists it, with the advanced parameters where it says so and
		// whenever $filter comes along.
		{usersList, "$orderby=createdDateTime", false, "error: Request_UnsupportedQuery: " + msgSorting},
		{usersList, "$orderby=createdDateTime&$count=true", true, "u4,u2,u3,u1,u5"},
		{usersList, "$orderby=createdDateTime desc&$count=true", true, "u5,u1,u3,u2,u4"},
		{usersList, "$orderby=displayName&$filter=accountEnabled eq true", false, "error: Request_UnsupportedQuery: " + msgSorting},
		{usersList, "$orderby=displayName&$filter=accountEnabled eq true&$count=true", true, "u2,u5,u1,u4"},
		{usersList, "$orderby=mailNickname", true, "error: Request_UnsupportedQuery: " + msgSorting},
		{usersList, "$orderby=displayName,userPrincipalName", false, "error: Request_UnsupportedQuery: " + msgSorting},
		{usersList, "$orderby=displayName sideways", false, "error: BadRequest: asc or desc"},
		{groupsList, "$orderby=createdDateTime&$count=true", true, "error: Request_UnsupportedQuery: " + msgSorting},
		{applicationsList, "$orderby=displayName", false, "error: Request_UnsupportedQuery: " + msgSorting},
		{servicePrincipalsList, "$orderby=displayName", true, "error: Request_UnsupportedQuery: " + msgSorting},
		{servicePrincipalsList, "$orderby=displayName&$count=true", true, ""},
		{directoryObjectsList, "$orderby=displayName&$count=true", true, ""},

		{usersList, "$count=maybe", true, "error: BadRequest: Invalid $count value"},
	} {
		q, err := url.ParseQuery(strings.ReplaceAll(tc.query, "+", "%2B"))
		if err != nil {
			t.Fatal(err)
		}
		objs := testUsers()
		if tc.col.set != "users" {
			objs = nil
		}
		_, out, qerr := query(q, tc.eventual, tc.col, objs)
		got := ids(out)
		if qerr != nil {
			got = "error: " + qerr.code + ": " + qerr.message
		}
		ok := got == tc.want
		if parts := strings.SplitN(tc.want, ": ", 3); len(parts) == 3 && parts[0] == "error" {
			ok = strings.HasPrefix(got, "error: "+parts[1]+": ") && strings.Contains(got, parts[2])
		}
		if !ok {
			t.Errorf("%s %s (eventual %v): got %q, want %q", tc.col.set, tc.query, tc.eventual, got, tc.want)
		}
	}
}

func TestSearchTokens(t *testing.T) {
	for in, want := range map[string][]string{
		"hello world":     {"hello", "world"},
		"HelloWorld":      {"hello", "world"},
		"HELLOworld":      {"helloworld"},
		"hello.world":     {"hello", "world", "helloworld"},
		"hello123world":   {"hello", "123", "world"},
		"李四(David Li)":    {"李四", "david", "李四david", "li"},
		"  ":              nil,
		"Bob-Builder ops": {"bob", "builder", "bobbuilder", "ops"},
	} {
		if got := searchTokens(in); !reflect.DeepEqual(got, want) {
			t.Errorf("searchTokens(%q) = %q, want %q", in, got, want)
		}
	}
}

// Paging a list ordered by a property that is not the key: every object once, in order, ties
// broken by id; @odata.count on the first page only; the /$count segment as text/plain, and
// refused without the header.
func TestWriteListOrderedPagesAndCounts(t *testing.T) {
	var items []map[string]any
	for i := range 7 {
		items = append(items, map[string]any{"@odata.type": "#microsoft.graph.user", "id": fmt.Sprintf("id%d", 6-i), "displayName": fmt.Sprintf("n%d", i%3)})
	}
	s := &Server{}
	get := func(target string, header bool, count bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Host = "graph.microsoft.com"
		if header {
			r.Header.Set("ConsistencyLevel", "eventual")
		}
		if count {
			r = r.WithContext(context.WithValue(r.Context(), countSegmentKey{}, true))
		}
		w := httptest.NewRecorder()
		s.writeList(w, r, "users", items)
		return w
	}
	target := "/v1.0/users?$orderby=displayName%20desc&$top=3&$count=true"
	var got []string
	for pages := 0; target != ""; pages++ {
		w := get(target, true, false)
		var body struct {
			Value    []map[string]any
			Count    *int   `json:"@odata.count"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 200 {
			t.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
		if (body.Count != nil) != (pages == 0) || body.Count != nil && *body.Count != 7 {
			t.Errorf("page %d: @odata.count %v", pages, body.Count)
		}
		for _, v := range body.Value {
			got = append(got, fmt.Sprint(v["displayName"], "/", v["id"]))
		}
		target = ""
		if body.NextLink != "" {
			u, _ := url.Parse(body.NextLink)
			target = u.RequestURI()
		}
	}
	want := "n2/id1,n2/id4,n1/id2,n1/id5,n0/id0,n0/id3,n0/id6"
	if strings.Join(got, ",") != want {
		t.Errorf("pages gave %v, want %v", got, want)
	}

	w := get("/v1.0/users?$filter=displayName%20eq%20'n1'", true, true)
	if w.Code != 200 || w.Body.String() != "2" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("/$count: %d %q %s", w.Code, w.Body, w.Header().Get("Content-Type"))
	}
	w = get("/v1.0/users", false, true)
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"Request_BadRequest"`) || !strings.Contains(w.Body.String(), msgCountSegment) {
		t.Errorf("/$count without the header: %d %s", w.Code, w.Body)
	}
}

func TestWithCountSegment(t *testing.T) {
	for path, counted := range map[string]bool{
		"users/$count": true, "groups/$count": true, "applications/$count": true, "servicePrincipals/$count": true,
		"groups/g1/members/$count": true, "groups/g1/transitiveMembers/$count": true, "users/u1/memberOf/$count": true,
		"me/transitiveMemberOf/$count": true, "users/u1/$count": false, "auditLogs/signIns/$count": false, "$count": false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1.0/"+path, nil)
		r2, seg := withCountSegment(r, strings.Split(path, "/"))
		if isCountSegment(r2) != counted || counted && strings.Join(seg, "/")+"/$count" != path || !counted && strings.Join(seg, "/") != path {
			t.Errorf("%s: counted %v, segments %v", path, isCountSegment(r2), seg)
		}
	}
}

// FuzzListQuery: any $filter, $search and $orderby on a list either selects a subset of it or is
// refused with Graph's error; never a panic.
func FuzzListQuery(f *testing.F) {
	f.Add("accountEnabled ne true", `"displayName:dev"`, "displayName desc", true)
	f.Add("not(startswith(displayName,'a'))", `"displayName:a" OR ("userPrincipalName:b")`, "createdDateTime", true)
	f.Add("businessPhones/$count eq 0", "", "", false)
	f.Fuzz(func(t *testing.T, filter, search, orderBy string, advanced bool) {
		q := url.Values{"$filter": {filter}, "$search": {search}, "$orderby": {orderBy}}
		if advanced {
			q.Set("$count", "true")
		}
		objs := testUsers()
		_, out, qerr := query(q, advanced, usersList, objs)
		if qerr != nil {
			if qerr.message == "" || qerr.code == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(out) > len(objs) {
			t.Fatalf("%d objects out of %d", len(out), len(objs))
		}
	})
}

// applications and servicePrincipals page at Graph's 100 without $top, as users and groups do
// (they were one page before the store paged them; mint's CLI follows the nextLink).
func TestPrincipalListsPageAtGraphsDefault(t *testing.T) {
	var items []map[string]any
	for i := range 150 {
		items = append(items, map[string]any{"id": fmt.Sprintf("sp%03d", i), "displayName": "x"})
	}
	for target, wantLen := range map[string]int{"/v1.0/servicePrincipals": 100, "/v1.0/servicePrincipals?$top=150": 150} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		w := httptest.NewRecorder()
		(&Server{}).writeList(w, r, "servicePrincipals", items)
		var body struct {
			Value    []any
			NextLink string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Value) != wantLen || (body.NextLink != "") != (wantLen < 150) {
			t.Errorf("%s: %d objects, nextLink %q, %v", target, len(body.Value), body.NextLink, err)
		}
	}
}

// BenchmarkListQuery: the cost of each option over 100,000 objects as Graph serialises them.
func BenchmarkListQuery(b *testing.B) {
	objs := make([]map[string]any, 100_000)
	for i := range objs {
		objs[i] = map[string]any{"id": fmt.Sprintf("%08d-0000", i), "displayName": fmt.Sprintf("id-%06d WebApp", (i*7919)%100_000),
			"appId": fmt.Sprintf("a%07d", i), "servicePrincipalNames": []string{fmt.Sprintf("a%07d", i)}, "createdDateTime": time.Unix(int64(i), 0)}
	}
	for name, q := range map[string]url.Values{
		"none":       {},
		"filter":     {"$filter": {"startswith(displayName,'id-0001')"}},
		"search":     {"$search": {`"displayName:id 0001"`}},
		"orderby":    {"$orderby": {"displayName"}, "$count": {"true"}},
		"ne+orderby": {"$filter": {"appId ne 'x'"}, "$orderby": {"createdDateTime desc"}, "$count": {"true"}},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, _, qerr := query(q, true, servicePrincipalsList, objs); qerr != nil {
					b.Fatal(qerr)
				}
			}
		})
	}
}
