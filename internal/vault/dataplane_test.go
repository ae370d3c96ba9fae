package vault

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// The challenge (https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses): without a token, or with one that is refused, a 401 naming
// mint's authority with the vault's tenant and the vault audience, and nothing is done.
func TestChallenge(t *testing.T) {
	e := newEnv(t, envOptions{})
	officer := e.app("officer", officerRole)
	wantChallenge := `Bearer authorization="` + testBaseURL + `/` + e.in.Tenant.ID + `", resource="https://vault.localhost:8443"`

	r := e.do("PUT", "", "/secrets/probe", "", map[string]string{"value": "should not be stored"})
	e.mustStatus(r, 401, "probe without token")
	if got := r.header.Get("WWW-Authenticate"); got != wantChallenge {
		t.Fatalf("challenge\n got %s\nwant %s", got, wantChallenge)
	}
	if r.body == nil || !strings.Contains(string(r.body), `"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."`) {
		t.Fatalf("401 body: %s", r.body)
	}
	if _, err := e.st.GetSecretVersion(e.ctx, "kv1", "probe", ""); err == nil {
		t.Fatal("the unauthenticated PUT was acted on")
	}
	// The Go client's parsing (https://github.com/Azure/azure-sdk-for-go/blob/main/sdk/security/keyvault/internal/challenge_policy.go): space-separated pairs, tenant is segment 3.
	vals := map[string]string{}
	for _, part := range strings.Split(strings.ReplaceAll(r.header.Get("WWW-Authenticate"), "Bearer ", ""), " ") {
		if kv := strings.Split(part, "="); len(kv) == 2 {
			vals[kv[0]] = strings.TrimSuffix(strings.ReplaceAll(kv[1], `"`, ""), ",")
		}
	}
	if strings.Split(vals["authorization"], "/")[3] != e.in.Tenant.ID || vals["resource"] != testAud {
		t.Fatalf("the Go client would parse %v", vals)
	}

	mgmt, err := e.dir.Resource(e.ctx, e.in.Tenant.ID, "https://management.azure.com/")
	if err != nil {
		t.Fatal(err)
	}
	mgmtTok, err := e.sts.Issue(e.ctx, stsRequest(e, officer, mgmt, "https://management.azure.com/"))
	if err != nil {
		t.Fatal(err)
	}
	valid := e.token(officer, nil)
	for name, tok := range map[string]string{
		"garbage":            "not-a-token",
		"another audience":   mgmtTok.AccessToken,
		"a broken signature": valid[:len(valid)-4] + "AAAA",
	} {
		r := e.do("GET", "", "/secrets/probe", tok, nil)
		e.mustStatus(r, 401, name)
		if r.header.Get("WWW-Authenticate") != wantChallenge {
			t.Errorf("%s: challenge %q", name, r.header.Get("WWW-Authenticate"))
		}
	}
	r = e.do("GET", "", "/secrets/probe/", valid, nil)
	e.mustStatus(r, 404, "valid token, missing secret")
	if code, _ := r.errorCodes(t); code != CodeSecretNotFound {
		t.Fatalf("code %s", code)
	}

	// A token of another tenant is refused with the vault's tenant in the challenge.
	other := store.Tenant{ID: "11111111-2222-3333-4444-555555555555", DisplayName: "other", CreatedAt: time.Now()}
	if err := e.st.CreateTenant(e.ctx, other); err != nil {
		t.Fatal(err)
	}
	stranger := officer
	stranger.ObjectID, stranger.AppID, stranger.TenantID = "aaaaaaaa-2222-3333-4444-555555555555", "bbbbbbbb-2222-3333-4444-555555555555", other.ID
	if err := e.st.CreatePrincipal(e.ctx, stranger, nil); err != nil {
		t.Fatal(err)
	}
	req := stsRequest(e, stranger, e.kvApp, testAud)
	req.Tenant = other
	tok, err := e.sts.Issue(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "", "/secrets/probe/", tok.AccessToken, nil)
	e.mustStatus(r, 401, "token of another tenant")
	if !strings.Contains(string(r.body), "AKV10032: Invalid issuer") || r.header.Get("WWW-Authenticate") != wantChallenge {
		t.Fatalf("another tenant: %s %s", r.header.Get("WWW-Authenticate"), r.body)
	}

	// Unknown vaults and hosts that are not vaults.
	r = e.do("GET", "nope.vault.localhost:8443", "/secrets/x/", valid, nil)
	e.mustStatus(r, 404, "unknown vault")
	if code, _ := r.errorCodes(t); code != CodeVaultNotFound {
		t.Fatalf("unknown vault code %s", code)
	}
}

// Every operation of https://learn.microsoft.com/rest/api/keyvault/secrets/operation-groups with its exact JSON.
func TestSecretsOperations(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("officer", officerRole), nil)
	exp := time.Now().Add(24 * time.Hour).Unix()

	r := e.do("PUT", "", "/secrets/My-Secret", tok, map[string]any{"value": "v1", "contentType": "text/plain", "tags": map[string]string{"a": "b"}, "attributes": map[string]any{"exp": exp}})
	e.mustStatus(r, 200, "set")
	b := r.json(t)
	id, _ := b["id"].(string)
	prefix := "https://" + testHost + "/secrets/My-Secret/"
	if b["value"] != "v1" || !strings.HasPrefix(id, prefix) || !hex32.MatchString(strings.TrimPrefix(id, prefix)) ||
		b["contentType"] != "text/plain" || b["tags"].(map[string]any)["a"] != "b" {
		t.Fatalf("set answer %s", r.body)
	}
	attrs := b["attributes"].(map[string]any)
	if attrs["enabled"] != true || attrs["exp"] != float64(exp) || attrs["recoveryLevel"] != "Recoverable+Purgeable" || attrs["recoverableDays"] != float64(90) {
		t.Fatalf("attributes %v", attrs)
	}
	// Integer Unix seconds on the wire.
	if !regexp.MustCompile(`"created":\d+,"updated":\d+`).Match(r.body) {
		t.Fatalf("times are not integers: %s", r.body)
	}
	v1 := strings.TrimPrefix(id, prefix)

	r = e.do("PUT", "", "/secrets/my-secret", tok, map[string]any{"value": "v2", "attributes": map[string]any{}})
	e.mustStatus(r, 200, "set v2")
	v2 := strings.TrimPrefix(r.json(t)["id"].(string), prefix)

	r = e.do("GET", "", "/secrets/MY-SECRET/", tok, nil)
	e.mustStatus(r, 200, "get latest (trailing slash)")
	if b := r.json(t); b["value"] != "v2" || b["id"] != prefix+v2 {
		t.Fatalf("latest: %s", r.body)
	}
	r = e.do("GET", "", "/secrets/my-secret/"+strings.ToUpper(v1), tok, nil)
	e.mustStatus(r, 200, "get version")
	if b := r.json(t); b["value"] != "v1" || b["contentType"] != "text/plain" {
		t.Fatalf("version: %s", r.body)
	}

	r = e.do("GET", "", "/secrets/my-secret/versions", tok, nil)
	e.mustStatus(r, 200, "list versions")
	var versions SecretListResult[map[string]any]
	json.Unmarshal(r.body, &versions)
	if len(versions.Value) != 2 || versions.NextLink != nil || versions.Value[0]["id"] != prefix+v1 || versions.Value[0]["value"] != nil {
		t.Fatalf("versions: %s", r.body)
	}

	r = e.do("PATCH", "", "/secrets/my-secret/"+v1, tok, map[string]any{"attributes": map[string]any{"enabled": false}, "tags": map[string]string{}})
	e.mustStatus(r, 200, "update")
	if b := r.json(t); b["value"] != nil || b["attributes"].(map[string]any)["enabled"] != false || b["tags"] != nil || b["contentType"] != "text/plain" {
		t.Fatalf("update: %s", r.body)
	}
	r = e.do("GET", "", "/secrets/my-secret/"+v1, tok, nil)
	e.mustStatus(r, 403, "get disabled")
	if code, inner := r.errorCodes(t); code != CodeForbidden || inner != CodeSecretDisabled {
		t.Fatalf("disabled: %s", r.body)
	}
	r = e.do("PATCH", "", "/secrets/my-secret/", tok, map[string]any{"contentType": "application/json"})
	e.mustStatus(r, 200, "update latest")
	if r.json(t)["id"] != prefix+v2 {
		t.Fatalf("update latest: %s", r.body)
	}

	// nbf and exp are honoured on read.
	past, future := time.Now().Add(-time.Hour).Unix(), time.Now().Add(time.Hour).Unix()
	e.mustStatus(e.do("PUT", "", "/secrets/expired", tok, map[string]any{"value": "x", "attributes": map[string]any{"nbf": past - 10, "exp": past}}), 200, "set expired")
	r = e.do("GET", "", "/secrets/expired/", tok, nil)
	if code, inner := r.errorCodes(t); r.status != 403 || code != CodeForbidden || inner != CodeSecretExpired {
		t.Fatalf("expired: %d %s", r.status, r.body)
	}
	e.mustStatus(e.do("PUT", "", "/secrets/later", tok, map[string]any{"value": "x", "attributes": map[string]any{"nbf": future}}), 200, "set not yet valid")
	r = e.do("GET", "", "/secrets/later/", tok, nil)
	if code, inner := r.errorCodes(t); r.status != 403 || code != CodeForbidden || inner != CodeSecretNotYetValid {
		t.Fatalf("not yet valid: %d %s", r.status, r.body)
	}

	// Backup, delete, get/list deleted, conflict, recover, purge, restore.
	r = e.do("POST", "", "/secrets/my-secret/backup", tok, nil)
	e.mustStatus(r, 200, "backup")
	blob := r.json(t)["value"].(string)
	if strings.ContainsAny(blob, "=+/") || blob == "" {
		t.Fatalf("backup blob is not unpadded base64url: %q", blob)
	}

	r = e.do("DELETE", "", "/secrets/my-secret", tok, nil)
	e.mustStatus(r, 200, "delete")
	d := r.json(t)
	if d["recoveryId"] != "https://"+testHost+"/deletedsecrets/My-Secret" || d["id"] != prefix+v2 || d["value"] != nil {
		t.Fatalf("delete: %s", r.body)
	}
	if d["scheduledPurgeDate"].(float64)-d["deletedDate"].(float64) != 90*86400 {
		t.Fatalf("scheduledPurgeDate: %s", r.body)
	}
	e.mustStatus(e.do("GET", "", "/secrets/my-secret/", tok, nil), 404, "get deleted secret")
	r = e.do("GET", "", "/deletedsecrets/my-secret", tok, nil)
	e.mustStatus(r, 200, "get deleted")
	if r.json(t)["recoveryId"] != d["recoveryId"] {
		t.Fatalf("get deleted: %s", r.body)
	}
	r = e.do("GET", "", "/deletedsecrets", tok, nil)
	e.mustStatus(r, 200, "list deleted")
	var deleted SecretListResult[map[string]any]
	json.Unmarshal(r.body, &deleted)
	if len(deleted.Value) != 1 || deleted.Value[0]["id"] != "https://"+testHost+"/secrets/My-Secret" || deleted.Value[0]["recoveryId"] == nil {
		t.Fatalf("list deleted: %s", r.body)
	}
	r = e.do("PUT", "", "/secrets/my-secret", tok, map[string]any{"value": "v3"})
	if code, inner := r.errorCodes(t); r.status != 409 || code != CodeConflict || inner != CodeObjectIsDeletedButRecoverable {
		t.Fatalf("set over deleted: %d %s", r.status, r.body)
	}
	r = e.do("POST", "", "/secrets/restore", tok, map[string]string{"value": blob})
	if code, inner := r.errorCodes(t); r.status != 409 || code != CodeConflict || inner != CodeObjectIsDeletedButRecoverable {
		t.Fatalf("restore over deleted: %d %s", r.status, r.body)
	}
	r = e.do("POST", "", "/deletedsecrets/my-secret/recover", tok, nil)
	e.mustStatus(r, 200, "recover")
	if b := r.json(t); b["id"] != prefix+v2 || b["value"] != nil {
		t.Fatalf("recover: %s", r.body)
	}
	e.mustStatus(e.do("GET", "", "/secrets/my-secret/", tok, nil), 200, "get recovered")
	r = e.do("POST", "", "/secrets/restore", tok, map[string]string{"value": blob})
	if code, _ := r.errorCodes(t); r.status != 409 || code != CodeConflict {
		t.Fatalf("restore over live: %d %s", r.status, r.body)
	}
	e.mustStatus(e.do("DELETE", "", "/secrets/my-secret", tok, nil), 200, "delete again")
	r = e.do("DELETE", "", "/deletedsecrets/my-secret", tok, nil)
	e.mustStatus(r, 204, "purge")
	if len(r.body) != 0 {
		t.Fatalf("purge body %q", r.body)
	}
	e.mustStatus(e.do("GET", "", "/deletedsecrets/my-secret", tok, nil), 404, "get purged")
	r = e.do("POST", "", "/secrets/restore", tok, map[string]string{"value": blob})
	e.mustStatus(r, 200, "restore")
	if b := r.json(t); b["id"] != prefix+v2 || b["value"] != nil {
		t.Fatalf("restore: %s", r.body)
	}
	r = e.do("GET", "", "/secrets/my-secret/"+v1, tok, nil)
	e.mustStatus(r, 403, "restored versions keep their attributes")
	r = e.do("GET", "", "/secrets/my-secret/", tok, nil)
	e.mustStatus(r, 200, "get restored")
	if b := r.json(t); b["value"] != "v2" || b["contentType"] != "application/json" {
		t.Fatalf("restored latest: %s", r.body)
	}

	// A backup restores into another vault of the installation.
	kv2 := e.createVault("kv2", `{}`)
	officer2 := e.app("officer2")
	e.assign(officer2.ObjectID, officerRole, kv2)
	tok2 := e.token(officer2, nil)
	r = e.do("POST", "kv2.vault.localhost:8443", "/secrets/restore", tok2, map[string]string{"value": blob})
	e.mustStatus(r, 200, "restore into another vault")
	r = e.do("GET", "kv2.vault.localhost:8443", "/secrets/my-secret/", tok2, nil)
	e.mustStatus(r, 200, "get from the other vault")
	if r.json(t)["value"] != "v2" {
		t.Fatalf("other vault: %s", r.body)
	}
	// Every vault answers only for its own host: kv2's secrets are not kv1's.
	e.mustStatus(e.do("PUT", "kv2.vault.localhost:8443", "/secrets/only-in-kv2", tok2, map[string]string{"value": "x"}), 200, "set in kv2")
	e.mustStatus(e.do("GET", "", "/secrets/only-in-kv2/", tok, nil), 404, "kv2's secret through kv1")
}

// Paging past 25 items with absolute nextLinks that carry api-version.
func TestPaging(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("officer", officerRole), nil)
	for i := range 30 {
		e.mustStatus(e.do("PUT", "", fmt.Sprintf("/secrets/s%02d", i), tok, map[string]string{"value": "x"}), 200, "set")
	}
	for i := range 3 {
		e.mustStatus(e.do("PUT", "", "/secrets/s00", tok, map[string]string{"value": fmt.Sprint(i)}), 200, "set version")
	}
	collect := func(path string) ([]string, int) {
		var ids []string
		pages := 0
		for path != "" {
			r := e.do("GET", "", path, tok, nil)
			e.mustStatus(r, 200, "list "+path)
			var page SecretListResult[SecretItem]
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatal(err)
			}
			pages++
			for _, it := range page.Value {
				ids = append(ids, it.ID)
			}
			path = ""
			if page.NextLink != nil {
				u, err := url.Parse(*page.NextLink)
				if err != nil || u.Scheme != "https" || u.Host != testHost || u.Query().Get("api-version") != apiVersion {
					t.Fatalf("nextLink %q", *page.NextLink)
				}
				path = u.RequestURI()
			}
		}
		return ids, pages
	}
	ids, pages := collect("/secrets")
	if len(ids) != 30 || pages != 2 || ids[0] != "https://"+testHost+"/secrets/s00" || ids[29] != "https://"+testHost+"/secrets/s29" {
		t.Fatalf("%d secrets in %d pages: %v", len(ids), pages, ids)
	}
	ids, pages = collect("/secrets?maxresults=7")
	if len(ids) != 30 || pages != 5 {
		t.Fatalf("maxresults 7: %d secrets in %d pages", len(ids), pages)
	}
	ids, pages = collect("/secrets/s00/versions?maxresults=2")
	if len(ids) != 4 || pages != 2 {
		t.Fatalf("versions: %d in %d pages", len(ids), pages)
	}
	for i := range 27 {
		e.mustStatus(e.do("DELETE", "", fmt.Sprintf("/secrets/s%02d", i), tok, nil), 200, "delete")
	}
	ids, pages = collect("/deletedsecrets")
	if len(ids) != 27 || pages != 2 {
		t.Fatalf("deleted: %d in %d pages", len(ids), pages)
	}
}

// RBAC data actions per role (https://learn.microsoft.com/azure/key-vault/general/rbac-guide), and denials that name principal, action, scope.
func TestRBAC(t *testing.T) {
	e := newEnv(t, envOptions{})
	officer := e.token(e.app("officer", officerRole), nil)
	userApp := e.app("user", userRole)
	user := e.token(userApp, nil)
	nobodyApp := e.app("nobody")
	nobody := e.token(nobodyApp, nil)
	e.mustStatus(e.do("PUT", "", "/secrets/s", officer, map[string]string{"value": "x"}), 200, "officer sets")

	e.mustStatus(e.do("GET", "", "/secrets/s/", user, nil), 200, "user gets")
	e.mustStatus(e.do("GET", "", "/secrets", user, nil), 200, "user lists")
	for _, op := range []struct{ method, path, action string }{
		{"PUT", "/secrets/s", "setSecret/action"},
		{"DELETE", "/secrets/s", "delete"},
		{"POST", "/secrets/s/backup", "backup/action"},
		{"DELETE", "/deletedsecrets/s", "purge/action"},
		{"POST", "/deletedsecrets/s/recover", "recover/action"},
	} {
		r := e.do(op.method, "", op.path, user, map[string]string{"value": "y"})
		code, inner := r.errorCodes(t)
		if r.status != 403 || code != CodeForbidden || inner != CodeForbiddenByRbac {
			t.Fatalf("user %s %s: %d %s", op.method, op.path, r.status, r.body)
		}
		msg := r.json(t)["error"].(map[string]any)["message"].(string)
		scope := strings.ToLower(e.vaultID + "/secrets/s")
		if !strings.Contains(msg, "oid="+userApp.ObjectID) || !strings.Contains(msg, "Microsoft.KeyVault/vaults/secrets/"+op.action) ||
			!strings.Contains(msg, "Resource: '"+scope+"'") || !strings.Contains(msg, "mint: ") {
			t.Fatalf("denial does not name principal, action and scope: %q", msg)
		}
	}
	r := e.do("GET", "", "/secrets/s/", nobody, nil)
	if code, inner := r.errorCodes(t); r.status != 403 || code != CodeForbidden || inner != CodeForbiddenByRbac {
		t.Fatalf("nobody: %d %s", r.status, r.body)
	}
	if msg := string(r.body); !strings.Contains(msg, "it has no role assignments") {
		t.Fatalf("nobody's denial lacks the explanation: %s", msg)
	}
	// An assignment at the secret, or above the vault (resource group), counts.
	e.assign(nobodyApp.ObjectID, userRole, e.vaultID+"/secrets/s")
	waitStatus(t, e, "GET", "/secrets/s/", nobody, 200)
	e.mustStatus(e.do("GET", "", "/secrets", nobody, nil), 403, "a secret-scoped role does not list the vault")
	e.assign(nobodyApp.ObjectID, officerRole, "/subscriptions/"+e.in.Subscription.ID+"/resourceGroups/"+e.group)
	waitStatus(t, e, "PUT", "/secrets/t", nobody, 200)
}

// waitStatus repeats a request until it gets status (role and revocation caches last at most
// MaxCacheTTL), failing after a second.
func waitStatus(t *testing.T, e *testEnv, method, path, token string, status int) time.Duration {
	t.Helper()
	began := time.Now()
	for {
		r := e.do(method, "", path, token, map[string]string{"value": "x"})
		if r.status == status {
			return time.Since(began)
		}
		if time.Since(began) > time.Second {
			t.Fatalf("%s %s: still %d after 1 s, want %d: %s", method, path, r.status, status, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAccessPolicies(t *testing.T) {
	e := newEnv(t, envOptions{})
	reader := e.app("reader")
	writer := e.app("writer")
	props := fmt.Sprintf(`{"enableRbacAuthorization":false,"accessPolicies":[
		{"tenantId":%q,"objectId":%q,"permissions":{"secrets":["Get","List"]}},
		{"tenantId":%q,"objectId":%q,"permissions":{"secrets":["all"]}}]}`, e.in.Tenant.ID, reader.ObjectID, e.in.Tenant.ID, writer.ObjectID)
	kv3 := e.createVault("kv3", props)
	host := "kv3.vault.localhost:8443"
	wt, rt := e.token(writer, nil), e.token(reader, nil)
	e.mustStatus(e.do("PUT", host, "/secrets/s", wt, map[string]string{"value": "x"}), 200, "writer sets")
	e.mustStatus(e.do("GET", host, "/secrets/s/", rt, nil), 200, "reader gets")
	r := e.do("PUT", host, "/secrets/s", rt, map[string]string{"value": "y"})
	if code, inner := r.errorCodes(t); r.status != 403 || code != CodeForbidden || inner != CodeForbiddenByPolicy {
		t.Fatalf("reader sets: %d %s", r.status, r.body)
	}
	if !strings.Contains(string(r.body), "does not have secrets set permission on key vault 'kv3;location=westeurope'") {
		t.Fatalf("policy denial: %s", r.body)
	}
	// RBAC roles do not count in the access-policy model.
	officer := e.app("officer", officerRole)
	e.assign(officer.ObjectID, officerRole, kv3)
	r = e.do("GET", host, "/secrets/s/", e.token(officer, nil), nil)
	if _, inner := r.errorCodes(t); inner != CodeForbiddenByPolicy {
		t.Fatalf("RBAC in a policy vault: %s", r.body)
	}
}

func TestPurgeProtectionAndScheduledPurge(t *testing.T) {
	e := newEnv(t, envOptions{})
	kv4 := e.createVault("kv4", `{"enablePurgeProtection":true,"softDeleteRetentionInDays":7}`)
	host := "kv4.vault.localhost:8443"
	officer := e.app("officer")
	e.assign(officer.ObjectID, officerRole, kv4)
	tok := e.token(officer, nil)
	r := e.do("PUT", host, "/secrets/s", tok, map[string]string{"value": "x"})
	e.mustStatus(r, 200, "set")
	if lvl := r.json(t)["attributes"].(map[string]any)["recoveryLevel"]; lvl != "CustomizedRecoverable" {
		t.Fatalf("recoveryLevel %v", lvl)
	}
	e.mustStatus(e.do("DELETE", host, "/secrets/s", tok, nil), 200, "delete")
	r = e.do("DELETE", host, "/deletedsecrets/s", tok, nil)
	if code, _ := r.errorCodes(t); r.status != 403 || code != CodeForbidden || !strings.Contains(string(r.body), `Operation \"purge\" is not allowed because purge protection is enabled`) {
		t.Fatalf("purge with protection: %d %s", r.status, r.body)
	}
	if n := e.srv.PurgeDue(e.ctx); n != 0 {
		t.Fatalf("purged %d before the retention period", n)
	}
	e.clock.Advance(7*24*time.Hour + time.Minute)
	if n := e.srv.PurgeDue(e.ctx); n != 1 {
		t.Fatalf("purged %d after the retention period, want 1", n)
	}
	if _, err := e.st.GetDeletedSecret(e.ctx, "kv4", "s"); err == nil {
		t.Fatal("the deleted secret outlived its retention period")
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("officer", officerRole), nil)
	e.mustStatus(e.do("PUT", "", "/secrets/s", tok, map[string]string{"value": "x"}), 200, "set")
	big := strings.Repeat("x", maxValueBytes+1)
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"PUT", "/secrets/bad_name", map[string]string{"value": "x"}, 400, CodeBadParameter},
		{"GET", "/secrets/s/xyz", nil, 400, CodeBadParameter},
		{"GET", "/secrets/s/?api-version=2016-01-01", nil, 400, CodeBadParameter},
		{"GET", "/secrets/s/?api-version=", nil, 400, CodeBadParameter},
		{"PUT", "/secrets/s", map[string]string{"value": big}, 400, CodeBadParameter},
		{"PUT", "/secrets/s", map[string]any{"value": "x", "contentType": strings.Repeat("c", 256)}, 400, CodeBadParameter},
		{"PUT", "/secrets/s", map[string]any{"value": "x", "tags": manyTags(16)}, 400, CodeBadParameter},
		{"PUT", "/secrets/s", map[string]any{"value": "x", "attributes": map[string]any{"nbf": 20, "exp": 10}}, 400, CodeBadParameter},
		{"PUT", "/secrets/s", map[string]any{"value": 5}, 400, CodeBadParameter},
		{"PUT", "/secrets/s", `{"value":`, 400, CodeBadParameter},
		{"PUT", "/secrets/s", map[string]any{"contentType": "x"}, 400, CodeBadParameter},
		{"PUT", "/secrets/s", "", 400, CodeBadParameter},
		{"PATCH", "/secrets/s/", `[]`, 400, CodeBadParameter},
		{"GET", "/secrets?maxresults=0", nil, 400, CodeBadParameter},
		{"GET", "/secrets?maxresults=26", nil, 400, CodeBadParameter},
		{"GET", "/secrets?$skiptoken=garbage", nil, 400, CodeBadParameter},
		{"POST", "/secrets/restore", map[string]string{"value": "not-base64!"}, 400, CodeBadParameter},
		{"POST", "/secrets/restore", map[string]string{"value": "AAAA"}, 400, CodeBadParameter},
		{"POST", "/secrets/restore", map[string]string{}, 400, CodeBadParameter},
		{"GET", "/keys/k", nil, 404, CodeNotFound},
		{"POST", "/secrets/s", nil, 405, CodeMethodNotAllowed},
		{"GET", "/secrets/none/", nil, 404, CodeSecretNotFound},
		{"GET", "/secrets/s/0123456789abcdef0123456789abcdef", nil, 404, CodeSecretNotFound},
		{"GET", "/deletedsecrets/none", nil, 404, CodeSecretNotFound},
		{"DELETE", "/secrets/none", nil, 404, CodeSecretNotFound},
		{"POST", "/deletedsecrets/none/recover", nil, 404, CodeSecretNotFound},
		{"DELETE", "/deletedsecrets/none", nil, 404, CodeSecretNotFound},
		{"POST", "/secrets/none/backup", nil, 404, CodeSecretNotFound},
	} {
		r := e.do(tc.method, "", tc.path, tok, tc.body)
		code, _ := r.errorCodes(t)
		if r.status != tc.status || code != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.status, r.body, tc.status, tc.code)
		}
	}
	r := e.do("GET", "", "/secrets/none/", tok, nil)
	want := "A secret with (name/id) none was not found in this key vault. " + secretNotFoundHelp
	if msg := r.json(t)["error"].(map[string]any)["message"]; msg != want {
		t.Errorf("not found message %q", msg)
	}
	if msg := e.do("GET", "", "/deletedsecrets/none", tok, nil).json(t)["error"].(map[string]any)["message"]; msg != "Deleted Secret not found: none" {
		t.Errorf("deleted not found message %q", msg)
	}
}

func manyTags(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprint("t", i)] = "v"
	}
	return m
}

// Secret values rest encrypted: the SQLite file never holds one in clear.
func TestEncryptionAtRest(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("officer", officerRole), nil)
	const marker = "correct-horse-battery-staple-4f1c"
	e.mustStatus(e.do("PUT", "", "/secrets/s", tok, map[string]string{"value": marker}), 200, "set")
	dir := filepath.Dir(e.dbPath)
	entries, _ := os.ReadDir(dir)
	for _, ent := range entries {
		data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			continue
		}
		if strings.Contains(string(data), marker) {
			t.Fatalf("%s holds the secret value in clear", ent.Name())
		}
	}
	e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 200, "get")
}

// A vault deleted and created again under its name within the cache period: writes use the new
// data key, and reads of the new vault's values succeed at once.
func TestVaultRecreatedWithinCachePeriod(t *testing.T) {
	e := newEnv(t, envOptions{})
	officer := e.app("officer", officerRole)
	tok := e.token(officer, nil)
	e.mustStatus(e.do("PUT", "", "/secrets/s", tok, map[string]string{"value": "old"}), 200, "set in the first vault")
	if _, err := e.st.DeleteResource(e.ctx, e.vaultID); err != nil {
		t.Fatal(err)
	}
	// The deleted vault holds its name until it is purged.
	if err := e.st.PurgeDeletedVault(e.ctx, "kv1"); err != nil {
		t.Fatal(err)
	}
	e.createVault("kv1", `{}`)
	e.assign(officer.ObjectID, officerRole, e.vaultID)
	r := e.do("GET", "", "/secrets/s/", tok, nil)
	if r.status != 404 && r.status != 403 {
		t.Fatalf("the first vault's secret in the new vault: %d %s", r.status, r.body)
	}
	waitStatus(t, e, "PUT", "/secrets/s", tok, 200)
	e.mustStatus(e.do("GET", "", "/secrets/s/", tok, nil), 200, "get from the new vault at once")
	time.Sleep(MaxCacheTTL + 50*time.Millisecond) // every cache has the new vault now
	r = e.do("GET", "", "/secrets/s/", tok, nil)
	e.mustStatus(r, 200, "get from the new vault")
	if r.json(t)["value"] != "x" {
		t.Fatalf("new vault: %s", r.body)
	}
}
