package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/odata"
	"github.com/mint-id/mint/internal/store"
)

// seedPrincipals adds applications and managed identities with names the filters below pick
// apart, two of them created in the same microsecond (ties go by object id).
func seedPrincipals(t *testing.T, e *testEnv) {
	t.Helper()
	at := time.Now().UTC().Truncate(time.Microsecond)
	for i, p := range []struct {
		name string
		kind store.PrincipalKind
		uris []string
	}{
		{"Web App", store.KindApplication, []string{"api://web", "https://Web.Example"}},
		{"webber", store.KindApplication, nil},
		{"web-identity", store.KindManagedIdentity, nil},
		{"Worker", store.KindManagedIdentity, nil},
		{"Wébhook", store.KindApplication, nil},
		{"O'Brien's app", store.KindApplication, nil},
		{"orders", store.KindManagedIdentity, nil},
	} {
		sp := store.ServicePrincipal{ObjectID: uuid.NewString(), AppID: uuid.NewString(), TenantID: e.in.Tenant.ID, Kind: p.kind,
			DisplayName: p.name, IdentifierURIs: p.uris, CreatedAt: at.Add(time.Duration(i/2) * time.Second)}
		if err := e.st.CreatePrincipal(context.Background(), sp, nil); err != nil {
			t.Fatal(err)
		}
		u := store.User{ObjectID: uuid.NewString(), TenantID: e.in.Tenant.ID, UserPrincipalName: fmt.Sprintf("person%d@Example.com", i),
			DisplayName: p.name, MailNickname: fmt.Sprintf("person%d", i), AccountEnabled: true, CreatedAt: sp.CreatedAt, TokensValidAfter: sp.CreatedAt}
		if err := e.st.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		g := store.Group{ObjectID: uuid.NewString(), TenantID: e.in.Tenant.ID, DisplayName: p.name, MailNickname: fmt.Sprintf("g%d", i),
			SecurityEnabled: true, CreatedAt: sp.CreatedAt}
		if err := e.st.CreateGroup(context.Background(), g); err != nil {
			t.Fatal(err)
		}
	}
}

// inMemory is the answer of the in-memory path (writeList over the whole collection) to target.
func inMemory(t *testing.T, e *testEnv, col collection, target string) *httptest.ResponseRecorder {
	t.Helper()
	ctx := context.Background()
	var objs []map[string]any
	switch col.set {
	case usersList.set:
		users, err := e.st.ListUsers(ctx, e.in.Tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			objs = append(objs, userJSON(u))
		}
	case groupsList.set:
		groups, err := e.st.ListGroups(ctx, e.in.Tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			objs = append(objs, groupJSON(g))
		}
	}
	request := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		if r.URL.Query().Has("$search") {
			r.Header.Set("ConsistencyLevel", "eventual")
		}
		return r
	}
	if objs != nil {
		w := httptest.NewRecorder()
		e.srv.writeList(w, request(), col.set, objs)
		return w
	}
	kind := store.PrincipalKind("")
	if col.set == applicationsList.set {
		kind = store.KindApplication
	}
	sps, err := e.st.ListPrincipals(ctx, e.in.Tenant.ID, kind)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range sps {
		switch {
		case kind == "":
			objs = append(objs, servicePrincipalJSON(sp))
		case !sp.Builtin:
			creds, err := e.st.ListCredentials(ctx, sp.ObjectID)
			if err != nil {
				t.Fatal(err)
			}
			objs = append(objs, applicationJSON(sp, creds))
		}
	}
	w := httptest.NewRecorder()
	e.srv.writeList(w, request(), col.set, objs)
	return w
}

type listBody struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

// The list shapes the store answers give what the in-memory path gives over the same
// directory: byte for byte in one page, and the same objects in the same order page by page,
// through nextLinks whose $skiptoken is a store cursor.
func TestPushedDownListsAnswerAsInMemory(t *testing.T) {
	e := newTestEnv(t)
	seedPrincipals(t, e)
	call := e.caller(map[string]any{"oid": e.in.Admin.ObjectID, "sub": e.in.Admin.ObjectID, "appid": e.in.Admin.AppID,
		"roles": []string{directory.RoleDirectoryReadAll}})
	sps, err := e.st.ListPrincipals(context.Background(), e.in.Tenant.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	anApp := sps[len(sps)-1].AppID
	users, err := e.st.ListUsers(context.Background(), e.in.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	aUser := users[2].ObjectID
	for _, tc := range []struct {
		col      collection
		filter   string
		want     int    // objects expected, to know the filter selects what it should
		search   string // $search, when not ""
		inMemory bool   // answered by the in-memory path
	}{
		{servicePrincipalsList, "", len(sps), "", false},
		{servicePrincipalsList, "appId eq '" + strings.ToUpper(anApp) + "'", 1, "", false},
		{servicePrincipalsList, "servicePrincipalNames/any(c:c eq '" + anApp + "')", 1, "", false},
		{servicePrincipalsList, "servicePrincipalNames/any(c:c eq 'HTTPS://web.example')", 1, "", false},
		{servicePrincipalsList, "servicePrincipalNames/any(c:c eq 'api://web') and startswith(displayName,'web')", 1, "", false},
		{servicePrincipalsList, "startswith(displayName,'WEB')", 3, "", false},
		{servicePrincipalsList, "startswith(displayName,'w')", 7, "", false}, // with first-party ones (Windows Azure ...)
		{servicePrincipalsList, "displayName eq 'web app'", 1, "", false},
		{servicePrincipalsList, "displayName eq 'O''Brien''s app'", 1, "", false},
		{servicePrincipalsList, "startswith(displayName,'Wé')", 1, "", true}, // not ASCII
		{servicePrincipalsList, "appId eq 'nope'", 0, "", false},
		{applicationsList, "", 5, "", false}, // with mint's admin application
		{applicationsList, "startswith(displayName,'we')", 2, "", false},
		{applicationsList, "identifierUris/any(s:s eq 'API://WEB')", 1, "", false},
		{applicationsList, "appId eq '" + anApp + "'", 0, "", false}, // a managed identity is no application
		{usersList, "", 7, "", false},
		{usersList, "userPrincipalName eq 'PERSON3@example.com'", 1, "", false},
		{usersList, "startswith(displayName,'web') and userPrincipalName eq 'person1@example.com'", 1, "", false},
		{usersList, "displayName eq 'worker'", 1, "", false},
		{groupsList, "", 7, "", false},
		{groupsList, "startswith(displayName,'w')", 5, "", false},
		{groupsList, "displayName eq 'O''Brien''s app'", 1, "", false},
		{groupsList, "displayName eq 'orders' and mailNickname eq 'g6'", 1, "", false},
		{groupsList, "mailNickname eq 'G3'", 1, "", false}, // az ad group create's check
		{usersList, "mailNickname eq 'person4'", 1, "", false},
		{usersList, "mailNickname eq 'person'", 0, "", false},
		// $search (ConsistencyLevel: eventual): the portal's member picker, and other shapes.
		{servicePrincipalsList, "", 3, `"displayName:web"`, false},
		{servicePrincipalsList, "", 1, `"displayName:or" OR "appId:or" OR "id:or"`, false},
		{servicePrincipalsList, "", 1, `"displayName:` + anApp[:6] + `" OR "appId:` + strings.ToUpper(anApp[:6]) + `" OR "id:` + anApp[:6] + `"`, false},
		{servicePrincipalsList, "", 1, `"displayName:web id"`, false},
		{servicePrincipalsList, "", 1, `"displayName:obrien"`, false},
		{servicePrincipalsList, "", 1, `"displayName:web" AND "displayName:i"`, false},
		{servicePrincipalsList, "startswith(displayName,'web')", 1, `"displayName:web" AND "displayName:i"`, false},
		{servicePrincipalsList, "", 1, `"displayName:wé"`, true},
		{applicationsList, "", 2, `"displayName:app" OR "appId:zz"`, false},
		{usersList, "", 3, `"displayName:web" OR "userPrincipalName:x" OR "id:x"`, false},
		{usersList, "", 2, `"displayName:worker" OR "userPrincipalName:PERSON6"`, false},
		{usersList, "", 1, `"mailNickname:person5"`, false},
		{usersList, "", 1, `"id:` + aUser[:8] + `"`, false},
		{usersList, "", 0, `"displayName:eb"`, false}, // inside a word: no match, as Graph
		{groupsList, "", 1, `"displayName:app" AND "mailNickname:g0"`, false},
		{groupsList, "", 5, `"displayName:web" OR "displayName:o"`, false},
		{groupsList, "", 1, `"description:x" OR "displayName:orders"`, true}, // description: in memory
	} {
		q := url.Values{}
		if tc.filter != "" {
			q.Set("$filter", tc.filter)
		}
		if tc.search != "" {
			q.Set("$search", tc.search)
		}
		one := "/v1.0/" + tc.col.set + "?" + q.Encode()
		got, want := call("GET", one, ""), inMemory(t, e, tc.col, one)
		if got.Code != 200 || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Errorf("%s: %d\n%s\nin memory %d\n%s", one, got.Code, got.Body, want.Code, want.Body)
			continue
		}
		var whole listBody
		json.Unmarshal(want.Body.Bytes(), &whole)
		if len(whole.Value) != tc.want {
			t.Errorf("%s: %d objects, want %d", one, len(whole.Value), tc.want)
		}
		// Page by page, two at a time.
		q.Set("$top", "2")
		target := "/v1.0/" + tc.col.set + "?" + q.Encode()
		var paged []json.RawMessage
		for pages := 0; target != ""; pages++ {
			if pages > 10 {
				t.Fatalf("%s: more pages than objects", one)
			}
			w := call("GET", target, "")
			var page listBody
			if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &page) != nil {
				t.Fatalf("%s: %d %s", target, w.Code, w.Body)
			}
			paged = append(paged, page.Value...)
			target = ""
			if page.NextLink != "" {
				u, _ := url.Parse(page.NextLink)
				token := u.Query().Get("$skiptoken")
				if _, _, err := store.ParseObjectCursor(token); (err != nil) != tc.inMemory {
					t.Errorf("%s: $skiptoken %q: a store cursor is %v, want %v", one, token, err == nil, !tc.inMemory)
				}
				target = u.RequestURI()
			}
		}
		if fmt.Sprint(paged) != fmt.Sprint(whole.Value) {
			t.Errorf("%s: pages of 2 gave %d objects, in memory %d (or in another order)", one, len(paged), len(whole.Value))
		}
	}
}

// A page's $skiptoken is a position: deleting a principal already listed and creating one
// moves nothing, and the new one comes last. A token the store did not make, or one from the
// other path, is Graph's 400.
func TestPushedDownPagesAreKeyset(t *testing.T) {
	e := newTestEnv(t)
	seedPrincipals(t, e)
	call := e.caller(map[string]any{"oid": e.in.Admin.ObjectID, "sub": e.in.Admin.ObjectID, "appid": e.in.Admin.AppID,
		"roles": []string{directory.RoleDirectoryReadAll}})
	ids := func(w *httptest.ResponseRecorder) (out []string, next string) {
		var body struct {
			Value []struct {
				ID          string `json:"id"`
				DisplayName string `json:"displayName"`
			} `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &body) != nil {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		for _, v := range body.Value {
			out = append(out, v.ID)
		}
		if body.NextLink != "" {
			u, _ := url.Parse(body.NextLink)
			next = u.RequestURI()
		}
		return out, next
	}
	all, _ := ids(call("GET", "/v1.0/servicePrincipals?$top=999", ""))
	first, next := ids(call("GET", "/v1.0/servicePrincipals?$top=3", ""))
	if err := e.st.DeletePrincipal(context.Background(), first[1]); err != nil {
		t.Fatal(err)
	}
	late := store.ServicePrincipal{ObjectID: uuid.NewString(), AppID: uuid.NewString(), TenantID: e.in.Tenant.ID,
		Kind: store.KindManagedIdentity, DisplayName: "late", CreatedAt: time.Now().Add(time.Hour)}
	if err := e.st.CreatePrincipal(context.Background(), late, nil); err != nil {
		t.Fatal(err)
	}
	got := first
	for next != "" {
		var page []string
		page, next = ids(call("GET", next, ""))
		got = append(got, page...)
	}
	if want := append(append([]string{}, all...), late.ObjectID); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("pages after a delete and a create:\n%v\nwant\n%v", got, want)
	}

	for _, target := range []string{
		"/v1.0/servicePrincipals?$skiptoken=nope",
		"/v1.0/servicePrincipals?$skiptoken=" + odata.SkipToken(2), // the in-memory path's
		"/v1.0/applications?$skiptoken=" + store.PrincipalCursor(late) + "%21",
		// the store's, to the in-memory path
		"/v1.0/servicePrincipals?$filter=servicePrincipalType%20eq%20'ManagedIdentity'&$skiptoken=" + store.PrincipalCursor(late),
	} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		w := call("GET", r.URL.RequestURI(), "")
		var env struct {
			Error struct{ Code, Message string }
		}
		if w.Code != 400 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Error.Code != "Request_UnsupportedQuery" {
			t.Errorf("%s: %d %s", target, w.Code, w.Body)
		}
	}
}

// pushdown takes only what the store answers exactly; everything else stays in memory.
func TestPushdownTakesOnlyWhatTheStoreAnswers(t *testing.T) {
	for _, tc := range []struct {
		col    collection
		query  string
		pushed bool
	}{
		{servicePrincipalsList, "", true},
		{servicePrincipalsList, "$top=5&$select=id", true},
		{servicePrincipalsList, "$filter=appId eq 'a' and startswith(displayName,'x')", true},
		{servicePrincipalsList, "$filter=servicePrincipalNames/any(c:c eq 'a')", true},
		{servicePrincipalsList, "$filter=identifierUris/any(c:c eq 'a')", false}, // not a property of theirs
		{applicationsList, "$filter=identifierUris/any(s:s eq 'a')", true},
		{usersList, "$filter=userPrincipalName eq 'a@b'", true},
		{groupsList, "$filter=userPrincipalName eq 'a@b'", false},
		{servicePrincipalsList, "$filter=appId eq ''", false},
		{servicePrincipalsList, "$filter=appId eq 'a' and appId eq 'b'", false},
		{servicePrincipalsList, "$filter=displayName eq 'Wé'", false},
		{servicePrincipalsList, "$filter=startswith(displayName,'a%7F')", false},
		{servicePrincipalsList, "$filter=servicePrincipalType eq 'Application'", false},
		{servicePrincipalsList, "$filter=accountEnabled eq true", false},
		{servicePrincipalsList, "$filter=not(appId eq 'a')&$count=true", false},
		{usersList, "$orderby=displayName", false},
		{usersList, "$search=\"displayName:a\"", true},
		{usersList, "$search=\"displayName:a\" OR \"userPrincipalName:a\" OR \"id:a\" OR \"mailNickname:a\"", true},
		{groupsList, "$search=\"displayName:a\" AND \"mailNickname:a\"", true},
		{servicePrincipalsList, "$search=\"displayName:a\" OR \"appId:a\" OR \"id:a\"", true},
		{applicationsList, "$search=\"appId:a\"", true},
		{groupsList, "$search=\"userPrincipalName:a\"", false},       // not a property of theirs
		{servicePrincipalsList, "$search=\"mailNickname:a\"", false}, // idem
		{usersList, "$search=\"displayName:Wé\"", false},
		{usersList, "$search=\"displayName:...\"", false}, // no word
		{usersList, "$search=\"displayName:" + strings.Repeat("a", 129) + "\"", false},
		{groupsList, "$search=\"description:a\" OR \"displayName:a\"", false},
		{usersList, "$search=\"displayName:a\"&$count=true", false},
		{usersList, "$search=\"displayName:a\"&$orderby=displayName", false},
		{groupsList, "$filter=mailNickname eq 'a'", true},
		{usersList, "$filter=mailNickname eq 'a'", true},
		{servicePrincipalsList, "$filter=mailNickname eq 'a'", false},
		{groupsList, "$filter=mailNickname eq 'ſ'", false},
		{usersList, "$count=true", true}, // ignored without ConsistencyLevel, as Graph ignores it
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1.0/"+tc.col.set+"?"+strings.ReplaceAll(tc.query, " ", "%20"), nil)
		lq, qerr := parseListQuery(r.URL.Query(), false, tc.col)
		if qerr != nil {
			lq, qerr = parseListQuery(r.URL.Query(), true, tc.col)
			r.Header.Set("ConsistencyLevel", "eventual")
		}
		if qerr != nil {
			t.Fatalf("%s %s: %v", tc.col.set, tc.query, qerr)
		}
		if _, got := pushdown(r, lq, tc.col); got != tc.pushed {
			t.Errorf("%s %s: pushed %v, want %v", tc.col.set, tc.query, got, tc.pushed)
		}
	}
}
