package cli

import (
	"context"
	"encoding/json"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRoleDefinitionInput(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(t *testing.T, props map[string]any, scopes []string)
	}{
		{name: "az shape", in: `{"Name":"Vault Peeker","IsCustom":true,"Description":"d","Actions":["Microsoft.KeyVault/vaults/read"],"DataActions":[],"AssignableScopes":["/subscriptions/s"]}`,
			check: func(t *testing.T, p map[string]any, scopes []string) {
				perms := p["permissions"].([]any)[0].(map[string]any)
				if p["roleName"] != "Vault Peeker" || p["type"] != "CustomRole" || len(scopes) != 1 || perms["notActions"] == nil {
					t.Errorf("%v %v", p, scopes)
				}
			}},
		{name: "lower-case keys and roleName", in: `{"roleName":"R","actions":["a/read"],"assignableScopes":["/subscriptions/s/resourceGroups/g"]}`,
			check: func(t *testing.T, p map[string]any, scopes []string) {
				if p["roleName"] != "R" || scopes[0] != "/subscriptions/s/resourceGroups/g" {
					t.Errorf("%v", p)
				}
			}},
		{name: "ARM shape", in: `{"properties":{"roleName":"R","permissions":[{"actions":["a/read"]}],"assignableScopes":["/subscriptions/s"]}}`,
			check: func(t *testing.T, p map[string]any, _ []string) {
				if len(p["permissions"].([]any)) != 1 {
					t.Errorf("%v", p)
				}
			}},
		{name: "no name", in: `{"Actions":["a/read"],"AssignableScopes":["/subscriptions/s"]}`, wantErr: "needs a Name"},
		{name: "no scopes", in: `{"Name":"R","Actions":["a/read"]}`, wantErr: "needs AssignableScopes"},
		{name: "not JSON", in: `Name: R`, wantErr: "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, scopes, err := roleDefinitionInput([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(body)
			var m map[string]any
			json.Unmarshal(data, &m)
			tt.check(t, m["properties"].(map[string]any), scopes)
		})
	}
}

func TestActivityFilter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name                       string
		start, end                 string
		offset                     time.Duration
		group, res, caller, status string
		want, wantErr              string
	}{
		{name: "default window", offset: time.Hour,
			want: "eventTimestamp ge '2026-05-01T11:00:00Z' and eventTimestamp le '2026-05-01T12:00:00Z'"},
		{name: "explicit window and narrowing", start: "2026-04-30T00:00:00Z", end: "2026-05-01T00:00:00+02:00", offset: time.Hour,
			group: "app", res: "/subscriptions/s/resourceGroups/app", caller: "o'id", status: "Failed",
			want: "eventTimestamp ge '2026-04-30T00:00:00Z' and eventTimestamp le '2026-04-30T22:00:00Z' and resourceGroupName eq 'app' and resourceUri eq '/subscriptions/s/resourceGroups/app' and caller eq 'o''id' and status eq 'Failed'"},
		{name: "bad time", start: "yesterday", offset: time.Hour, wantErr: "--start-time"},
		{name: "reversed", start: "2026-05-02T00:00:00Z", offset: time.Hour, wantErr: "before the start time"},
		{name: "zero offset", offset: 0, wantErr: "--offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := activityFilter(now, tt.start, tt.end, tt.offset, tt.group, tt.res, tt.caller, tt.status, "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v\nwant %q", got, err, tt.want)
			}
		})
	}
}

func TestFlattenAssignmentAndScopes(t *testing.T) {
	ra := map[string]any{"id": "/subscriptions/s/resourceGroups/App/providers/Microsoft.Authorization/roleAssignments/a", "name": "a",
		"type": "Microsoft.Authorization/roleAssignments", "properties": map[string]any{"scope": "/subscriptions/s/resourceGroups/App", "principalId": "p"}}
	flat := flattenAssignment(ra)
	if flat["resourceGroup"] != "App" || flat["principalId"] != "p" || flat["scope"] != "/subscriptions/s/resourceGroups/App" {
		t.Errorf("%v", flat)
	}
	for _, tt := range []struct {
		scope, target string
		want          bool
	}{
		{"/", "/subscriptions/s", true},
		{"/subscriptions/s", "/SUBSCRIPTIONS/s/resourceGroups/g", true},
		{"/subscriptions/s", "/subscriptions/st", false},
		{"/subscriptions/s/resourceGroups/g", "/subscriptions/s", false},
	} {
		if got := roleScopeCovers(tt.scope, tt.target); got != tt.want {
			t.Errorf("roleScopeCovers(%q, %q) = %v", tt.scope, tt.target, got)
		}
	}
	if got := rbacScope("s", "", "g"); got != "/subscriptions/s/resourceGroups/g" {
		t.Errorf("rbacScope group: %q", got)
	}
	if got := rbacPath("/", "roleDefinitions", nil); got != "/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01" {
		t.Errorf("rbacPath root: %q", got)
	}
}

// role check's denial of a data action checked without --data-action says so: the roles' actions
// never grant it, which reads as "no role allows this" otherwise.
func TestDataActionHint(t *testing.T) {
	for action, want := range map[string]bool{
		"Microsoft.KeyVault/vaults/secrets/getSecret/action":                                  true,
		"microsoft.keyvault/vaults/secrets/setSecret/action":                                  true,
		"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read":                true,
		"Microsoft.KeyVault/vaults/secrets/read":                                              false, // ARM's secret metadata: a control-plane action
		"Microsoft.KeyVault/vaults/read":                                                      false,
		"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write": false,
	} {
		if got := dataActionHint(action, false) != ""; got != want {
			t.Errorf("%s: hint %v, want %v", action, got, want)
		}
		if dataActionHint(action, true) != "" {
			t.Errorf("%s with --data-action: a hint", action)
		}
	}
}

// An assignee that looks like a sign-in name and matches no one points at the users, not at the
// service principals (it said "no service principal has object id, app id or identifier URI").
func TestAssigneeNotFoundNamesTheRightList(t *testing.T) {
	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value":[]}`)
	}))
	defer graph.Close()
	c := &apiClient{base: graph.URL, http: graph.Client(), cred: staticCredential{}}
	_, err := resolveAssignee(context.Background(), c, "ada@mint.localhost")
	if err == nil || !strings.Contains(err.Error(), `no user signs in as "ada@mint.localhost"; `+"`mint ad user list`") {
		t.Errorf("unknown sign-in name: %v", err)
	}
	_, err = resolveAssignee(context.Background(), c, "orders-api")
	if err == nil || !strings.Contains(err.Error(), "mint ad sp list") {
		t.Errorf("unknown app: %v", err)
	}
}

type staticCredential struct{}

func (staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}
