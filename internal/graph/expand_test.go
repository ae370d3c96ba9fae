package graph

import (
	"encoding/json"
	"strings"
	"testing"
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
