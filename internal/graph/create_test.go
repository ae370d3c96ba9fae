package graph

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/directory"
)

// POST of an application, service principal, user or group refuses a property mint does not
// store, as PATCH does, rather than answer 201 and drop it; a property set to the value a new
// object has anyway passes. The accepted bodies are the ones az 2.45 sends (its role module's
// create_application, _create_service_principal, create_user and create_group).
func TestCreateRefusesWhatItWouldDrop(t *testing.T) {
	e := newTestEnv(t)
	call := e.caller(map[string]any{"oid": e.in.Admin.ObjectID, "sub": e.in.Admin.ObjectID, "appid": e.in.Admin.AppID,
		"roles": []string{directory.RoleApplicationReadWriteAll, directory.RoleDirectoryReadWriteAll, directory.RoleUserReadWriteAll, directory.RoleGroupReadWriteAll}})
	accepted := []struct{ path, body string }{
		// az ad app create --display-name x (keyCredentials is always sent, empty without a key).
		{"/v1.0/applications", `{"displayName":"az-app","keyCredentials":[]}`},
		// with --web-redirect-uris, --enable-id-token-issuance false, --is-fallback-public-client,
		// --sign-in-audience, --public-client-redirect-uris, --app-roles, --identifier-uris.
		{"/v1.0/applications", `{"displayName":"az-app-2","identifierUris":["api://az-app-2"],"isFallbackPublicClient":true,"signInAudience":"AzureADMyOrg",
			"keyCredentials":[],"web":{"redirectUris":["https://app.example/cb"],"implicitGrantSettings":{"enableIdTokenIssuance":false,"enableAccessTokenIssuance":false}},
			"publicClient":{"redirectUris":["http://localhost"]},
			"appRoles":[{"allowedMemberTypes":["Application"],"description":"d","displayName":"Reader","id":"11111111-1111-1111-1111-111111111111","isEnabled":true,"value":"Read"}]}`},
		// Defaults Graph would store anyway.
		{"/v1.0/applications", `{"displayName":"az-app-3","optionalClaims":null,"requiredResourceAccess":[],"tags":[],"web":{"homePageUrl":null},"api":{"oauth2PermissionScopes":[],"requestedAccessTokenVersion":2}}`},
		// az ad user create (immutableId only with --immutable-id).
		{"/v1.0/users", `{"userPrincipalName":"ada@mint.localhost","displayName":"Ada","passwordProfile":{"password":"Aa1!aaaaaaaa","forceChangePasswordNextSignIn":false},"mailNickname":"ada","accountEnabled":true}`},
		// az ad group create, with and without --description.
		{"/v1.0/groups", `{"displayName":"g1","mailNickname":"g1","mailEnabled":false,"securityEnabled":true}`},
		{"/v1.0/groups", `{"displayName":"g2","mailNickname":"g2","description":"d","mailEnabled":false,"securityEnabled":true,"visibility":null,"owners@odata.bind":[]}`},
	}
	for _, a := range accepted {
		if w := call("POST", a.path, a.body); w.Code != 201 {
			t.Errorf("%s %s: %d %s", a.path, a.body, w.Code, w.Body)
		}
	}
	w := call("POST", "/v1.0/applications", `{"displayName":"for-sp","keyCredentials":[]}`)
	var app struct{ AppID string }
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &app) != nil {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	// az ad sp create --id <appId>
	if w := call("POST", "/v1.0/servicePrincipals", `{"appId":"`+app.AppID+`","accountEnabled":true}`); w.Code != 201 {
		t.Errorf("az ad sp create: %d %s", w.Code, w.Body)
	}

	refused := []struct{ path, body, prop string }{
		{"/v1.0/applications", `{"displayName":"r1","optionalClaims":{"idToken":[{"name":"groups"}]}}`, "optionalClaims"},
		{"/v1.0/applications", `{"displayName":"r2","requiredResourceAccess":[{"resourceAppId":"00000003-0000-0000-c000-000000000000"}]}`, "requiredResourceAccess"},
		{"/v1.0/applications", `{"displayName":"r3","web":{"homePageUrl":"https://app.example"}}`, "web.homePageUrl"},
		{"/v1.0/applications", `{"displayName":"r4","web":{"implicitGrantSettings":{"enableIdTokenIssuance":true}}}`, "web.implicitGrantSettings"},
		{"/v1.0/applications", `{"DisplayName":"r6"}`, "DisplayName"},
		{"/v1.0/applications", `{"displayName":"r7","api":{"oauth2PermissionScopes":[{"value":"x"}]}}`, "api.oauth2PermissionScopes"},
		{"/v1.0/users", `{"userPrincipalName":"bob@mint.localhost","displayName":"Bob","passwordProfile":{"password":"Aa1!aaaaaaaa"},"mailNickname":"bob","accountEnabled":true,"onPremisesImmutableId":"abc"}`, "onPremisesImmutableId"},
		{"/v1.0/users", `{"userPrincipalName":"bob@mint.localhost","displayName":"Bob","passwordProfile":{"password":"Aa1!aaaaaaaa"},"mailNickname":"bob","accountEnabled":true,"jobTitle":"x"}`, "jobTitle"},
		{"/v1.0/groups", `{"displayName":"g3","mailNickname":"g3","mailEnabled":false,"securityEnabled":true,"visibility":"Private"}`, "visibility"},
		{"/v1.0/groups", `{"displayName":"g4","mailNickname":"g4","mailEnabled":false,"securityEnabled":true,"isAssignableToRole":true}`, "isAssignableToRole"},
		{"/v1.0/servicePrincipals", `{"appId":"` + app.AppID + `","tags":["WindowsAzureActiveDirectoryIntegratedApp"]}`, "tags"},
		{"/v1.0/servicePrincipals", `{"appId":"` + app.AppID + `","accountEnabled":false}`, "accountEnabled"},
	}
	for _, c := range refused {
		w := call("POST", c.path, c.body)
		var env struct {
			Error struct{ Code, Message string }
		}
		if w.Code != 400 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Error.Code != "Request_BadRequest" ||
			!strings.Contains(env.Error.Message, "'"+c.prop+"'") {
			t.Errorf("%s %s: %d %s", c.path, c.body, w.Code, w.Body)
		}
	}
	// Nothing refused was created.
	for _, q := range []string{"/v1.0/applications?$filter=startswith(displayName,'r')", "/v1.0/users?$filter=userPrincipalName%20eq%20'bob@mint.localhost'",
		"/v1.0/groups?$filter=startswith(displayName,'g3')", "/v1.0/groups?$filter=startswith(displayName,'g4')"} {
		if w := call("GET", q, ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"value":[]`) {
			t.Errorf("%s: %d %s", q, w.Code, w.Body)
		}
	}
}

// FuzzIsDefault: isDefault never panics, and what it calls a default decodes to a zero value.
func FuzzIsDefault(f *testing.F) {
	for _, s := range []string{`null`, `false`, `""`, `[]`, `{}`, `{"a":{"b":null}}`, `0`, `[null]`, `{"a":true}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isDefault(json.RawMessage(s)) {
			return
		}
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			t.Fatalf("%q is no JSON but counted as a default", s)
		}
		switch v := v.(type) {
		case nil, map[string]any:
		case bool:
			if v {
				t.Fatalf("%q", s)
			}
		case string:
			if v != "" {
				t.Fatalf("%q", s)
			}
		case []any:
			if len(v) != 0 {
				t.Fatalf("%q", s)
			}
		default:
			t.Fatalf("%q counted as a default", s)
		}
	})
}
