package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/google/uuid"
)

// People in the directory: users and security groups through the real Azure CLI (as the admin
// application, through mint's proxy), and a group's role reaching a managed identity nested two
// groups deep, granted with the Go SDK's armauthorization and used with azsecrets.

// azADUser is what az ad user create / show print.
type azADUser struct {
	ID, DisplayName, UserPrincipalName string
	ODataType                          string `json:"@odata.type"`
}

func TestPeopleWithAzureCLI(t *testing.T) {
	az := needAz(t)
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			tenant, adminID := m.Env["AZURE_TENANT_ID"], m.Env["AZURE_CLIENT_ID"]
			env := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
			if sk.name == "sqlite" { // az's argument parsing, not the store
				// A secret beginning with '-' (a generated one does, one time in 66) reaches mint and
				// is refused there as Entra refuses a wrong secret, not by az's parser.
				if r := runAz(t, env, az, "login", "--service-principal", "-u", adminID, "-p", "-not-the-secret", "--tenant", tenant, "-o", "none"); r.code == 0 ||
					!strings.Contains(r.stderr, "AADSTS7000215") {
					t.Errorf("a secret beginning with '-': exit %d, stderr %q; want AADSTS7000215", r.code, r.stderr)
				}
			}
			mustAz(t, env, az, nil, "login", "--service-principal", "-u", adminID, "-p", m.Env["AZURE_CLIENT_SECRET"], "--tenant", tenant, "-o", "none")

			// ARM's tenant list, which az reads after a person signs in.
			var tenants struct {
				Value []struct{ ID, TenantID, TenantCategory, DefaultDomain string }
			}
			mustAz(t, env, az, &tenants, "rest", "--method", "get", "--url", "https://management.azure.com/tenants?api-version=2019-11-01", "-o", "json")
			if len(tenants.Value) != 1 || tenants.Value[0].TenantID != tenant || tenants.Value[0].ID != "/tenants/"+tenant || tenants.Value[0].TenantCategory != "Home" {
				t.Errorf("GET /tenants: %+v", tenants)
			}

			// The developer mint dev made is in the directory, with its password file 0600.
			devFile := filepath.Join(m.dataDir, "developer.json")
			fi, err := os.Stat(devFile)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("developer file %s: %v, mode %v; want 0600", devFile, err, fi)
			}
			var dev struct{ UserPrincipalName, Password, ObjectID string }
			data, _ := os.ReadFile(devFile)
			mustJSON(t, string(data), &dev)
			if !strings.HasPrefix(dev.UserPrincipalName, "dev@") || len(dev.Password) < 16 || strings.Contains(m.log.String(), dev.Password) {
				t.Fatalf("developer %s: password missing or in the log", dev.UserPrincipalName)
			}
			domain := strings.TrimPrefix(dev.UserPrincipalName, "dev@")
			if !strings.HasSuffix(domain, ".localhost") {
				t.Errorf("default domain %q is not under the reserved .localhost", domain)
			}

			upn := "ada@" + domain
			var ada azADUser
			mustAz(t, env, az, &ada, "ad", "user", "create", "--display-name", "Ada Lovelace", "--user-principal-name", upn,
				"--password", "Analytical-3ngine", "-o", "json")
			if ada.ID == "" || ada.UserPrincipalName != upn || ada.ODataType != "#microsoft.graph.user" {
				t.Fatalf("az ad user create: %+v", ada)
			}
			// Reads, and bad input in Graph's words, through az: independent commands, run at once.
			refusals := []struct {
				what string
				args []string
				want string
			}{
				{"duplicate UPN", []string{"--user-principal-name", strings.ToUpper(upn), "--password", "Analytical-3ngine"}, "Another object with the same value for property userPrincipalName already exists."},
				{"UPN outside the tenant's domains", []string{"--user-principal-name", "ada@contoso.com", "--password", "Analytical-3ngine"}, "The domain portion of the userPrincipalName property is invalid."},
				{"weak password", []string{"--user-principal-name", "weak@" + domain, "--password", "password"}, "does not comply with password complexity requirements"},
				{"bad UPN characters", []string{"--user-principal-name", "a(b)@" + domain, "--password", "Analytical-3ngine"}, "Property userPrincipalName is invalid."},
			}
			cmds := [][]string{
				{"ad", "user", "show", "--id", strings.ToUpper(upn), "-o", "json"},
				{"ad", "user", "list", "--upn", upn, "-o", "json"},
				{"ad", "user", "list", "-o", "json"},
			}
			for _, tc := range refusals {
				cmds = append(cmds, append([]string{"ad", "user", "create", "--display-name", "x"}, tc.args...))
			}
			runs := azConcurrently(t, env, az, cmds...)
			var shown azADUser
			mustJSON(t, mustSucceed(t, runs[0]), &shown)
			if shown.ID != ada.ID {
				t.Errorf("az ad user show --id %s: %+v", upn, shown)
			}
			var users []azADUser
			mustJSON(t, mustSucceed(t, runs[1]), &users)
			if len(users) != 1 || users[0].ID != ada.ID {
				t.Errorf("az ad user list --upn: %+v", users)
			}
			mustJSON(t, mustSucceed(t, runs[2]), &users)
			if len(users) != 2 {
				t.Errorf("az ad user list: %d users, want the developer and ada", len(users))
			}
			for i, tc := range refusals {
				if r := runs[3+i]; r.code == 0 || !strings.Contains(r.stderr, tc.want) {
					t.Errorf("%s: exit %d, stderr %q; want a failure saying %q", tc.what, r.code, r.stderr, tc.want)
				}
			}

			// Groups: az looks the name up first ($filter displayName eq and mailNickname eq).
			var grp struct{ ID, DisplayName string }
			mustAz(t, env, az, &grp, "ad", "group", "create", "--display-name", "Vault readers", "--mail-nickname", "vault-readers", "-o", "json")
			var again struct{ ID string }
			mustAz(t, env, az, &again, "ad", "group", "create", "--display-name", "Vault readers", "--mail-nickname", "vault-readers", "-o", "json")
			if grp.ID == "" || again.ID != grp.ID {
				t.Fatalf("az ad group create twice: %+v then %+v, want the same group", grp, again)
			}
			var inner struct{ ID string }
			mustAz(t, env, az, &inner, "ad", "group", "create", "--display-name", "Inner team", "--mail-nickname", "inner", "-o", "json")
			// az resolves --group by name.
			mustAz(t, env, az, nil, "ad", "group", "member", "add", "--group", "Vault readers", "--member-id", inner.ID)
			mustAz(t, env, az, nil, "ad", "group", "member", "add", "--group", inner.ID, "--member-id", ada.ID)
			r := runAz(t, env, az, "ad", "group", "member", "add", "--group", inner.ID, "--member-id", ada.ID)
			if r.code == 0 || !strings.Contains(r.stderr, "already exist") {
				t.Errorf("adding a member twice: exit %d, %s", r.code, r.stderr)
			}
			var members []struct {
				ID        string
				ODataType string `json:"@odata.type"`
			}
			mustAz(t, env, az, &members, "ad", "group", "member", "list", "--group", grp.ID, "-o", "json")
			if len(members) != 1 || members[0].ID != inner.ID || members[0].ODataType != "#microsoft.graph.group" {
				t.Errorf("az ad group member list: %+v", members)
			}
			runs = azConcurrently(t, env, az,
				[]string{"ad", "group", "member", "check", "--group", grp.ID, "--member-id", ada.ID, "-o", "json"},
				[]string{"ad", "group", "member", "check", "--group", grp.ID, "--member-id", dev.ObjectID, "-o", "json"})
			var check struct{ Value bool }
			mustJSON(t, mustSucceed(t, runs[0]), &check)
			if !check.Value {
				t.Errorf("az ad group member check (ada through Inner team): %+v, want true", check)
			}
			mustJSON(t, mustSucceed(t, runs[1]), &check)
			if check.Value {
				t.Errorf("az ad group member check (the developer): true, want false")
			}

			// Bad input through az rest (az's own Graph token and pipeline).
			graph := "https://graph.microsoft.com/v1.0"
			big := filepath.Join(t.TempDir(), "big.json")
			body, _ := json.Marshal(map[string]any{"accountEnabled": true, "displayName": "big", "mailNickname": "big", "userPrincipalName": "big@" + domain,
				"passwordProfile": map[string]any{"password": strings.Repeat("Aa1!", 1<<18)}})
			os.WriteFile(big, body, 0o600)
			script := filepath.Join(t.TempDir(), "script.json")
			body, _ = json.Marshal(map[string]any{"accountEnabled": true, "displayName": "<script>alert(1)</script>", "mailNickname": "script",
				"userPrincipalName": "script@" + domain, "passwordProfile": map[string]any{"password": "Scr1pt-kiddie"}})
			os.WriteFile(script, body, 0o600)
			restRefusals := []struct {
				what, method, url, body, want string
			}{
				{"1 MB password", "post", graph + "/users", "@" + big, "does not comply with password complexity requirements"},
				{"remove a non-member", "delete", graph + "/groups/" + grp.ID + "/members/" + ada.ID + "/$ref", "", "Request_ResourceNotFound"},
				{"add an unknown object", "post", graph + "/groups/" + grp.ID + "/members/$ref", `{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/` + uuid.NewString() + `"}`, "Request_ResourceNotFound"},
				{"unknown user", "get", graph + "/users/" + uuid.NewString(), "", "Request_ResourceNotFound"},
				{"unknown group", "get", graph + "/groups/" + uuid.NewString(), "", "Request_ResourceNotFound"},
				{"/me with an application token", "get", graph + "/me", "", "only valid with delegated authentication"},
			}
			// A <script> display name is stored as given and returned JSON-escaped. This first
			// az rest also puts its token in az's cache before the refusals run at once.
			var scripted azADUser
			mustAz(t, env, az, &scripted, "rest", "--method", "post", "--url", graph+"/users", "--body", "@"+script, "-o", "json")
			cmds = nil
			for _, tc := range restRefusals {
				args := []string{"rest", "--method", tc.method, "--url", tc.url}
				if tc.body != "" {
					args = append(args, "--body", tc.body)
				}
				cmds = append(cmds, args)
			}
			for i, r := range azConcurrently(t, env, az, cmds...) {
				if tc := restRefusals[i]; r.code == 0 || !strings.Contains(r.stderr, tc.want) {
					t.Errorf("%s: exit %d, stderr %q; want a 4xx saying %q", tc.what, r.code, r.stderr, tc.want)
				}
			}
			raw := mustAz(t, env, az, nil, "rest", "--method", "get", "--url", graph+"/users/"+scripted.ID, "--debug")
			if scripted.DisplayName != "<script>alert(1)</script>" || !strings.Contains(raw.stderr, `\u003cscript\u003e`) {
				t.Errorf("script display name: %q; the raw response should carry \\u003cscript\\u003e", scripted.DisplayName)
			}
			mustAz(t, env, az, nil, "ad", "group", "member", "remove", "--group", inner.ID, "--member-id", ada.ID)
			mustAz(t, env, az, nil, "ad", "user", "delete", "--id", ada.ID)
			if r := runAz(t, env, az, "ad", "user", "show", "--id", ada.ID); r.code == 0 {
				t.Errorf("az ad user show after delete succeeded")
			}
		})
	}
}

func TestGroupRoleReachesNestedManagedIdentity(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			sc := seedScenario(t, m)
			var kv struct{ ID string }
			mustJSON(t, m.mustCLI("keyvault", "create", "-n", "kv-people", "-g", "app"), &kv)
			m.mustCLI("role", "assignment", "create", "--assignee", m.Env["AZURE_CLIENT_ID"], "--role", "Key Vault Secrets Officer", "--scope", kv.ID)
			m.mustCLI("keyvault", "secret", "set", "--vault-name", "kv-people", "-n", "db-password", "--value", readerSecret)

			// Outer ⊃ Inner ⊃ web-id (the container app's user-assigned identity), with mint's CLI.
			var outer, inner struct{ ID string }
			mustJSON(t, m.mustCLI("ad", "group", "create", "--display-name", "Outer", "--mail-nickname", "outer"), &outer)
			mustJSON(t, m.mustCLI("ad", "group", "create", "--display-name", "Inner", "--mail-nickname", "inner"), &inner)
			m.mustCLI("ad", "group", "member", "add", "--group", "Outer", "--member-id", inner.ID)
			m.mustCLI("ad", "group", "member", "add", "--group", "Inner", "--member-id", sc.uaPrincipal)
			var check struct{ Value bool }
			mustJSON(t, m.mustCLI("ad", "group", "member", "check", "--group", "Outer", "--member-id", sc.uaPrincipal), &check)
			if !check.Value {
				t.Fatal("mint ad group member check: the identity is not a transitive member of Outer")
			}

			// The Go SDK assigns "Key Vault Secrets User" to the outer GROUP.
			ctx := rbacCtx(t)
			c := m.rbacClients(t, m.adminCredential(t))
			_, err := c.ras.Create(ctx, kv.ID, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sc.sub, kvSecretsUserRoleID)), PrincipalID: to.Ptr(outer.ID),
				PrincipalType: to.Ptr(armauthorization.PrincipalTypeGroup)}}, nil)
			if err != nil {
				t.Fatalf("assign to the group: %v", err)
			}
			// A group that does not exist, and a group named as a user: PrincipalNotFound.
			_, err = c.ras.Create(ctx, kv.ID, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sc.sub, kvSecretsUserRoleID)), PrincipalID: to.Ptr(uuid.NewString()),
				PrincipalType: to.Ptr(armauthorization.PrincipalTypeGroup)}}, nil)
			responseError(t, err, 400, "PrincipalNotFound")
			_, err = c.ras.Create(ctx, kv.ID, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(roleDefID(sc.sub, kvSecretsUserRoleID)), PrincipalID: to.Ptr(inner.ID)}}, nil)
			responseError(t, err, 400, "PrincipalNotFound")
			// assignedTo('{identity}') lists the group's assignment.
			pager := c.ras.NewListForScopePager(kv.ID, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr("assignedTo('" + sc.uaPrincipal + "')")})
			var via []string
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range page.Value {
					via = append(via, *a.Properties.PrincipalID)
				}
			}
			if !slices.Contains(via, outer.ID) {
				t.Errorf("assignedTo(identity) = %v, want the Outer group's assignment", via)
			}

			// The identity reads the secret under mint run, with azsecrets.
			runEnv := m.printedEnv(t, "MINT_DATA_DIR")
			read := []string{"-vault", "kv-people", "-secret", "db-password", "-managed-identity", "-client-id", sc.uaClientID}
			stdout, stderr, code := runReaderAs(t, runEnv, sc.appID, read...)
			if code != 0 || stdout != readerSecret+"\n" {
				t.Fatalf("reader through the nested group: exit %d, %q\n%s", code, stdout, stderr)
			}
			// The explainer names the group path.
			out, _ := m.cli("role", "check", "--assignee", sc.uaPrincipal, "--action", "Microsoft.KeyVault/vaults/secrets/getSecret/action",
				"--data-action", "--scope", kv.ID+"/secrets/db-password")
			if want := `through group \"Outer\" (` + outer.ID + `) ⊃ \"Inner\" (` + inner.ID + `)`; !strings.Contains(out, want) {
				t.Errorf("mint role check does not name the group path %s:\n%s", want, out)
			}

			// Removed from Inner: ForbiddenByRbac within a second.
			m.mustCLI("ad", "group", "member", "remove", "--group", "Inner", "--member-id", sc.uaPrincipal)
			removed := time.Now()
			for {
				started := time.Now()
				stdout, stderr, code := runReaderAs(t, runEnv, sc.appID, read...)
				if code != 0 {
					if !strings.Contains(stderr, "ForbiddenByRbac") {
						t.Fatalf("after removal: exit %d, want ForbiddenByRbac:\n%s", code, stderr)
					}
					t.Logf("refused %v after the removal", time.Since(removed).Round(time.Millisecond))
					break
				}
				if started.Sub(removed) > time.Second {
					t.Fatalf("still reads the secret (%q) %v after leaving the group", stdout, started.Sub(removed))
				}
			}
		})
	}
}

// A person signed in with az (mint dev's developer, then ordinary users): /me, who may change the
// directory with a delegated token, and the owners of the applications members register.
func TestPersonManagesTheDirectory(t *testing.T) {
	az := needAz(t)
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			dev := readDeveloper(t, m)
			domain := strings.TrimPrefix(dev.UserPrincipalName, "dev@")
			devEnv := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
			mustAz(t, devEnv, az, nil, "login", "-u", dev.UserPrincipalName, "-p", dev.Password, "-o", "none")

			var me azADUser
			mustAz(t, devEnv, az, &me, "ad", "signed-in-user", "show", "-o", "json")
			if me.ID != dev.ObjectID || me.UserPrincipalName != dev.UserPrincipalName || me.ODataType != "#microsoft.graph.user" {
				t.Fatalf("az ad signed-in-user show: %+v, want %s", me, dev.UserPrincipalName)
			}
			// The developer administers the directory: creates a user and a group, adds a member.
			var bob azADUser
			mustAz(t, devEnv, az, &bob, "ad", "user", "create", "--display-name", "Bob", "--user-principal-name", "bob@"+domain,
				"--password", "B0b-the-builder", "-o", "json")
			// Bob signs in meanwhile (his own az, his own config directory), to spare the suite an
			// az start-up's wait.
			bobEnv := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
			bobLogin := make(chan azRun, 1)
			var wg sync.WaitGroup
			t.Cleanup(wg.Wait)
			wg.Go(func() {
				r, err := execAz(t, bobEnv, az, "login", "-u", "bob@"+domain, "-p", "B0b-the-builder", "--allow-no-subscriptions", "-o", "none")
				if err != nil {
					r = azRun{cmdline: "az login -u bob", code: -1, stderr: err.Error()}
				}
				bobLogin <- r
			})
			var grp struct{ ID string }
			mustAz(t, devEnv, az, &grp, "ad", "group", "create", "--display-name", "Builders", "--mail-nickname", "builders", "-o", "json")
			mustAz(t, devEnv, az, nil, "ad", "group", "member", "add", "--group", grp.ID, "--member-id", bob.ID)
			var groups []string
			mustAz(t, devEnv, az, &groups, "ad", "user", "get-member-groups", "--id", bob.ID, "--query", "[].id", "-o", "json")
			if len(groups) != 1 || groups[0] != grp.ID {
				t.Errorf("az ad user get-member-groups (getMemberGroups, then getByIds): %v, want [%s]", groups, grp.ID)
			}

			// Bob, an ordinary person, may read the directory (and himself) but not change it.
			mustSucceed(t, <-bobLogin)
			mustAz(t, bobEnv, az, &me, "ad", "signed-in-user", "show", "-o", "json") // and az caches bob's Graph token
			if me.ID != bob.ID {
				t.Errorf("az ad signed-in-user show as bob: %+v", me)
			}
			runs := azConcurrently(t, bobEnv, az,
				[]string{"ad", "user", "show", "--id", dev.UserPrincipalName, "-o", "json"},
				[]string{"ad", "user", "create", "--display-name", "Eve", "--user-principal-name", "eve@" + domain, "--password", "Ev3-the-intruder"})
			var shown azADUser
			mustJSON(t, mustSucceed(t, runs[0]), &shown)
			if shown.ID != dev.ObjectID {
				t.Errorf("bob reads the developer: %+v", shown)
			}
			if r := runs[1]; r.code == 0 || !strings.Contains(r.stderr, "Insufficient privileges") {
				t.Errorf("bob creating a user: exit %d, %s; want Graph's Authorization_RequestDenied", r.code, r.stderr)
			}

			// As in Entra, any member registers applications and owns them: Bob registers one,
			// adds a secret to it and creates its service principal. Carol, another member, may not change it (Graph's 403) until Bob
			// makes her an owner with az ad app owner add (which lists the owners first). Carol
			// signs in meanwhile, to spare the suite an az start-up.
			var carol azADUser
			mustJSON(t, m.mustCLI("ad", "user", "create", "--display-name", "Carol", "--user-principal-name", "carol@"+domain, "--password", "C4rol-the-coder"), &carol)
			carolEnv := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
			carolLogin := make(chan azRun, 1)
			wg.Go(func() {
				r, err := execAz(t, carolEnv, az, "login", "-u", "carol@"+domain, "-p", "C4rol-the-coder", "--allow-no-subscriptions", "-o", "none")
				if err != nil {
					r = azRun{cmdline: "az login -u carol", code: -1, stderr: err.Error()}
				}
				carolLogin <- r
			})
			var app struct{ ID, AppID string }
			mustAz(t, bobEnv, az, &app, "ad", "app", "create", "--display-name", "bobs-tool", "-o", "json")
			// Three commands of the owner's at once, none depending on another's answer.
			runs = azConcurrently(t, bobEnv, az,
				[]string{"ad", "app", "credential", "reset", "--id", app.AppID, "--append", "-o", "json"},
				[]string{"ad", "sp", "create", "--id", app.AppID, "-o", "json"},
				[]string{"ad", "app", "list", "--show-mine", "--query", "[].appId", "-o", "json"})
			var secret struct{ AppID, Password string }
			mustJSON(t, mustSucceed(t, runs[0]), &secret)
			if secret.AppID != app.AppID || secret.Password == "" {
				t.Errorf("az ad app credential reset by the owner: %+v", secret)
			}
			var sp struct{ ID, AppID, ServicePrincipalType string }
			mustJSON(t, mustSucceed(t, runs[1]), &sp)
			if sp.ID != app.ID || sp.AppID != app.AppID || sp.ServicePrincipalType != "Application" {
				t.Errorf("az ad sp create by the owner: %+v, want the application's service principal %s", sp, app.ID)
			}
			var mine []string // /me/ownedObjects, filtered by az on @odata.type
			mustJSON(t, mustSucceed(t, runs[2]), &mine)
			if len(mine) != 1 || mine[0] != app.AppID {
				t.Errorf("az ad app list --show-mine as bob: %v, want [%s]", mine, app.AppID)
			}
			mustSucceed(t, <-carolLogin)
			r := runAz(t, carolEnv, az, "ad", "app", "update", "--id", app.AppID, "--display-name", "carols-tool")
			if r.code == 0 || !strings.Contains(r.stderr, "Insufficient privileges to complete the operation.") {
				t.Errorf("carol updating bob's app: exit %d, %s; want Graph's Authorization_RequestDenied", r.code, r.stderr)
			}
			mustAz(t, bobEnv, az, nil, "ad", "app", "owner", "add", "--id", app.AppID, "--owner-object-id", carol.ID)
			mustAz(t, carolEnv, az, nil, "ad", "app", "update", "--id", app.AppID, "--display-name", "carols-tool")
			// mint's own CLI, in az's shape, as the admin application.
			var listed []azADUser
			mustJSON(t, m.mustCLI("ad", "app", "owner", "list", "--id", app.AppID), &listed)
			if len(listed) != 2 || listed[0].ID != bob.ID || listed[1].ID != carol.ID || listed[1].ODataType != "#microsoft.graph.user" {
				t.Errorf("mint ad app owner list: %+v, want bob and carol", listed)
			}
			m.mustCLI("ad", "app", "owner", "remove", "--id", app.AppID, "--owner-object-id", bob.ID)
			m.mustCLI("ad", "app", "owner", "add", "--id", app.AppID, "--owner-object-id", carol.ID) // already one: nothing to do, as az
			mustJSON(t, m.mustCLI("ad", "app", "owner", "list", "--id", app.AppID), &listed)
			if len(listed) != 1 || listed[0].ID != carol.ID {
				t.Errorf("mint ad app owner list after removing bob: %+v, want carol", listed)
			}
		})
	}
}
