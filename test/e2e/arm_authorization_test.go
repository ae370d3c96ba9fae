package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/google/uuid"
)

// Built-in role ids (the same in every cloud).
const (
	ownerRoleID          = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	contributorRoleID    = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	readerRoleID         = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	kvSecretsUserRoleID  = "4633458b-17de-408a-b874-0445c86b69e6"
	getSecretDataAction  = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
	roleAssignmentsWrite = "Microsoft.Authorization/roleAssignments/write"
)

// rbacClientOptions points a real ARM SDK client at mint's management endpoint.
func (m *mint) rbacClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{
		ActiveDirectoryAuthorityHost: m.Env["AZURE_AUTHORITY_HOST"],
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: m.URL, Audience: "https://management.azure.com/"},
		},
	}}}
}

// rbacApp is an application registered with `mint ad app create` and given a secret.
type rbacApp struct {
	appID, objectID, secret string
	cred                    azcore.TokenCredential
}

func (m *mint) newRBACApp(t *testing.T, name string) rbacApp {
	t.Helper()
	var app struct {
		AppID string `json:"appId"`
		ID    string `json:"id"`
	}
	mustJSON(t, m.mustCLI("ad", "app", "create", "--display-name", name), &app)
	var cred struct {
		Password string `json:"password"`
	}
	mustJSON(t, m.mustCLI("ad", "app", "credential", "reset", "--id", app.AppID), &cred)
	if app.AppID == "" || app.ID == "" || cred.Password == "" {
		t.Fatalf("app %s: %+v", name, app)
	}
	return rbacApp{appID: app.AppID, objectID: app.ID, secret: cred.Password, cred: m.secretCredential(t, app.AppID, cred.Password)}
}

type rbacClients struct {
	defs   *armauthorization.RoleDefinitionsClient
	ras    *armauthorization.RoleAssignmentsClient
	groups *armresources.ResourceGroupsClient
	ids    *armmsi.UserAssignedIdentitiesClient
}

func (m *mint) rbacClients(t *testing.T, cred azcore.TokenCredential) rbacClients {
	t.Helper()
	sub := m.Env["AZURE_SUBSCRIPTION_ID"]
	opts := m.rbacClientOptions()
	defs, err := armauthorization.NewRoleDefinitionsClient(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	ras, err := armauthorization.NewRoleAssignmentsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := armresources.NewResourceGroupsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := armmsi.NewUserAssignedIdentitiesClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rbacClients{defs: defs, ras: ras, groups: groups, ids: ids}
}

// responseError returns err as the ARM error it should be, failing the test otherwise.
func responseError(t *testing.T, err error, status int, code string) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want %d %s, got %v", status, code, err)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("want %d %s, got %d %s: %v", status, code, re.StatusCode, re.ErrorCode, err)
	}
	return re
}

func rbacCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (m *mint) createGroup(t *testing.T, c rbacClients, name string) string {
	t.Helper()
	g, err := c.groups.CreateOrUpdate(rbacCtx(t), name, armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil)
	if err != nil {
		t.Fatalf("create group %s: %v", name, err)
	}
	return *g.ID
}

func roleDefID(sub, guid string) string {
	return "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
}

func TestRoleDefinitionsWithSDK(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			ctx := rbacCtx(t)
			sub := m.Env["AZURE_SUBSCRIPTION_ID"]
			scope := "/subscriptions/" + sub
			c := m.rbacClients(t, m.adminCredential(t))

			reader, err := c.defs.Get(ctx, scope, readerRoleID, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := reader.Properties
			if *reader.ID != roleDefID(sub, readerRoleID) || *reader.Name != readerRoleID || *p.RoleName != "Reader" || *p.RoleType != "BuiltInRole" ||
				len(p.AssignableScopes) != 1 || *p.AssignableScopes[0] != "/" || len(p.Permissions) != 1 || *p.Permissions[0].Actions[0] != "*/read" ||
				p.Permissions[0].NotActions == nil || p.Permissions[0].DataActions == nil {
				t.Errorf("Reader: %+v %+v", reader.RoleDefinition, p)
			}
			tenantLevel, err := c.defs.GetByID(ctx, "/providers/Microsoft.Authorization/roleDefinitions/"+kvSecretsUserRoleID, nil)
			if err != nil || *tenantLevel.ID != "/providers/Microsoft.Authorization/roleDefinitions/"+kvSecretsUserRoleID {
				t.Fatalf("GetByID: %v %+v", err, tenantLevel)
			}
			_, err = c.defs.Get(ctx, scope, uuid.NewString(), nil)
			responseError(t, err, 404, "RoleDefinitionDoesNotExist")

			pager := c.defs.NewListPager(scope, &armauthorization.RoleDefinitionsClientListOptions{Filter: to.Ptr("roleName eq 'Key Vault Secrets User'")})
			var found []string
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, rd := range page.Value {
					found = append(found, *rd.Name)
				}
			}
			if strings.Join(found, ",") != kvSecretsUserRoleID {
				t.Errorf("list by name: %v", found)
			}

			// A custom role: created (201), listed, deleted (200 with it, then 204).
			guid := uuid.NewString()
			custom := armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
				RoleName: to.Ptr("Vault Peeker " + guid[:8]), Description: to.Ptr("reads vault metadata"), RoleType: to.Ptr("CustomRole"),
				Permissions:      []*armauthorization.Permission{{Actions: []*string{to.Ptr("Microsoft.KeyVault/vaults/read")}}},
				AssignableScopes: []*string{to.Ptr(scope)},
			}}
			created, err := c.defs.CreateOrUpdate(ctx, scope, guid, custom, nil)
			if err != nil {
				t.Fatal(err)
			}
			if *created.ID != roleDefID(sub, guid) || *created.Properties.RoleType != "CustomRole" {
				t.Errorf("created %+v", created.Properties)
			}
			_, err = c.defs.CreateOrUpdate(ctx, scope, uuid.NewString(), custom, nil)
			responseError(t, err, 409, "RoleDefinitionWithSameNameExists")
			_, err = c.defs.CreateOrUpdate(ctx, scope, readerRoleID, custom, nil)
			responseError(t, err, 400, "CannotModifyBuiltInRole")

			pager = c.defs.NewListPager(scope, &armauthorization.RoleDefinitionsClientListOptions{Filter: to.Ptr("type eq 'CustomRole'")})
			found = nil
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, rd := range page.Value {
					found = append(found, *rd.Name)
				}
			}
			if strings.Join(found, ",") != guid {
				t.Errorf("custom roles: %v", found)
			}
			deleted, err := c.defs.Delete(ctx, scope, guid, nil)
			if err != nil || deleted.Name == nil || *deleted.Name != guid {
				t.Fatalf("delete: %v %+v", err, deleted)
			}
			if _, err := c.defs.Delete(ctx, scope, guid, nil); err != nil {
				t.Fatalf("delete again (204): %v", err)
			}
		})
	}
}

func TestRoleAssignmentsWithSDK(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			ctx := rbacCtx(t)
			sub := m.Env["AZURE_SUBSCRIPTION_ID"]
			subScope := "/subscriptions/" + sub
			admin := m.rbacClients(t, m.adminCredential(t))
			rg := m.createGroup(t, admin, "app")
			worker := m.newRBACApp(t, "worker")

			name := uuid.NewString()
			params := armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sub, readerRoleID)),
				PrincipalID:      to.Ptr(worker.objectID),
				PrincipalType:    to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
			}}
			created, err := admin.ras.Create(ctx, rg, name, params, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantID := rg + "/providers/Microsoft.Authorization/roleAssignments/" + name
			cp := created.Properties
			if !strings.EqualFold(*created.ID, wantID) || *cp.RoleDefinitionID != roleDefID(sub, readerRoleID) || *cp.PrincipalID != worker.objectID ||
				*cp.PrincipalType != armauthorization.PrincipalTypeServicePrincipal || !strings.EqualFold(*cp.Scope, rg) || cp.CreatedOn == nil || cp.Description != nil {
				t.Errorf("created %s %+v", *created.ID, cp)
			}
			again, err := admin.ras.Create(ctx, rg, name, params, nil)
			if err != nil || *again.Name != name {
				t.Fatalf("same PUT again: %v", err)
			}
			_, err = admin.ras.Create(ctx, rg, uuid.NewString(), params, nil)
			responseError(t, err, 409, "RoleAssignmentExists")

			got, err := admin.ras.Get(ctx, rg, name, nil)
			if err != nil || *got.Name != name {
				t.Fatalf("Get: %v", err)
			}
			byID, err := admin.ras.GetByID(ctx, *created.ID, nil)
			if err != nil || *byID.Name != name {
				t.Fatalf("GetByID: %v", err)
			}

			// PrincipalNotFound: a principal the directory does not have, and the default type User
			// for a service principal.
			ghost := params
			ghost.Properties = &armauthorization.RoleAssignmentProperties{RoleDefinitionID: params.Properties.RoleDefinitionID,
				PrincipalID: to.Ptr(uuid.NewString()), PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}
			_, err = admin.ras.Create(ctx, rg, uuid.NewString(), ghost, nil)
			re := responseError(t, err, 400, "PrincipalNotFound")
			if !strings.Contains(re.Error(), "does not exist in the directory "+m.Env["AZURE_TENANT_ID"]) {
				t.Errorf("message: %v", re)
			}
			asUser := armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sub, contributorRoleID)), PrincipalID: to.Ptr(worker.objectID)}}
			_, err = admin.ras.Create(ctx, rg, uuid.NewString(), asUser, nil)
			responseError(t, err, 400, "PrincipalNotFound")
			asUser.Properties.PrincipalType = to.Ptr(armauthorization.PrincipalTypeUser)
			_, err = admin.ras.Create(ctx, rg, uuid.NewString(), asUser, nil)
			responseError(t, err, 400, "PrincipalNotFound")

			collect := func(pager interface {
				More() bool
			}, next func() ([]*armauthorization.RoleAssignment, error)) []string {
				var out []string
				for pager.More() {
					page, err := next()
					if err != nil {
						t.Fatal(err)
					}
					for _, ra := range page {
						out = append(out, *ra.Name)
					}
				}
				return out
			}
			has := func(list []string, n string) bool {
				for _, x := range list {
					if x == n {
						return true
					}
				}
				return false
			}
			// atScope() at the subscription: at or above only, so not the group's assignment.
			sp := admin.ras.NewListForScopePager(subScope, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr("atScope()")})
			atScope := collect(sp, func() ([]*armauthorization.RoleAssignment, error) {
				p, err := sp.NextPage(ctx)
				return p.Value, err
			})
			if has(atScope, name) || len(atScope) == 0 {
				t.Errorf("atScope() at the subscription: %v", atScope)
			}
			// principalId: that principal at, above and below.
			sp = admin.ras.NewListForScopePager(subScope, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr("principalId eq '" + worker.objectID + "'")})
			mine := collect(sp, func() ([]*armauthorization.RoleAssignment, error) {
				p, err := sp.NextPage(ctx)
				return p.Value, err
			})
			if strings.Join(mine, ",") != name {
				t.Errorf("principalId filter: %v", mine)
			}
			ls := admin.ras.NewListForSubscriptionPager(nil)
			all := collect(ls, func() ([]*armauthorization.RoleAssignment, error) {
				p, err := ls.NextPage(ctx)
				return p.Value, err
			})
			if !has(all, name) || len(all) < 2 {
				t.Errorf("ListForSubscription: %v", all)
			}
			lg := admin.ras.NewListForResourceGroupPager("app", nil)
			inGroup := collect(lg, func() ([]*armauthorization.RoleAssignment, error) {
				p, err := lg.NextPage(ctx)
				return p.Value, err
			})
			if !has(inGroup, name) {
				t.Errorf("ListForResourceGroup: %v", inGroup)
			}

			// The Reader now reads, and still cannot assign.
			workerC := m.rbacClients(t, worker.cred)
			if _, err := workerC.ras.Get(ctx, rg, name, nil); err != nil {
				t.Fatalf("reader reads its assignment: %v", err)
			}
			_, err = workerC.ras.Create(ctx, rg, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sub, ownerRoleID)), PrincipalID: to.Ptr(worker.objectID), PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil)
			responseError(t, err, 403, "AuthorizationFailed")

			deleted, err := admin.ras.Delete(ctx, rg, name, nil)
			if err != nil || deleted.Name == nil || *deleted.Name != name || *deleted.Properties.PrincipalID != worker.objectID {
				t.Fatalf("delete: %v %+v", err, deleted)
			}
			if _, err := admin.ras.Delete(ctx, rg, name, nil); err != nil {
				t.Fatalf("delete again (204): %v", err)
			}
			_, err = admin.ras.GetByID(ctx, *created.ID, nil)
			responseError(t, err, 404, "RoleAssignmentNotFound")
		})
	}
}

func TestRBACIsEnforcedLikeAzure(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			ctx := rbacCtx(t)
			sub := m.Env["AZURE_SUBSCRIPTION_ID"]
			admin := m.rbacClients(t, m.adminCredential(t))
			team := m.createGroup(t, admin, "team")
			m.createGroup(t, admin, "other")

			// A principal without any role is refused reads and writes, and told what is missing.
			nobody := m.newRBACApp(t, "nobody")
			nc := m.rbacClients(t, nobody.cred)
			_, err := nc.groups.Get(ctx, "team", nil)
			re := responseError(t, err, 403, "AuthorizationFailed")
			if !strings.Contains(re.Error(), "does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourceGroups/read'") ||
				!strings.Contains(re.Error(), "mint: principal "+nobody.objectID+" has no role granting") {
				t.Errorf("read refusal: %v", re)
			}
			_, err = nc.groups.CreateOrUpdate(ctx, "mine", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil)
			responseError(t, err, 403, "AuthorizationFailed")
			pager := nc.ras.NewListForSubscriptionPager(nil)
			_, err = pager.NextPage(ctx)
			responseError(t, err, 403, "AuthorizationFailed")

			// A Contributor at a group manages resources in it, nothing outside it, and no access.
			contrib := m.newRBACApp(t, "contrib")
			if _, err := admin.ras.Create(ctx, team, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sub, contributorRoleID)), PrincipalID: to.Ptr(contrib.objectID),
				PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil); err != nil {
				t.Fatal(err)
			}
			cc := m.rbacClients(t, contrib.cred)
			id, err := cc.ids.CreateOrUpdate(ctx, "team", "web-id", armmsi.Identity{Location: to.Ptr("westeurope")}, nil)
			if err != nil {
				t.Fatalf("contributor creates an identity in its group: %v", err)
			}
			_, err = cc.ids.CreateOrUpdate(ctx, "other", "web-id", armmsi.Identity{Location: to.Ptr("westeurope")}, nil)
			responseError(t, err, 403, "AuthorizationFailed")
			_, err = cc.groups.CreateOrUpdate(ctx, "contrib-own", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil)
			responseError(t, err, 403, "AuthorizationFailed")
			_, err = cc.ras.Create(ctx, team, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sub, readerRoleID)), PrincipalID: to.Ptr(*id.Properties.PrincipalID),
				PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil)
			re = responseError(t, err, 403, "AuthorizationFailed")
			if !strings.Contains(re.Error(), "'"+roleAssignmentsWrite+"'") || !strings.Contains(re.Error(), "Contributor") {
				t.Errorf("contributor assigning: %v", re)
			}
			if _, err := cc.groups.Get(ctx, "team", nil); err != nil {
				t.Errorf("contributor reads its group: %v", err)
			}
			_, err = cc.groups.Get(ctx, "other", nil)
			responseError(t, err, 403, "AuthorizationFailed")

			// An Owner at the subscription creates groups and assigns roles.
			owner := m.newRBACApp(t, "owner")
			if _, err := admin.ras.Create(ctx, "/subscriptions/"+sub, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sub, ownerRoleID)), PrincipalID: to.Ptr(owner.objectID),
				PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil); err != nil {
				t.Fatal(err)
			}
			oc := m.rbacClients(t, owner.cred)
			m.createGroup(t, oc, "owned")
			if _, err := oc.ras.Create(ctx, team, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sub, readerRoleID)), PrincipalID: to.Ptr(*id.Properties.PrincipalID),
				PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil); err != nil {
				t.Fatalf("owner assigns a role: %v", err)
			}
		})
	}
}

func TestRoleCheckAndActivityLogCLI(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			ctx := rbacCtx(t)
			sub := m.Env["AZURE_SUBSCRIPTION_ID"]
			admin := m.rbacClients(t, m.adminCredential(t))
			rg := m.createGroup(t, admin, "app")
			vault := rg + "/providers/Microsoft.KeyVault/vaults/kv1"
			web := m.newRBACApp(t, "web")

			// az-shaped assignment: --assignee resolved through Graph, ServicePrincipal by default.
			var ra map[string]any
			mustJSON(t, m.mustCLI("role", "assignment", "create", "--assignee", web.appID, "--role", "Reader", "--scope", rg), &ra)
			if ra["principalId"] != web.objectID || ra["principalType"] != "ServicePrincipal" || ra["roleDefinitionId"] != roleDefID(sub, readerRoleID) ||
				ra["resourceGroup"] != "app" {
				t.Fatalf("assignment create: %v", ra)
			}
			var list []map[string]any
			mustJSON(t, m.mustCLI("role", "assignment", "list", "--assignee", web.appID, "--all"), &list)
			if len(list) != 1 || list[0]["roleDefinitionName"] != "Reader" || list[0]["principalName"] != web.appID {
				t.Fatalf("assignment list: %v", list)
			}
			if out := m.mustCLI("role", "assignment", "list", "--scope", rg, "-o", "table"); !strings.Contains(out, "Reader") || !strings.Contains(out, web.appID) {
				t.Errorf("table:\n%s", out)
			}

			// mint role check: denied (exit 3) with the role that would fix it, then allowed.
			out, err := m.cli("role", "check", "--assignee", web.appID, "--action", getSecretDataAction, "--data-action", "--scope", vault)
			if err == nil || !strings.Contains(err.Error(), "exit status 3") {
				t.Fatalf("check, denied: %v\n%s", err, out)
			}
			var x map[string]any
			mustJSON(t, out, &x)
			sugg, _ := x["suggestion"].(map[string]any)
			if x["allowed"] != false || sugg["roleName"] != "Key Vault Secrets User" || sugg["scope"] != vault ||
				!strings.Contains(x["summary"].(string), "has no role granting "+getSecretDataAction) {
				t.Errorf("explanation: %v", x)
			}
			m.mustCLI("role", "assignment", "create", "--assignee", web.objectID, "--role", kvSecretsUserRoleID, "--scope", vault)
			mustJSON(t, m.mustCLI("role", "check", "--assignee", web.appID, "--action", getSecretDataAction, "--data-action", "--scope", vault), &x)
			granted, _ := x["grantedBy"].(map[string]any)
			if x["allowed"] != true || granted["roleName"] != "Key Vault Secrets User" {
				t.Errorf("check, allowed: %v", x)
			}
			// Anyone may explain their own access, not someone else's.
			if _, err := m.cli("role", "check", "--action", "Microsoft.KeyVault/vaults/read", "--scope", vault,
				"--client-id", web.appID, "--client-secret", web.secret); err != nil {
				t.Errorf("own check (Reader reads): %v", err)
			}
			nosy := m.newRBACApp(t, "nosy")
			if _, err := m.cli("role", "check", "--assignee", web.objectID, "--action", "Microsoft.KeyVault/vaults/read", "--scope", vault,
				"--client-id", nosy.appID, "--client-secret", nosy.secret); err == nil || !strings.Contains(err.Error(), "AuthorizationFailed") {
				t.Errorf("nosy check: %v", err)
			}

			// Custom roles and definitions through the CLI.
			var defs []map[string]any
			mustJSON(t, m.mustCLI("role", "definition", "list", "--name", "Reader"), &defs)
			if len(defs) != 1 || defs[0]["roleType"] != "BuiltInRole" || defs[0]["name"] != readerRoleID {
				t.Errorf("definition list: %v", defs)
			}
			file := filepath.Join(t.TempDir(), "role.json")
			os.WriteFile(file, []byte(`{"Name":"Vault Peeker","Description":"reads vaults","Actions":["Microsoft.KeyVault/vaults/read"],"AssignableScopes":["/subscriptions/`+sub+`"]}`), 0o600)
			var custom map[string]any
			mustJSON(t, m.mustCLI("role", "definition", "create", "--role-definition", "@"+file), &custom)
			if custom["roleType"] != "CustomRole" || custom["roleName"] != "Vault Peeker" {
				t.Errorf("definition create: %v", custom)
			}
			mustJSON(t, m.mustCLI("role", "definition", "list", "--custom-role-only"), &defs)
			if len(defs) != 1 {
				t.Errorf("custom roles: %v", defs)
			}
			m.mustCLI("role", "definition", "delete", "--name", "Vault Peeker")

			// A refused write, then the activity log: who, what, how it ended, with correlation ids.
			nc := m.rbacClients(t, nosy.cred)
			_, err = nc.ras.Create(ctx, rg, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sub, ownerRoleID)), PrincipalID: to.Ptr(nosy.objectID),
				PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil)
			responseError(t, err, http.StatusForbidden, "AuthorizationFailed")

			var events []map[string]any
			mustJSON(t, m.mustCLI("activity-log", "list", "--caller", nosy.objectID, "--offset", "1h"), &events)
			var failed map[string]any
			for _, ev := range events {
				if ev["operationName"].(map[string]any)["value"] == roleAssignmentsWrite {
					failed = ev
				}
			}
			if failed == nil || failed["status"].(map[string]any)["value"] != "Failed" || failed["subStatus"].(map[string]any)["value"] != "Forbidden" ||
				failed["correlationId"] == "" || failed["caller"] != nosy.objectID {
				t.Fatalf("refused write in the log: %v", events)
			}
			mustJSON(t, m.mustCLI("activity-log", "list", "--resource-group", "app", "--status", "Succeeded"), &events)
			var writes int
			for _, ev := range events {
				if ev["operationName"].(map[string]any)["value"] == roleAssignmentsWrite && ev["caller"] != "" && ev["correlationId"] != "" {
					writes++
				}
			}
			if writes < 2 {
				t.Errorf("successful assignment writes in the log: %d of %v", writes, events)
			}
			if out := m.mustCLI("activity-log", "list", "-o", "table"); !strings.Contains(out, "Failed") || !strings.Contains(out, "Succeeded") {
				t.Errorf("activity table:\n%s", out)
			}

			m.mustCLI("role", "assignment", "delete", "--assignee", web.appID, "--role", "Reader", "--scope", rg)
			mustJSON(t, m.mustCLI("role", "assignment", "list", "--assignee", web.appID, "--all"), &list)
			if len(list) != 1 || list[0]["roleDefinitionName"] != "Key Vault Secrets User" {
				t.Fatalf("after delete: %v", list)
			}
			m.mustCLI("role", "assignment", "delete", "--ids", list[0]["id"].(string))
			mustJSON(t, m.mustCLI("role", "assignment", "list", "--assignee", web.appID, "--all"), &list)
			if len(list) != 0 {
				t.Errorf("after delete --ids: %v", list)
			}
		})
	}
}
