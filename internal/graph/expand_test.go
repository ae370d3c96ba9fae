package graph

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/directory"
)

// $expand is refused in Graph's envelope, not ignored: a list without the related objects reads
// as "there are none".
func TestExpandIsRefused(t *testing.T) {
	_, _, _, call := graphEnv(t)
	for _, path := range []string{"/v1.0/groups?$expand=members", "/v1.0/groups?$expand=members($expand=memberOf)",
		"/v1.0/servicePrincipals?$expand=zzz", "/v1.0/applications?$top=1&$expand="} {
		w := call("GET", path, "")
		var env struct {
			Error struct{ Code, Message string }
		}
		if w.Code != 400 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Error.Code != "Request_UnsupportedQuery" {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	if w := call("GET", "/v1.0/groups?$top=1", ""); w.Code != 200 {
		t.Errorf("without $expand: %d %s", w.Code, w.Body)
	}
}

// PATCH /applications/{id} changes only what mint updates; any other property is Graph's 400
// naming it, not a 204 that changed nothing (az ad app update --app-roles, --optional-claims,
// --required-resource-accesses, --enable-id-token-issuance).
func TestApplicationPatchRefusesWhatItWouldIgnore(t *testing.T) {
	_, _, _, call := graphEnv(t)
	w := call("POST", "/v1.0/applications", `{"displayName":"patched"}`)
	var app struct{ ID string }
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &app) != nil {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	path := "/v1.0/applications/" + app.ID
	for body, prop := range map[string]string{
		`{"appRoles":[{"id":"11111111-1111-1111-1111-111111111111","value":"v","allowedMemberTypes":["Application"],"displayName":"d","isEnabled":true}]}`: "appRoles",
		`{"optionalClaims":{"idToken":[]}}`: "optionalClaims",
		`{"requiredResourceAccess":[]}`:     "requiredResourceAccess",
		`{"displayName":"x","web":{"redirectUris":["https://a.example/cb"],"implicitGrantSettings":{"enableIdTokenIssuance":true}}}`: "web.implicitGrantSettings",
	} {
		w := call("PATCH", path, body)
		var env struct {
			Error struct{ Code, Message string }
		}
		if w.Code != 400 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Error.Code != "Request_BadRequest" ||
			!strings.Contains(env.Error.Message, "'"+prop+"'") {
			t.Errorf("%s: %d %s", body, w.Code, w.Body)
		}
	}
	if w := call("GET", path, ""); !strings.Contains(w.Body.String(), `"displayName":"patched"`) {
		t.Errorf("a refused update changed the application: %s", w.Body)
	}
	for _, body := range []string{`{"@odata.type":"#microsoft.graph.application","displayName":"renamed"}`,
		`{"web":{"redirectUris":["https://a.example/cb"]},"spa":null,"signInAudience":"AzureADMyOrg"}`} {
		if w := call("PATCH", path, body); w.Code != 204 {
			t.Errorf("%s: %d %s", body, w.Code, w.Body)
		}
	}
}

// As for applications, PATCH of a user or a group refuses what it would ignore.
func TestPeoplePatchRefusesWhatItWouldIgnore(t *testing.T) {
	e := newTestEnv(t)
	call := e.caller(map[string]any{"oid": e.in.Admin.ObjectID, "sub": e.in.Admin.ObjectID, "appid": e.in.Admin.AppID,
		"roles": []string{directory.RoleDirectoryReadWriteAll, directory.RoleUserReadWriteAll, directory.RoleGroupReadWriteAll}})
	w := call("POST", "/v1.0/groups", `{"displayName":"g","mailEnabled":false,"securityEnabled":true,"mailNickname":"g"}`)
	var g struct{ ID string }
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &g) != nil {
		t.Fatalf("group: %d %s", w.Code, w.Body)
	}
	w = call("POST", "/v1.0/users", `{"accountEnabled":true,"displayName":"u","mailNickname":"u","userPrincipalName":"u@`+"mint.localhost"+`","passwordProfile":{"password":"Aa1!aaaaaaaa"}}`)
	var u struct{ ID string }
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &u) != nil {
		t.Fatalf("user: %d %s", w.Code, w.Body)
	}
	cases := map[string]string{
		"/v1.0/groups/" + g.ID + `|{"visibility":"Private"}`:                                                                   "visibility",
		"/v1.0/users/" + u.ID + `|{"jobTitle":"x"}`:                                                                            "jobTitle",
		"/v1.0/users/" + u.ID + `|{"passwordProfile":{"password":"Aa1!bbbbbbbb","forceChangePasswordNextSignInWithMfa":true}}`: "passwordProfile.forceChangePasswordNextSignInWithMfa",
	}
	for pb, prop := range cases {
		path, body, _ := strings.Cut(pb, "|")
		w := call("PATCH", path, body)
		if w.Code != 400 || !strings.Contains(w.Body.String(), "'"+prop+"'") {
			t.Errorf("%s %s: %d %s", path, body, w.Code, w.Body)
		}
	}
	if w := call("PATCH", "/v1.0/groups/"+g.ID, `{"description":"d"}`); w.Code != 204 {
		t.Errorf("group description: %d %s", w.Code, w.Body)
	}
}

// FuzzDecodeOnly: any PATCH body is accepted with only patchable properties in it, or refused
// with a 4xx in Graph's envelope; never a panic.
func FuzzDecodeOnly(f *testing.F) {
	for _, s := range []string{`{"displayName":"x"}`, `{"web":{"redirectUris":[]},"@odata.type":"x"}`, `{"web":{"implicitGrantSettings":{}}}`,
		`{"appRoles":[]}`, `{"spa":null}`, `[]`, `null`, `{"web":5}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v struct {
			DisplayName *string `json:"displayName"`
			redirectURIsIn
		}
		w := httptest.NewRecorder()
		r := httptest.NewRequest("PATCH", "/v1.0/applications/x", strings.NewReader(body))
		if decodeOnly(w, r, &v, "application", applicationPatchable) {
			var top map[string]json.RawMessage
			if err := json.Unmarshal([]byte(body), &top); err != nil {
				t.Fatalf("accepted %q, which is no JSON object", body)
			}
			for k := range top {
				if _, ok := applicationPatchable[k]; !ok && !strings.HasPrefix(k, "@odata.") {
					t.Fatalf("accepted %q with %q", body, k)
				}
			}
			return
		}
		var env struct {
			Error struct{ Code, Message string }
		}
		if w.Code/100 != 4 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Error.Code == "" {
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
	})
}

// A system query option given twice is OData's 400, as Graph answers, not the first one read and
// both echoed in the nextLink; once is still served.
func TestRepeatedQueryOptionIsRefused(t *testing.T) {
	_, _, _, call := graphEnv(t)
	for _, path := range []string{"/v1.0/groups?$top=1&$top=3", "/v1.0/applications?$filter=displayName%20eq%20'a'&%24filter=displayName%20eq%20'b'",
		"/v1.0/servicePrincipals?$select=id&$select=appId"} {
		w := call("GET", path, "")
		if w.Code != 400 || !strings.Contains(w.Body.String(), "specified more than once") {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	if w := call("GET", "/v1.0/groups?$top=1&x=1&x=2", ""); w.Code != 200 {
		t.Errorf("one $top: %d %s", w.Code, w.Body)
	}
}
