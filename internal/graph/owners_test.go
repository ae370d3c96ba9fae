package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/directory"
)

// Owners, as in Entra: a member who registers an application owns it and may change it; another
// member may not (403 Authorization_RequestDenied) until an owner adds them; the directory's
// administrator and an application with Application.ReadWrite.All may always.
func TestApplicationOwners(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	tenant := e.in.Tenant.ID
	person := func(name string) (string, func(method, path, body string) *httptest.ResponseRecorder) {
		u, err := e.dir.CreateUser(ctx, tenant, directory.UserSpec{UserPrincipalName: name + "@" + e.in.Tenant.DefaultDomain,
			DisplayName: name, MailNickname: name, AccountEnabled: true, Password: "Passw0rd-" + name})
		if err != nil {
			t.Fatal(err)
		}
		return u.ObjectID, e.caller(map[string]any{"oid": u.ObjectID, "sub": u.ObjectID, "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
			"scp": "Application.ReadWrite.All Directory.AccessAsUser.All", "idtyp": "user"})
	}
	adaID, ada := person("ada")
	bobID, bob := person("bob")
	admin := e.caller(map[string]any{"oid": e.in.Admin.ObjectID, "sub": e.in.Admin.ObjectID, "appid": e.in.Admin.AppID,
		"roles": []string{directory.RoleApplicationReadWriteAll}})
	dev, err := e.dir.EnsureDeveloper(ctx, e.in, nil)
	if err != nil {
		t.Fatal(err)
	}
	devCall := e.caller(map[string]any{"oid": dev.User.ObjectID, "sub": dev.User.ObjectID, "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "idtyp": "user"})
	want := func(w *httptest.ResponseRecorder, status int, what string, contains ...string) {
		t.Helper()
		if w.Code != status {
			t.Errorf("%s: %d %s, want %d", what, w.Code, w.Body, status)
			return
		}
		for _, c := range contains {
			if !strings.Contains(w.Body.String(), c) {
				t.Errorf("%s: %s, want %q in it", what, w.Body, c)
			}
		}
	}
	ownerIDs := func(path string) []string {
		t.Helper()
		w := bob("GET", path, "")
		var out struct{ Value []struct{ ID string } }
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		var ids []string
		for _, v := range out.Value {
			ids = append(ids, v.ID)
		}
		return ids
	}
	ref := func(id string) string {
		return `{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/` + id + `"}`
	}
	denied := []string{`"code":"Authorization_RequestDenied"`, `"message":"Insufficient privileges to complete the operation."`}

	// Ada registers an application and owns it, and so its service principal.
	w := ada("POST", "/v1.0/applications", `{"displayName":"ada-tool"}`)
	want(w, http.StatusCreated, "a member registers an application")
	var app struct{ ID, AppID string }
	json.Unmarshal(w.Body.Bytes(), &app)
	appPath := "/v1.0/applications/" + app.ID
	if got := ownerIDs(appPath + "/owners"); len(got) != 1 || got[0] != adaID {
		t.Fatalf("owners of the new application: %v, want [%s]", got, adaID)
	}
	if got := ownerIDs("/v1.0/servicePrincipals/" + app.ID + "/owners"); len(got) != 1 || got[0] != adaID {
		t.Errorf("owners of its service principal: %v, want [%s]", got, adaID)
	}
	want(ada("GET", "/v1.0/me/ownedObjects", ""), http.StatusOK, "ada's owned objects",
		`"@odata.type":"#microsoft.graph.application"`, `"@odata.type":"#microsoft.graph.servicePrincipal"`, app.AppID)
	want(bob("GET", "/v1.0/me/ownedObjects", ""), http.StatusOK, "bob owns nothing", `"value":[]`)
	want(ada("POST", appPath+"/addPassword", `{"passwordCredential":{"displayName":"ci"}}`), http.StatusOK, "the owner adds a secret", `"secretText":"`)
	want(ada("PATCH", "/v1.0/applications(appId='"+app.AppID+"')", `{"displayName":"ada-tool-2"}`), http.StatusNoContent, "the owner renames it")

	// Its service principal, as az ad sp create asks for it: mint made it with the application.
	want(ada("POST", "/v1.0/servicePrincipals", `{"appId":"`+app.AppID+`","accountEnabled":true}`), http.StatusCreated,
		"the owner creates the service principal", `"id":"`+app.ID+`"`, `"servicePrincipalType":"Application"`)
	want(ada("POST", "/v1.0/servicePrincipals", `{"appId":"00000000-0000-0000-0000-000000000009"}`), http.StatusBadRequest,
		"a service principal for an unknown appId", "does not reference a valid application object")
	want(ada("POST", "/v1.0/servicePrincipals", `{"appId":"`+directory.GraphAppID+`"}`), http.StatusBadRequest,
		"a service principal for a first-party application", "does not reference a valid application object")
	want(ada("POST", "/v1.0/servicePrincipals", `{}`), http.StatusBadRequest, "a service principal without appId", "appId is required")

	// Bob, another member, may read it but not change it.
	want(bob("GET", appPath, ""), http.StatusOK, "another member reads it")
	want(bob("POST", "/v1.0/servicePrincipals", `{"appId":"`+app.AppID+`"}`), http.StatusForbidden, "another member creates its service principal", denied...)
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", appPath, `{"displayName":"bob-was-here"}`},
		{"POST", appPath + "/addPassword", `{}`},
		{"POST", appPath + "/removePassword", `{"keyId":"00000000-0000-0000-0000-000000000000"}`},
		{"POST", appPath + "/federatedIdentityCredentials", `{"name":"x","issuer":"https://token.actions.githubusercontent.com","subject":"repo:a/b:ref:refs/heads/main","audiences":["api://AzureADTokenExchange"]}`},
		{"POST", appPath + "/owners/$ref", ref(bobID)},
		{"DELETE", appPath + "/owners/" + adaID + "/$ref", ""},
		{"POST", "/v1.0/servicePrincipals/" + app.ID + "/owners/$ref", ref(bobID)},
		{"DELETE", appPath, ""},
	} {
		want(bob(c.method, c.path, c.body), http.StatusForbidden, "another member: "+c.method+" "+c.path, denied...)
	}

	// Ada adds Bob as an owner: now he may change it.
	want(ada("POST", appPath+"/owners/$ref", ref(bobID)), http.StatusNoContent, "the owner adds another owner")
	want(ada("POST", appPath+"/owners/$ref", ref(strings.ToUpper(bobID))), http.StatusBadRequest, "adding an owner twice",
		"One or more added object references already exist for the following modified properties: 'owners'.")
	want(bob("PATCH", appPath, `{"displayName":"bob-was-here"}`), http.StatusNoContent, "the new owner renames it")
	if got := ownerIDs(appPath + "/owners"); len(got) != 2 || got[0] != adaID || got[1] != bobID {
		t.Errorf("owners: %v, want [%s %s]", got, adaID, bobID)
	}

	// Bad references.
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{ref("00000000-0000-0000-0000-000000000001"), http.StatusNotFound, "Request_ResourceNotFound"},
		{ref("not-a-guid"), http.StatusNotFound, "Request_ResourceNotFound"},
		{ref(e.in.Admin.ObjectID + "/x"), http.StatusBadRequest, "Request_BadRequest"},
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/applications/` + app.ID + `"}`, http.StatusBadRequest, "Request_BadRequest"},
		{`{"@odata.id":42}`, http.StatusBadRequest, "Request_BadRequest"},
		{`{}`, http.StatusBadRequest, "Request_BadRequest"},
		{`[]`, http.StatusBadRequest, "Request_BadRequest"},
		{`{"@odata.id":`, http.StatusBadRequest, "BadRequest"},
		{``, http.StatusBadRequest, "BadRequest"},
	} {
		want(ada("POST", appPath+"/owners/$ref", c.body), c.status, "owner reference "+c.body, `"code":"`+c.code+`"`)
	}
	g, err := e.dir.CreateGroup(ctx, tenant, directory.GroupSpec{DisplayName: "g", MailNickname: "g"})
	if err != nil {
		t.Fatal(err)
	}
	want(ada("POST", appPath+"/owners/$ref", ref(g.ObjectID)), http.StatusBadRequest, "a group as an owner", "users and service principals")
	// A service principal may own an application.
	want(admin("POST", appPath+"/owners/$ref", ref(e.in.Admin.ObjectID)), http.StatusNoContent, "the admin application adds itself as an owner")
	want(ada("DELETE", appPath+"/owners/"+e.in.Admin.ObjectID+"/$ref", ""), http.StatusNoContent, "an owner removes a service principal owner")
	want(ada("DELETE", appPath+"/owners/"+e.in.Admin.ObjectID+"/$ref", ""), http.StatusNotFound, "removing a non-owner", "Request_ResourceNotFound")
	want(ada("GET", appPath+"/owners/$ref", ""), http.StatusMethodNotAllowed, "GET owners/$ref")

	// Removing every owner is allowed for applications, as in Entra; the administrators remain.
	want(bob("DELETE", appPath+"/owners/"+adaID+"/$ref", ""), http.StatusNoContent, "an owner removes another")
	want(bob("DELETE", appPath+"/owners/"+bobID+"/$ref", ""), http.StatusNoContent, "the last owner removes themselves")
	if got := ownerIDs(appPath + "/owners"); len(got) != 0 {
		t.Errorf("owners after the last left: %v", got)
	}
	want(bob("PATCH", appPath, `{"displayName":"again"}`), http.StatusForbidden, "a former owner", denied...)
	want(devCall("PATCH", appPath, `{"displayName":"by-the-admin"}`), http.StatusNoContent, "the directory's administrator changes it")
	want(devCall("POST", appPath+"/owners/$ref", ref(bobID)), http.StatusNoContent, "the administrator names an owner")

	// A managed identity's service principal has no owners and cannot be given one.
	mi, err := e.dir.CreateManagedIdentity(ctx, tenant, "mi", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi")
	if err != nil {
		t.Fatal(err)
	}
	want(admin("GET", "/v1.0/servicePrincipals/"+mi.ObjectID+"/owners", ""), http.StatusOK, "owners of a managed identity", `"value":[]`)
	want(admin("POST", "/v1.0/servicePrincipals/"+mi.ObjectID+"/owners/$ref", ref(bobID)), http.StatusBadRequest, "an owner for a managed identity", "managed identity")

	// The administrator's application registers without becoming an owner; Bob, the owner,
	// deletes the application, and what he owned goes with it.
	w = admin("POST", "/v1.0/applications", `{"displayName":"by-the-admin-app"}`)
	want(w, http.StatusCreated, "the admin application registers an application")
	var other struct{ ID string }
	json.Unmarshal(w.Body.Bytes(), &other)
	if got := ownerIDs("/v1.0/applications/" + other.ID + "/owners"); len(got) != 0 {
		t.Errorf("owners of an application registered by an application: %v", got)
	}
	want(bob("DELETE", appPath, ""), http.StatusNoContent, "the owner deletes it")
	want(bob("GET", "/v1.0/me/ownedObjects", ""), http.StatusOK, "bob's owned objects after the delete", `"value":[]`)
}

func TestParseRef(t *testing.T) {
	for _, c := range []struct {
		in, id string
		ok     bool
	}{
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/abc"}`, "abc", true},
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/users/abc", "other": 1}`, "abc", true},
		{`{"@odata.id":"directoryObjects/abc"}`, "abc", true},
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/applications/abc"}`, "", false},
		{`{"@odata.id":"abc"}`, "", false},
		{`{"@odata.id":null}`, "", false},
		{`{"@odata.id":""}`, "", false},
		{`{"@odata.id":["a"]}`, "", false},
		{`{}`, "", false},
		{`null`, "", false},
		{"{\"@odata.id\":\"users/a\xff\"}", "", false},
	} {
		id, err := parseRef([]byte(c.in))
		if id != c.id || (err == nil) != c.ok {
			t.Errorf("parseRef(%s) = %q, %v", c.in, id, err)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	f.Add([]byte(`{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/abc"}`))
	f.Add([]byte(`{"@odata.id":"users/x"}`))
	f.Add([]byte(`{"@odata.id":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := parseRef(data)
		if err == nil && (id == "" || strings.ContainsAny(id, "/\\?#")) {
			t.Fatalf("parseRef(%q) = %q", data, id)
		}
		if err != nil && id != "" {
			t.Fatalf("parseRef(%q) = %q with %v", data, id, err)
		}
	})
}

// members/$ref reads its body as owners/$ref does (parseRef): an application's URL, an id with
// more path after it and a body without @odata.id are Graph's 400 Request_BadRequest, an unknown
// object Graph's 404; before, members took whatever followed the last '/' of any URL, so an
// application's URL added its service principal and "{id}/x" looked up "x".
func TestGroupMemberRef(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	dev, err := e.dir.EnsureDeveloper(ctx, e.in, nil)
	if err != nil {
		t.Fatal(err)
	}
	call := e.caller(map[string]any{"oid": dev.User.ObjectID, "sub": dev.User.ObjectID, "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
		"scp": "Directory.AccessAsUser.All", "idtyp": "user"})
	g, err := e.dir.CreateGroup(ctx, e.in.Tenant.ID, directory.GroupSpec{DisplayName: "g", MailNickname: "g"})
	if err != nil {
		t.Fatal(err)
	}
	w := call("POST", "/v1.0/applications", `{"displayName":"tool"}`)
	var app struct{ ID string }
	if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &app) != nil {
		t.Fatalf("register an application: %d %s", w.Code, w.Body)
	}
	path := "/v1.0/groups/" + g.ObjectID + "/members/$ref"
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/applications/` + app.ID + `"}`, http.StatusBadRequest, "Request_BadRequest"},
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/` + dev.User.ObjectID + `/x"}`, http.StatusBadRequest, "Request_BadRequest"},
		{`{"@odata.id":"` + dev.User.ObjectID + `"}`, http.StatusBadRequest, "Request_BadRequest"},
		{`{"@odata.id":""}`, http.StatusBadRequest, "Request_BadRequest"},
		{`{"@odata.id":42}`, http.StatusBadRequest, "Request_BadRequest"},
		{`{}`, http.StatusBadRequest, "Request_BadRequest"},
		{`[]`, http.StatusBadRequest, "Request_BadRequest"},
		{``, http.StatusBadRequest, "BadRequest"},
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/00000000-0000-0000-0000-000000000001"}`, http.StatusNotFound, "Request_ResourceNotFound"},
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/users/` + dev.User.ObjectID + `"}`, http.StatusNoContent, ""},
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/` + dev.User.ObjectID + `"}`, http.StatusBadRequest, "Request_BadRequest"}, // already a member
		{`{"@odata.id":"https://graph.microsoft.com/v1.0/servicePrincipals/` + app.ID + `"}`, http.StatusNoContent, ""},
	} {
		w := call("POST", path, c.body)
		if w.Code != c.status || (c.code != "" && !strings.Contains(w.Body.String(), `"code":"`+c.code+`"`)) {
			t.Errorf("POST members/$ref %s: %d %s, want %d %s", c.body, w.Code, w.Body, c.status, c.code)
		}
	}
}
