package e2e

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/jackc/pgx/v5"
)

// The Key Vault: vaults through the real armkeyvault client, secrets through the real,
// unmodified azsecrets client with its default challenge verification. The only thing changed
// about the client is name resolution: its transport dials *.vault.localhost at mint's address.

const (
	kvSecretsOfficerRole = "Key Vault Secrets Officer"
	kvSecretsUserRole    = "Key Vault Secrets User"
)

// port is mint's TLS port.
func (m *mint) port() string {
	u, _ := url.Parse(m.URL)
	return u.Port()
}

// vaultURL is the URL of a vault under the default suffix.
func (m *mint) vaultURL(name string) string {
	return "https://" + name + ".vault.localhost:" + m.port()
}

// vaultTransport resolves *.vault.localhost to mint's loopback address; everything else about
// the HTTP client is the default (mint's CA is trusted through SSL_CERT_FILE).
func (m *mint) vaultTransport() *http.Client {
	u, _ := url.Parse(m.URL)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && strings.HasSuffix(host, ".vault.localhost") {
			addr = net.JoinHostPort(u.Hostname(), port)
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

func (m *mint) secretsClient(t *testing.T, vault string, cred azcore.TokenCredential) *azsecrets.Client {
	t.Helper()
	c, err := azsecrets.NewClient(m.vaultURL(vault), cred, &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: m.vaultTransport()}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (m *mint) vaultsClient(t *testing.T, cred azcore.TokenCredential) *armkeyvault.VaultsClient {
	t.Helper()
	c, err := armkeyvault.NewVaultsClient(m.Env["AZURE_SUBSCRIPTION_ID"], cred, m.rmOptions())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createVault creates a vault with armkeyvault and returns its id.
func (m *mint) createVault(t *testing.T, group, name string) armkeyvault.Vault {
	t.Helper()
	ctx := rmCtx(t)
	poller, err := m.vaultsClient(t, m.adminCredential(t)).BeginCreateOrUpdate(ctx, group, name, armkeyvault.VaultCreateOrUpdateParameters{
		Location: to.Ptr("westeurope"),
		Properties: &armkeyvault.VaultProperties{
			TenantID: to.Ptr(m.Env["AZURE_TENANT_ID"]),
			SKU:      &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
		},
	}, nil)
	if err != nil {
		t.Fatalf("create vault %s: %v", name, err)
	}
	res, err := poller.PollUntilDone(ctx, &azruntimePollOptions)
	if err != nil {
		t.Fatalf("create vault %s (poll): %v", name, err)
	}
	return res.Vault
}

// vaultCode is a data-plane error's code and inner code.
func vaultCode(t *testing.T, err error) (int, string, string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a Key Vault error, got %v", err)
	}
	var env struct {
		Error struct {
			Code       string `json:"code"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	body, _ := io.ReadAll(re.RawResponse.Body)
	json.Unmarshal(body, &env)
	inner := ""
	if env.Error.InnerError != nil {
		inner = env.Error.InnerError.Code
	}
	return re.StatusCode, re.ErrorCode, inner
}

func TestVaultControlPlaneWithARMClient(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			m.mustCLI("group", "create", "-n", "app", "-l", "westeurope")
			m.mustCLI("group", "create", "-n", "other", "-l", "westeurope")
			ctx := rmCtx(t)
			vaults := m.vaultsClient(t, m.adminCredential(t))

			v := m.createVault(t, "app", "kv1")
			p := v.Properties
			if *v.Name != "kv1" || *v.Type != "Microsoft.KeyVault/vaults" || *p.VaultURI != m.vaultURL("kv1")+"/" ||
				*p.TenantID != m.Env["AZURE_TENANT_ID"] || !*p.EnableRbacAuthorization || !*p.EnableSoftDelete ||
				*p.SoftDeleteRetentionInDays != 90 || *p.ProvisioningState != armkeyvault.VaultProvisioningStateSucceeded {
				t.Fatalf("created vault: %+v", p)
			}
			got, err := vaults.Get(ctx, "app", "kv1", nil)
			if err != nil || *got.ID != *v.ID {
				t.Fatalf("get: %v", err)
			}
			upd, err := vaults.Update(ctx, "app", "kv1", armkeyvault.VaultPatchParameters{Tags: map[string]*string{"env": to.Ptr("dev")},
				Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: to.Ptr(true)}}, nil)
			if err != nil || *upd.Tags["env"] != "dev" || !*upd.Properties.EnablePurgeProtection {
				t.Fatalf("update: %+v %v", upd, err)
			}
			m.createVault(t, "app", "kv2")
			n := 0
			for pager := vaults.NewListByResourceGroupPager("app", nil); pager.More(); {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				n += len(page.Value)
			}
			if n != 2 {
				t.Fatalf("list by group: %d vaults", n)
			}
			n = 0
			for pager := vaults.NewListBySubscriptionPager(nil); pager.More(); {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				n += len(page.Value)
			}
			if n != 2 {
				t.Fatalf("list by subscription: %d vaults", n)
			}

			// Vault names are unique across the installation.
			_, err = vaults.BeginCreateOrUpdate(ctx, "other", "KV1", armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr("westeurope"),
				Properties: &armkeyvault.VaultProperties{TenantID: to.Ptr(m.Env["AZURE_TENANT_ID"]), SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)}}}, nil)
			responseError(t, err, 409, "VaultAlreadyExists")
			_, err = vaults.BeginCreateOrUpdate(ctx, "other", "k_1", armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr("westeurope")}, nil)
			responseError(t, err, 400, "VaultNameNotValid")

			// Soft delete: a deleted vault is kept, with its secrets, and holds its name until it
			// is purged or recovered.
			m.mustCLI("role", "assignment", "create", "--assignee", m.Env["AZURE_CLIENT_ID"], "--role", "Key Vault Secrets Officer", "--scope", "/subscriptions/"+m.Env["AZURE_SUBSCRIPTION_ID"])
			m.mustCLI("keyvault", "secret", "set", "--vault-name", "kv2", "-n", "kept", "--value", "still here")
			if _, err := vaults.Delete(ctx, "app", "kv2", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := vaults.Get(ctx, "app", "kv2", nil); err == nil {
				t.Fatal("a deleted vault is still there")
			}
			deleted := map[string]armkeyvault.DeletedVault{}
			for pager := vaults.NewListDeletedPager(nil); pager.More(); {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range page.Value {
					deleted[*d.Name] = *d
				}
			}
			d, ok := deleted["kv2"]
			if len(deleted) != 1 || !ok || !strings.EqualFold(*d.Properties.VaultID, m.rgID("app")+"/providers/Microsoft.KeyVault/vaults/kv2") ||
				*d.Properties.Location != "westeurope" || d.Properties.DeletionDate == nil || d.Properties.ScheduledPurgeDate == nil ||
				d.Properties.ScheduledPurgeDate.Sub(*d.Properties.DeletionDate) != 90*24*time.Hour {
				t.Fatalf("NewListDeletedPager: %+v", deleted)
			}
			got2, err := vaults.GetDeleted(ctx, "kv2", "westeurope", nil)
			if err != nil || *got2.Name != "kv2" || *got2.Type != "Microsoft.KeyVault/deletedVaults" {
				t.Fatalf("GetDeleted: %+v %v", got2, err)
			}
			avail, err := vaults.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{Name: to.Ptr("kv2"), Type: to.Ptr("Microsoft.KeyVault/vaults")}, nil)
			if err != nil || *avail.NameAvailable || *avail.Reason != armkeyvault.ReasonAlreadyExists {
				t.Fatalf("CheckNameAvailability(kv2) of a deleted vault: %+v %v", avail, err)
			}
			avail, err = vaults.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{Name: to.Ptr("kv-free"), Type: to.Ptr("Microsoft.KeyVault/vaults")}, nil)
			if err != nil || !*avail.NameAvailable {
				t.Fatalf("CheckNameAvailability(kv-free): %+v %v", avail, err)
			}
			create := func(group string, mode *armkeyvault.CreateMode) (*runtime.Poller[armkeyvault.VaultsClientCreateOrUpdateResponse], error) {
				return vaults.BeginCreateOrUpdate(ctx, group, "kv2", armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr("westeurope"),
					Properties: &armkeyvault.VaultProperties{TenantID: to.Ptr(m.Env["AZURE_TENANT_ID"]), CreateMode: mode,
						SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)}}}, nil)
			}
			_, err = create("other", nil)
			responseError(t, err, 409, "ConflictError")

			// createMode recover brings it back with its secret.
			poller, err := create("app", to.Ptr(armkeyvault.CreateModeRecover))
			if err != nil {
				t.Fatalf("recover: %v", err)
			}
			if rec, err := poller.PollUntilDone(ctx, &azruntimePollOptions); err != nil || !strings.EqualFold(*rec.ID, m.rgID("app")+"/providers/Microsoft.KeyVault/vaults/kv2") {
				t.Fatalf("recover (poll): %+v %v", rec, err)
			}
			var kept map[string]any
			mustJSON(t, waitFor(t, func() (string, bool) {
				out, err := m.cli("keyvault", "secret", "show", "--vault-name", "kv2", "-n", "kept")
				return out, err == nil
			}), &kept)
			if kept["value"] != "still here" {
				t.Fatalf("the recovered vault's secret: %v", kept)
			}

			// Purged: the name is free again.
			if _, err := vaults.Delete(ctx, "app", "kv2", nil); err != nil {
				t.Fatal(err)
			}
			purge, err := vaults.BeginPurgeDeleted(ctx, "kv2", "westeurope", nil)
			if err != nil {
				t.Fatalf("BeginPurgeDeleted: %v", err)
			}
			if _, err := purge.PollUntilDone(ctx, &azruntimePollOptions); err != nil {
				t.Fatalf("BeginPurgeDeleted (poll): %v", err)
			}
			_, err = vaults.GetDeleted(ctx, "kv2", "westeurope", nil)
			responseError(t, err, 404, "ResourceNotFound")
			m.createVault(t, "other", "kv2")
		})
	}
}

// rgID is a resource group's id in mint dev's subscription.
func (m *mint) rgID(group string) string {
	return "/subscriptions/" + m.Env["AZURE_SUBSCRIPTION_ID"] + "/resourceGroups/" + group
}

// TestVaultSecretsWithAzsecrets runs every operation of https://learn.microsoft.com/rest/api/keyvault/secrets/operation-groups through the real client,
// and checks the roles, the challenge, revocation and encryption at rest.
func TestVaultSecretsWithAzsecrets(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			storeURL := sk.url(t)
			m := startMint(t, options{store: storeURL})
			m.mustCLI("group", "create", "-n", "app", "-l", "westeurope")
			vaultID := *m.createVault(t, "app", "kv1").ID
			officer := m.newRBACApp(t, "officer")
			user := m.newRBACApp(t, "user")
			nobody := m.newRBACApp(t, "nobody")
			m.mustCLI("role", "assignment", "create", "--assignee", officer.appID, "--role", kvSecretsOfficerRole, "--scope", vaultID)
			m.mustCLI("role", "assignment", "create", "--assignee", user.appID, "--role", kvSecretsUserRole, "--scope", vaultID)
			ctx := rmCtx(t)

			t.Run("challenge", func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPut, m.vaultURL("kv1")+"/secrets/probe?api-version=2026-04-01", strings.NewReader(`{"value":"x"}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := m.vaultTransport().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := `Bearer authorization="` + m.URL + "/" + m.Env["AZURE_TENANT_ID"] + `", resource="https://vault.localhost:` + m.port() + `"`
				if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != want ||
					!strings.Contains(string(body), "AKV10000: Request is missing a Bearer or PoP token.") {
					t.Fatalf("probe: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
				}
			})

			kv := m.secretsClient(t, "kv1", officer.cred)
			exp := time.Now().Add(24 * time.Hour).Truncate(time.Second)
			set, err := kv.SetSecret(ctx, "my-secret", azsecrets.SetSecretParameters{Value: to.Ptr("v1"), ContentType: to.Ptr("text/plain"),
				Tags: map[string]*string{"a": to.Ptr("b")}, SecretAttributes: &azsecrets.SecretAttributes{Expires: &exp}}, nil)
			if err != nil {
				t.Fatalf("set: %v", err)
			}
			v1 := set.ID.Version()
			if *set.Value != "v1" || set.ID.Name() != "my-secret" || len(v1) != 32 || !set.Attributes.Expires.Equal(exp) ||
				*set.Attributes.RecoveryLevel != "Recoverable+Purgeable" || *set.Tags["a"] != "b" {
				t.Fatalf("set: %+v", set.Secret)
			}
			if _, err := kv.SetSecret(ctx, "my-secret", azsecrets.SetSecretParameters{Value: to.Ptr("v2")}, nil); err != nil {
				t.Fatal(err)
			}
			latest, err := kv.GetSecret(ctx, "my-secret", "", nil)
			if err != nil || *latest.Value != "v2" {
				t.Fatalf("get latest: %v %+v", err, latest)
			}
			old, err := kv.GetSecret(ctx, "my-secret", v1, nil)
			if err != nil || *old.Value != "v1" || *old.ContentType != "text/plain" {
				t.Fatalf("get version: %v", err)
			}
			versions := 0
			for pager := kv.NewListSecretPropertiesVersionsPager("my-secret", nil); pager.More(); {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				versions += len(page.Value)
			}
			if versions != 2 {
				t.Fatalf("%d versions", versions)
			}
			upd, err := kv.UpdateSecretProperties(ctx, "my-secret", v1, azsecrets.UpdateSecretPropertiesParameters{
				SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)}}, nil)
			if err != nil || *upd.Attributes.Enabled || upd.Value != nil {
				t.Fatalf("update: %v %+v", err, upd)
			}
			_, err = kv.GetSecret(ctx, "my-secret", v1, nil)
			if status, code, inner := vaultCode(t, err); status != 403 || code != "Forbidden" || inner != "SecretDisabled" {
				t.Fatalf("get disabled: %d %s %s", status, code, inner)
			}

			// Paging past 25 items.
			for i := range 30 {
				if _, err := kv.SetSecret(ctx, fmt.Sprintf("page-%02d", i), azsecrets.SetSecretParameters{Value: to.Ptr("x")}, nil); err != nil {
					t.Fatal(err)
				}
			}
			names, pages := 0, 0
			for pager := kv.NewListSecretPropertiesPager(nil); pager.More(); {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				names += len(page.Value)
			}
			if names != 31 || pages != 2 {
				t.Fatalf("listed %d secrets in %d pages, want 31 in 2", names, pages)
			}

			// Soft delete, recover, purge, backup and restore.
			backup, err := kv.BackupSecret(ctx, "my-secret", nil)
			if err != nil || len(backup.Value) == 0 {
				t.Fatalf("backup: %v", err)
			}
			del, err := kv.DeleteSecret(ctx, "my-secret", nil)
			if err != nil || del.RecoveryID == nil || del.ScheduledPurgeDate == nil || del.ID.Version() == "" {
				t.Fatalf("delete: %v %+v", err, del)
			}
			if _, err := kv.GetDeletedSecret(ctx, "my-secret", nil); err != nil {
				t.Fatalf("get deleted: %v", err)
			}
			deleted := 0
			for pager := kv.NewListDeletedSecretPropertiesPager(nil); pager.More(); {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				deleted += len(page.Value)
			}
			if deleted != 1 {
				t.Fatalf("%d deleted secrets", deleted)
			}
			_, err = kv.SetSecret(ctx, "my-secret", azsecrets.SetSecretParameters{Value: to.Ptr("v3")}, nil)
			if status, code, inner := vaultCode(t, err); status != 409 || code != "Conflict" || inner != "ObjectIsDeletedButRecoverable" {
				t.Fatalf("set over deleted: %d %s %s", status, code, inner)
			}
			if _, err := kv.RecoverDeletedSecret(ctx, "my-secret", nil); err != nil {
				t.Fatalf("recover: %v", err)
			}
			if got, err := kv.GetSecret(ctx, "my-secret", "", nil); err != nil || *got.Value != "v2" {
				t.Fatalf("get recovered: %v", err)
			}
			if _, err := kv.DeleteSecret(ctx, "my-secret", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := kv.PurgeDeletedSecret(ctx, "my-secret", nil); err != nil {
				t.Fatalf("purge: %v", err)
			}
			if _, err := kv.GetDeletedSecret(ctx, "my-secret", nil); err == nil {
				t.Fatal("a purged secret is still deleted-but-recoverable")
			}
			restored, err := kv.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: backup.Value}, nil)
			if err != nil || restored.ID.Name() != "my-secret" {
				t.Fatalf("restore: %v", err)
			}
			if got, err := kv.GetSecret(ctx, "my-secret", "", nil); err != nil || *got.Value != "v2" {
				t.Fatalf("get restored: %v", err)
			}

			// Roles: Secrets User reads but cannot change; no role, no access.
			uc := m.secretsClient(t, "kv1", user.cred)
			if got, err := uc.GetSecret(ctx, "page-00", "", nil); err != nil || *got.Value != "x" {
				t.Fatalf("user get: %v", err)
			}
			for name, call := range map[string]func() error{
				"set": func() error {
					_, err := uc.SetSecret(ctx, "page-00", azsecrets.SetSecretParameters{Value: to.Ptr("y")}, nil)
					return err
				},
				"delete":  func() error { _, err := uc.DeleteSecret(ctx, "page-00", nil); return err },
				"backup":  func() error { _, err := uc.BackupSecret(ctx, "page-00", nil); return err },
				"recover": func() error { _, err := uc.RecoverDeletedSecret(ctx, "page-01", nil); return err },
				"purge":   func() error { _, err := uc.PurgeDeletedSecret(ctx, "page-01", nil); return err },
			} {
				if status, code, inner := vaultCode(t, call()); status != 403 || code != "Forbidden" || inner != "ForbiddenByRbac" {
					t.Errorf("user %s: %d %s %s", name, status, code, inner)
				}
			}
			_, err = m.secretsClient(t, "kv1", nobody.cred).GetSecret(ctx, "page-00", "", nil)
			if status, code, inner := vaultCode(t, err); status != 403 || code != "Forbidden" || inner != "ForbiddenByRbac" {
				t.Fatalf("nobody: %d %s %s", status, code, inner)
			}
			// Secrets Officer can delete, recover and purge.
			if _, err := kv.DeleteSecret(ctx, "page-01", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := kv.RecoverDeletedSecret(ctx, "page-01", nil); err != nil {
				t.Fatal(err)
			}

			t.Run("encryption at rest", func(t *testing.T) {
				marker := "mint-e2e-marker-" + hex.EncodeToString([]byte(sk.name)) + "-7f3a9c"
				if _, err := kv.SetSecret(ctx, "marker", azsecrets.SetSecretParameters{Value: to.Ptr(marker)}, nil); err != nil {
					t.Fatal(err)
				}
				if got, err := kv.GetSecret(ctx, "marker", "", nil); err != nil || *got.Value != marker {
					t.Fatalf("marker: %v", err)
				}
				if storeURL == "" {
					assertNotInFiles(t, m.dataDir, marker)
				} else {
					assertNotInDatabase(t, storeURL, marker)
				}
			})

			t.Run("principal deleted: 401 within 1 s", func(t *testing.T) {
				doomed := m.newRBACApp(t, "doomed")
				m.mustCLI("role", "assignment", "create", "--assignee", doomed.appID, "--role", kvSecretsUserRole, "--scope", vaultID)
				dc := m.secretsClient(t, "kv1", doomed.cred)
				if _, err := dc.GetSecret(ctx, "page-00", "", nil); err != nil {
					t.Fatalf("before: %v", err)
				}
				tok := getToken(t, doomed.cred, "https://vault.localhost:"+m.port()+"/.default").Token
				if status := m.rawVaultGet(t, "kv1", "/secrets/page-00/", tok); status != 200 {
					t.Fatalf("raw get with the token: %d", status)
				}
				m.mustCLI("ad", "app", "delete", "--id", doomed.appID)
				deleted := time.Now()
				for {
					status := m.rawVaultGet(t, "kv1", "/secrets/page-00/", tok)
					if status == 401 {
						break
					}
					if time.Since(deleted) > time.Second {
						t.Fatalf("the deleted principal's token is still accepted 1 s later (%d)", status)
					}
					time.Sleep(10 * time.Millisecond)
				}
				t.Logf("refused %v after `mint ad app delete` returned", time.Since(deleted).Round(time.Millisecond))
				_, err := dc.GetSecret(ctx, "page-00", "", nil)
				var re *azcore.ResponseError
				if err == nil || (errors.As(err, &re) && re.StatusCode != 401) {
					t.Fatalf("the client of a deleted principal: %v", err)
				}
			})
		})
	}
}

// rawVaultGet sends GET with a bearer token and returns the status.
func (m *mint) rawVaultGet(t *testing.T, vault, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, m.vaultURL(vault)+path+"?api-version=7.5", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := m.vaultTransport().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// encodings of a value a careless store might hold.
func encodings(marker string) []string {
	return []string{marker, hex.EncodeToString([]byte(marker)), base64.StdEncoding.EncodeToString([]byte(marker)),
		base64.RawURLEncoding.EncodeToString([]byte(marker))}
}

// assertNotInFiles greps every file of the data directory (the SQLite file, its WAL) for the
// value.
func assertNotInFiles(t *testing.T, dir, marker string) {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Mode()&os.ModeType != 0 {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		n++
		for _, enc := range encodings(marker) {
			if strings.Contains(string(data), enc) {
				t.Errorf("%s holds the secret value (as %q)", path, enc)
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no files to grep")
	}
}

// assertNotInDatabase dumps every row of every table of the PostgreSQL database as text (bytea
// as hex) and greps it for the value.
func assertNotInDatabase(t *testing.T, dbURL, marker string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) == 0 {
		t.Fatal("no tables")
	}
	hexMarker := hex.EncodeToString([]byte(marker))
	for _, table := range tables {
		var dump string
		if err := conn.QueryRow(ctx, `SELECT COALESCE(string_agg(t::text, E'\n'), '') FROM `+pgx.Identifier{table}.Sanitize()+` t`).Scan(&dump); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for _, enc := range append(encodings(marker), hexMarker) {
			if strings.Contains(dump, enc) {
				t.Errorf("table %s holds the secret value (as %q)", table, enc)
			}
		}
		if table == "secret_versions" && !strings.Contains(dump, "\\\\x01") && !strings.Contains(dump, "\\x01") {
			t.Errorf("secret_versions holds no encrypted values: %.200s", dump)
		}
	}
}

// The CLI drives the control plane and the data plane like az.
func TestVaultCLI(t *testing.T) {
	m := startMint(t, options{})
	m.mustCLI("group", "create", "-n", "app", "-l", "westeurope")
	var v map[string]any
	mustJSON(t, m.mustCLI("keyvault", "create", "-n", "kvcli", "-g", "app"), &v)
	if rmStr(v, "properties.vaultUri") != m.vaultURL("kvcli")+"/" || rmStr(v, "resourceGroup") != "app" {
		t.Fatalf("keyvault create: %v", v)
	}
	mustJSON(t, m.mustCLI("keyvault", "show", "-n", "kvcli"), &v)
	var list []map[string]any
	mustJSON(t, m.mustCLI("keyvault", "list", "-g", "app"), &list)
	if len(list) != 1 {
		t.Fatalf("keyvault list: %v", list)
	}
	// The admin owns the subscription but holds no data action: a role is needed, as in Azure.
	if _, err := m.cli("keyvault", "secret", "set", "--vault-name", "kvcli", "-n", "s", "--value", "x"); err == nil || !strings.Contains(err.Error(), "ForbiddenByRbac") {
		t.Fatalf("set without a data role: %v", err)
	}
	m.mustCLI("role", "assignment", "create", "--assignee", m.Env["AZURE_CLIENT_ID"], "--role", kvSecretsOfficerRole, "--scope", rmStr(v, "id"))
	out := waitFor(t, func() (string, bool) {
		out, err := m.cli("keyvault", "secret", "set", "--vault-name", "kvcli", "-n", "s", "--value", "hello", "--content-type", "text/plain")
		return fmt.Sprint(out, err), err == nil
	})
	if !strings.Contains(out, `"value": "hello"`) {
		t.Fatalf("secret set: %s", out)
	}
	var secret map[string]any
	mustJSON(t, m.mustCLI("keyvault", "secret", "show", "--vault-name", "kvcli", "-n", "s"), &secret)
	if secret["value"] != "hello" || secret["name"] != "s" {
		t.Fatalf("secret show: %v", secret)
	}
	mustJSON(t, m.mustCLI("keyvault", "secret", "list", "--vault-name", "kvcli"), &list)
	if len(list) != 1 || list[0]["name"] != "s" {
		t.Fatalf("secret list: %v", list)
	}
	backup := filepath.Join(t.TempDir(), "s.blob")
	m.mustCLI("keyvault", "secret", "backup", "--vault-name", "kvcli", "-n", "s", "-f", backup)
	m.mustCLI("keyvault", "secret", "delete", "--vault-name", "kvcli", "-n", "s")
	mustJSON(t, m.mustCLI("keyvault", "secret", "list-deleted", "--vault-name", "kvcli"), &list)
	if len(list) != 1 {
		t.Fatalf("list-deleted: %v", list)
	}
	m.mustCLI("keyvault", "secret", "recover", "--vault-name", "kvcli", "-n", "s")
	m.mustCLI("keyvault", "secret", "delete", "--vault-name", "kvcli", "-n", "s")
	m.mustCLI("keyvault", "secret", "purge", "--vault-name", "kvcli", "-n", "s")
	m.mustCLI("keyvault", "secret", "restore", "--vault-name", "kvcli", "-f", backup)
	mustJSON(t, m.mustCLI("keyvault", "secret", "show", "--vault-name", "kvcli", "-n", "s"), &secret)
	if secret["value"] != "hello" {
		t.Fatalf("restored: %v", secret)
	}
	if out := m.mustCLI("keyvault", "secret", "list", "--vault-name", "kvcli", "-o", "table"); !strings.Contains(out, "Name") || !strings.Contains(out, "text/plain") {
		t.Fatalf("table: %s", out)
	}
	m.mustCLI("keyvault", "delete", "-n", "kvcli")
	if _, err := m.cli("keyvault", "show", "-n", "kvcli"); err == nil {
		t.Fatal("a deleted vault is shown")
	}
}

// The legacy access-policy model (enableRbacAuthorization false), policies set with
// armkeyvault's UpdateAccessPolicy, enforced on the data plane.
func TestVaultAccessPoliciesWithSDK(t *testing.T) {
	m := startMint(t, options{})
	m.mustCLI("group", "create", "-n", "app", "-l", "westeurope")
	ctx := rmCtx(t)
	vaults := m.vaultsClient(t, m.adminCredential(t))
	tenant := m.Env["AZURE_TENANT_ID"]
	poller, err := vaults.BeginCreateOrUpdate(ctx, "app", "kvpol", armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr("westeurope"),
		Properties: &armkeyvault.VaultProperties{TenantID: to.Ptr(tenant), EnableRbacAuthorization: to.Ptr(false),
			SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := poller.PollUntilDone(ctx, &azruntimePollOptions); err != nil {
		t.Fatal(err)
	}
	writer, reader := m.newRBACApp(t, "writer"), m.newRBACApp(t, "reader")
	entry := func(objectID string, perms ...armkeyvault.SecretPermissions) *armkeyvault.AccessPolicyEntry {
		e := &armkeyvault.AccessPolicyEntry{TenantID: to.Ptr(tenant), ObjectID: to.Ptr(objectID), Permissions: &armkeyvault.Permissions{}}
		for _, p := range perms {
			e.Permissions.Secrets = append(e.Permissions.Secrets, to.Ptr(p))
		}
		return e
	}
	if _, err := vaults.UpdateAccessPolicy(ctx, "app", "kvpol", armkeyvault.AccessPolicyUpdateKindAdd, armkeyvault.VaultAccessPolicyParameters{
		Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: []*armkeyvault.AccessPolicyEntry{
			entry(writer.objectID, armkeyvault.SecretPermissionsAll), entry(reader.objectID, armkeyvault.SecretPermissionsGet)}}}, nil); err != nil {
		t.Fatalf("update access policy: %v", err)
	}
	if _, err := m.secretsClient(t, "kvpol", writer.cred).SetSecret(ctx, "s", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
		t.Fatalf("writer set: %v", err)
	}
	rc := m.secretsClient(t, "kvpol", reader.cred)
	if got, err := rc.GetSecret(ctx, "s", "", nil); err != nil || *got.Value != "v" {
		t.Fatalf("reader get: %v", err)
	}
	_, err = rc.SetSecret(ctx, "s", azsecrets.SetSecretParameters{Value: to.Ptr("w")}, nil)
	if status, code, inner := vaultCode(t, err); status != 403 || code != "Forbidden" || inner != "ForbiddenByPolicy" {
		t.Fatalf("reader set: %d %s %s", status, code, inner)
	}
}
