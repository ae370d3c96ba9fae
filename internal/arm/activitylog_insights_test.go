package arm

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

func TestEventWire(t *testing.T) {
	at := time.Date(2018, 1, 29, 20, 42, 31, 381067900, time.UTC)
	ok := store.ActivityEvent{
		ID: "e1", OperationID: "op1", CorrelationID: "c1", Time: at, SubscriptionID: "s", ResourceGroup: "rg",
		ResourceID:   "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
		ResourceType: "Microsoft.ManagedIdentity/userAssignedIdentities", OperationName: "Microsoft.ManagedIdentity/userAssignedIdentities/write",
		Status: "Succeeded", SubStatus: "Created", HTTPStatus: 201, Caller: "oid", CallerAppID: "app", HTTPMethod: "PUT",
	}
	w := eventWire(ok, "tid")
	data, _ := json.Marshal(w)
	var m map[string]any
	json.Unmarshal(data, &m)
	checks := map[string]any{
		"caller": "oid", "channels": "Operation", "correlationId": "c1", "eventDataId": "e1", "level": "Informational",
		"operationId": "op1", "resourceGroupName": "rg", "resourceId": ok.ResourceID, "subscriptionId": "s", "tenantId": "tid",
		"eventTimestamp": "2018-01-29T20:42:31.3810679Z",
		"id":             ok.ResourceID + "/events/e1/ticks/636528553513810679",
	}
	for k, want := range checks {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	loc := func(k string) map[string]any { v, _ := m[k].(map[string]any); return v }
	if loc("status")["value"] != "Succeeded" || loc("subStatus")["value"] != "Created" || loc("subStatus")["localizedValue"] != "Created (HTTP Status Code: 201)" ||
		loc("category")["value"] != "Administrative" || loc("eventName")["value"] != "EndRequest" ||
		loc("operationName")["value"] != ok.OperationName || loc("resourceProviderName")["value"] != "Microsoft.ManagedIdentity" ||
		loc("authorization")["action"] != ok.OperationName || loc("authorization")["scope"] != ok.ResourceID ||
		loc("httpRequest")["method"] != "PUT" || loc("claims")["appid"] != "app" || loc("properties")["statusCode"] != "Created" {
		t.Errorf("event %s", data)
	}
	if _, has := loc("properties")["statusMessage"]; has {
		t.Error("a success has no statusMessage")
	}

	failed := ok
	failed.Status, failed.SubStatus, failed.HTTPStatus, failed.Message = "Failed", "Forbidden", 403, "AuthorizationFailed: The client 'x' ..."
	fw := eventWire(failed, "tid")
	if fw.Level != "Error" || fw.SubStatus.Value != "Forbidden" || fw.Properties["statusCode"] != "Forbidden" {
		t.Errorf("failed event %+v", fw)
	}
	var env ErrorResponse
	if err := json.Unmarshal([]byte(fw.Properties["statusMessage"]), &env); err != nil || env.Error.Code != "AuthorizationFailed" || env.Error.Message != "The client 'x' ..." {
		t.Errorf("statusMessage %q", fw.Properties["statusMessage"])
	}
	noContent := ok
	noContent.HTTPStatus = 204
	if nw := eventWire(noContent, "tid"); nw.SubStatus.Value != "NoContent" || nw.SubStatus.LocalizedValue != "No Content (HTTP Status Code: 204)" {
		t.Errorf("204 subStatus %+v", nw.SubStatus)
	}
}

func TestActivityLogAPI(t *testing.T) {
	e := newTestEnv(t)
	e.group("app", "other")
	owner := e.principal(store.KindApplication, "owner")
	e.assign(owner, rbac.OwnerRoleID, e.subScope())
	contributor := e.principal(store.KindApplication, "contributor")
	e.assign(contributor, rbac.ContributorRoleID, e.rg("app"))
	reader := e.principal(store.KindApplication, "reader")
	e.assign(reader, rbac.ReaderRoleID, e.subScope())
	nobody := e.principal(store.KindApplication, "nobody")
	mi := e.principal(store.KindManagedIdentity, "web-id")

	assign := func(who string) (int, string) {
		path := e.rg("app") + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
		r := e.call(who, "PUT", path, authzVersion, map[string]any{"properties": map[string]any{
			"roleDefinitionId": rbac.ReaderRoleID, "principalId": mi, "principalType": "ServicePrincipal"}})
		return r.status, path
	}
	if status, _ := assign(contributor); status != 403 {
		t.Fatalf("contributor assigns: %d", status)
	}
	status, created := assign(owner)
	if status != 201 {
		t.Fatalf("owner assigns: %d", status)
	}

	logPath := e.subScope() + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01"
	list := func(who, filter string) (int, []map[string]any, response) {
		p := logPath
		if filter != "" {
			p += "&$filter=" + urlq(filter)
		}
		r := e.call(who, "GET", p, "", nil)
		return r.status, r.list(), r
	}
	status, events, resp := list(reader, "eventTimestamp ge '2020-01-01T00:00:00Z'")
	if status != 200 || len(events) != 2 {
		t.Fatalf("reader lists: %d %s", status, resp.raw)
	}
	// Newest first: the owner's success, then the contributor's refusal.
	if events[0]["caller"] != owner || events[0]["resourceId"] != created || events[0]["status"].(map[string]any)["value"] != "Succeeded" ||
		events[0]["subStatus"].(map[string]any)["value"] != "Created" {
		t.Errorf("first event %v", events[0])
	}
	if events[1]["caller"] != contributor || events[1]["status"].(map[string]any)["value"] != "Failed" || events[1]["level"] != "Error" ||
		!strings.Contains(events[1]["properties"].(map[string]any)["statusMessage"].(string), "AuthorizationFailed") {
		t.Errorf("second event %v", events[1])
	}
	for _, ev := range events {
		if c, _ := ev["correlationId"].(string); c == "" {
			t.Errorf("no correlation id: %v", ev)
		}
	}
	if status, events, _ = list(reader, "caller eq '"+contributor+"'"); status != 200 || len(events) != 1 {
		t.Errorf("by caller: %d %d", status, len(events))
	}
	ownerSP, err := e.st.GetPrincipal(t.Context(), owner)
	if err != nil {
		t.Fatal(err)
	}
	if status, events, _ = list(reader, "caller eq '"+ownerSP.AppID+"' and status eq 'Succeeded'"); status != 200 || len(events) != 1 {
		t.Errorf("by caller app id: %d %d", status, len(events))
	}
	if status, events, _ = list(reader, "resourceGroupName eq 'other'"); status != 200 || len(events) != 0 {
		t.Errorf("other group: %d %d", status, len(events))
	}
	if status, events, _ = list(reader, "eventTimestamp ge '2999-01-01T00:00:00Z'"); status != 200 || len(events) != 0 {
		t.Errorf("future window: %d %d", status, len(events))
	}
	// The contributor reads its own group's events, not the subscription's.
	if status, _, resp = list(contributor, ""); status != 403 || resp.code() != "AuthorizationFailed" {
		t.Errorf("contributor, whole subscription: %d %s", status, resp.raw)
	}
	if status, events, _ = list(contributor, "resourceGroupName eq 'app'"); status != 200 || len(events) != 2 {
		t.Errorf("contributor, its group: %d %d", status, len(events))
	}
	if status, _, resp = list(nobody, ""); status != 403 || !strings.Contains(resp.message(), "Microsoft.Insights/eventtypes/values/read") {
		t.Errorf("nobody: %d %s", status, resp.raw)
	}
	if status, _, resp = list(reader, "eventTimestamp ge 'soon'"); status != 400 {
		t.Errorf("bad filter: %d %s", status, resp.raw)
	}
	if r := e.call(reader, "GET", e.subScope()+"/providers/Microsoft.Insights/eventtypes/management/values", "2022-04-01", nil); r.status != 400 || r.code() != "InvalidApiVersionParameter" {
		t.Errorf("wrong api-version: %d %s", r.status, r.raw)
	}
}
