package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/spf13/cobra"
)

// `mint keyvault`: vaults on the management endpoint (like az keyvault create|show|list|delete)
// and their secrets on the vault data plane (like az keyvault secret ...), through the real
// azsecrets client: https://<vault>.<suffix>:<port>, the vault's challenge answered with a token
// for the resource it names. Names under a .localhost suffix are dialled at mint's own address,
// since *.localhost does not resolve everywhere.

const keyVaultAPIVersion = "2024-11-01"

var vaultColumns = []column{{"Name", "name"}, {"ResourceGroup", "resourceGroup"}, {"Location", "location"}, {"VaultUri", "properties.vaultUri"}, {"RBAC", "properties.enableRbacAuthorization"}}
var secretColumns = []column{{"Name", "name"}, {"Enabled", "attributes.enabled"}, {"ContentType", "contentType"}, {"Id", "id"}}
var deletedSecretColumns = []column{{"Name", "name"}, {"DeletedDate", "deletedDate"}, {"ScheduledPurgeDate", "scheduledPurgeDate"}, {"RecoveryId", "recoveryId"}}

func newKeyVaultCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keyvault", Short: "Manage key vaults and their secrets (like az keyvault)"}
	cmd.AddCommand(newKeyVaultCreateCmd(), vaultKind.showCommand(), vaultKind.listCommand("List the key vaults of the subscription or a group"), newKeyVaultUpdateCmd(),
		vaultKind.deleteCommand("Delete a key vault and every secret in it (mint keeps no deleted vaults)", nil), newSecretCmd())
	return cmd
}

func vaultPath(sub, group, name string) string {
	return groupPath(sub, group) + "/providers/Microsoft.KeyVault/vaults/" + url.PathEscape(name)
}

// findVault finds a vault by name in the subscription when no group is given, as az does.
func (c *apiClient) findVault(ctx context.Context, sub, group, name string) (map[string]any, error) {
	if group != "" {
		var out map[string]any
		if err := c.arm(ctx, http.MethodGet, vaultPath(sub, group, name), keyVaultAPIVersion, nil, &out); err != nil {
			return nil, err
		}
		return withResourceGroup(out), nil
	}
	return c.findByName(ctx, &vaultKind, sub, name)
}

type vaultSettings struct {
	retentionDays   int
	rbac            string
	purgeProtection bool
	sku             string
	tags            []string
}

func (v *vaultSettings) register(cmd *cobra.Command, create bool) {
	cmd.Flags().StringVar(&v.rbac, "enable-rbac-authorization", "", "true (default for new vaults): data actions of Azure RBAC roles; false: access policies")
	cmd.Flags().BoolVar(&v.purgeProtection, "enable-purge-protection", false, "deleted secrets cannot be purged before the retention period ends (irreversible)")
	cmd.Flags().StringArrayVar(&v.tags, "tags", nil, "tag key=value (repeatable)")
	if create {
		cmd.Flags().IntVar(&v.retentionDays, "retention-days", 90, "days a deleted secret can be recovered (7-90; fixed once created)")
		cmd.Flags().StringVar(&v.sku, "sku", "standard", "standard or premium")
	}
}

func (v *vaultSettings) body(create bool, tenantID string) (map[string]any, error) {
	props := map[string]any{}
	body := map[string]any{"properties": props}
	if create {
		props["tenantId"] = tenantID
		props["sku"] = map[string]string{"family": "A", "name": v.sku}
		props["softDeleteRetentionInDays"] = v.retentionDays
	}
	switch strings.ToLower(v.rbac) {
	case "":
	case "true":
		props["enableRbacAuthorization"] = true
	case "false":
		props["enableRbacAuthorization"] = false
	default:
		return nil, fmt.Errorf("--enable-rbac-authorization must be true or false, not %q", v.rbac)
	}
	if v.purgeProtection {
		props["enablePurgeProtection"] = true
	}
	t, err := parseTags(v.tags)
	if err != nil {
		return nil, err
	}
	if t != nil {
		body["tags"] = t
	}
	return body, nil
}

func newKeyVaultCreateCmd() *cobra.Command {
	var a armFlags
	var group, name, location string
	var v vaultSettings
	return clientCommand("create", "Create a key vault (RBAC permission model by default)", func(cmd *cobra.Command) {
		a.register(cmd)
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "resource group (required)")
		cmd.Flags().StringVarP(&name, "name", "n", "", "vault name, 3-24 letters, digits and hyphens, unique in the installation (required)")
		cmd.Flags().StringVarP(&location, "location", "l", "", "location (default: the group's)")
		v.register(cmd, true)
		cmd.MarkFlagRequired("resource-group")
		cmd.MarkFlagRequired("name")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		if location == "" {
			if location, err = c.groupLocation(ctx, sub, group); err != nil {
				return err
			}
		}
		body, err := v.body(true, f.tenant)
		if err != nil {
			return err
		}
		body["location"] = location
		var out map[string]any
		if err := c.arm(ctx, http.MethodPut, vaultPath(sub, group, name), keyVaultAPIVersion, body, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, withResourceGroup(out), vaultColumns)
	})
}

func newKeyVaultUpdateCmd() *cobra.Command {
	var a armFlags
	var group, name string
	var v vaultSettings
	return clientCommand("update", "Update a key vault's permission model, purge protection or tags", func(cmd *cobra.Command) {
		a.register(cmd)
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "resource group (default: found by name)")
		cmd.Flags().StringVarP(&name, "name", "n", "", "vault name (required)")
		v.register(cmd, false)
		cmd.MarkFlagRequired("name")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		if group == "" {
			found, err := c.findVault(ctx, sub, "", name)
			if err != nil {
				return err
			}
			group, _ = found["resourceGroup"].(string)
		}
		body, err := v.body(false, "")
		if err != nil {
			return err
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodPatch, vaultPath(sub, group, name), keyVaultAPIVersion, body, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, withResourceGroup(out), vaultColumns)
	})
}

// The data plane: the real azsecrets client (challenge authentication, paging, the wire
// shapes), signed in with the CLI's credential.

// vaultTarget says which vault a secret command talks to.
type vaultTarget struct {
	name, suffix, uri string
}

func (v *vaultTarget) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&v.name, "vault-name", "", "vault name (required unless --vault-uri)")
	cmd.Flags().StringVar(&v.suffix, "vault-dns-suffix", "", "vault DNS suffix (default $MINT_VAULT_DNS_SUFFIX, else vault.localhost)")
	cmd.Flags().StringVar(&v.uri, "vault-uri", "", "the vault's URL, e.g. https://kv1.vault.localhost:8443 (instead of --vault-name)")
}

// url is the vault's base URL: the given one, or https://<name>.<suffix> on mint's port.
func (v *vaultTarget) url(endpoint string) (string, error) {
	if v.uri != "" {
		u, err := url.Parse(v.uri)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return "", fmt.Errorf("--vault-uri must be an https URL such as https://kv1.vault.localhost:8443, not %q", v.uri)
		}
		return "https://" + u.Host, nil
	}
	if v.name == "" {
		return "", errors.New("name the vault with --vault-name (or --vault-uri)")
	}
	suffix := v.suffix
	if suffix == "" {
		suffix = os.Getenv("MINT_VAULT_DNS_SUFFIX")
	}
	if suffix == "" {
		suffix = "vault.localhost"
	}
	host := strings.ToLower(v.name) + "." + strings.Trim(suffix, ".")
	if e, err := url.Parse(endpoint); err == nil && e.Port() != "" && e.Port() != "443" {
		host += ":" + e.Port()
	}
	return "https://" + host, nil
}

// secretTarget is a secret command's vault and secret name.
type secretTarget struct {
	vault vaultTarget
	name  string
	id    string // az's --id: the secret's URL, instead of the vault and the name
}

func (s *secretTarget) register(cmd *cobra.Command, withName bool) {
	s.vault.register(cmd)
	if withName {
		cmd.Flags().StringVarP(&s.name, "name", "n", "", "secret name (required unless --id)")
		cmd.Flags().StringVar(&s.id, "id", "", "the secret's id, https://<vault host>/secrets/<name>[/<version>] as mint or Azure prints it (instead of --vault-name and --name)")
	}
}

// azureVaultSuffixes are the public clouds' Key Vault DNS suffixes: a secret id under one of
// them (copied from a program's output) names a vault of this mint, reached at mint's address.
var azureVaultSuffixes = []string{".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".vault.microsoftazure.de"}

// resolve fills the vault and name from --id, and returns the version the id names ("" for none).
func (s *secretTarget) resolve(withName bool) (version string, err error) {
	if s.id == "" {
		if withName && s.name == "" {
			return "", usageErrorf("the following arguments are required: --name/-n (or --id)")
		}
		return "", nil
	}
	if s.name != "" || s.vault.name != "" || s.vault.uri != "" {
		return "", usageErrorf("--id names the vault and the secret: give it instead of --vault-name, --vault-uri and --name")
	}
	u, err := url.Parse(s.id)
	parts := []string{}
	if err == nil {
		parts = strings.Split(strings.Trim(u.Path, "/"), "/")
	}
	if err != nil || u.Scheme != "https" || u.Host == "" || len(parts) < 2 || len(parts) > 3 ||
		(parts[0] != "secrets" && parts[0] != "deletedsecrets") || parts[1] == "" {
		return "", usageErrorf("--id must be a secret's id such as https://kv1.vault.localhost:8443/secrets/db-password (optionally /<version>), not %q", s.id)
	}
	host := strings.ToLower(u.Hostname())
	s.vault.uri = "https://" + u.Host
	for _, suffix := range azureVaultSuffixes {
		if strings.HasSuffix(host, suffix) {
			s.vault.uri, s.vault.name = "", strings.TrimSuffix(host, suffix)
		}
	}
	s.name = parts[1]
	if len(parts) == 3 {
		version = parts[2]
	}
	return version, nil
}

// vaultTransport dials *.localhost vault names at mint's own address (they may not resolve),
// with mint's CA trusted as for every other call.
func vaultTransport(c *apiClient) (*http.Client, error) {
	var tr *http.Transport
	if t, ok := c.http.Transport.(*http.Transport); ok && t != nil {
		tr = t.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	mint, err := url.Parse(c.base)
	if err != nil {
		return nil, fmt.Errorf("mint endpoint %q: %w", c.base, err)
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && (strings.HasSuffix(strings.ToLower(host), ".localhost") || strings.EqualFold(host, "localhost")) {
			addr = net.JoinHostPort(mint.Hostname(), port)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	tr.Proxy = nil
	return &http.Client{Timeout: 60 * time.Second, Transport: tr}, nil
}

// secretCommand builds a `mint keyvault secret` verb around an azsecrets client of the vault.
func secretCommand(use, short string, withName bool, setup func(*cobra.Command), fn func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error) *cobra.Command {
	var t secretTarget
	return clientCommand(use, short, func(cmd *cobra.Command) {
		t.register(cmd, withName)
		if setup != nil {
			setup(cmd)
		}
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		version, err := t.resolve(withName)
		if err != nil {
			return err
		}
		if version != "" {
			if cmd.Flags().Lookup("version") == nil {
				return usageErrorf("mint keyvault secret %s takes a secret, not one of its versions: drop /%s from --id", use, version)
			}
			if !cmd.Flags().Changed("version") {
				cmd.Flags().Set("version", version)
			}
		}
		base, err := t.vault.url(c.base)
		if err != nil {
			return err
		}
		hc, err := vaultTransport(c)
		if err != nil {
			return err
		}
		v, err := azsecrets.NewClient(base, c.cred, &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc}})
		if err != nil {
			return err
		}
		return vaultError(c, base, fn(ctx, cmd, v, t.name, f))
	})
}

// vaultError shows a Key Vault refusal as az does (Forbidden/ForbiddenByRbac and the message),
// and a vault or server that cannot be reached with the fix.
func vaultError(c *apiClient, base string, err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.RawResponse != nil {
		if re.StatusCode == http.StatusNotFound && re.ErrorCode == "" {
			return fmt.Errorf("no vault answers at %s (HTTP 404): create it with mint keyvault create", base)
		}
		var env struct {
			Error struct {
				Code, Message string
				InnerError    *struct{ Code string } `json:"innererror"`
			} `json:"error"`
		}
		if data, rerr := io.ReadAll(re.RawResponse.Body); rerr == nil && json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
			code := env.Error.Code
			if env.Error.InnerError != nil && env.Error.InnerError.Code != "" {
				code += "/" + env.Error.InnerError.Code // Forbidden/ForbiddenByRbac, as az shows it
			}
			return &apiError{Status: re.StatusCode, Code: code, Message: strings.TrimSpace(strings.ReplaceAll(env.Error.Message, "\r\n", "\n"))}
		}
		return &apiError{Status: re.StatusCode, Code: http.StatusText(re.StatusCode), Message: re.ErrorCode}
	}
	if e := explainReach(base, c.caFile, err); e != nil {
		return e
	}
	return err
}

// asMap is an azsecrets model in its wire shape, with "name" from the id as az shows it.
func asMap(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return withSecretName(m), nil
}

// withSecretName adds "name" from the id (az shows it), for secrets and deleted secrets.
func withSecretName(m map[string]any) map[string]any {
	id, _ := m["id"].(string)
	if u, err := url.Parse(id); err == nil {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) >= 2 {
			m["name"] = parts[1]
		}
	}
	return m
}

// printSecret prints one azsecrets model.
func printSecret(cmd *cobra.Command, f *clientFlags, v any, cols []column) error {
	m, err := asMap(v)
	if err != nil {
		return err
	}
	return printOut(cmd.OutOrStdout(), f.output, m, cols)
}

// pageAll reads every page of an azsecrets pager into wire-shaped maps.
func pageAll[P any, T any](ctx context.Context, pager *runtime.Pager[P], items func(P) []T) ([]map[string]any, error) {
	all := []map[string]any{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range items(page) {
			m, err := asMap(it)
			if err != nil {
				return nil, err
			}
			all = append(all, m)
		}
	}
	return all, nil
}

func newSecretCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "secret", Short: "Manage a vault's secrets (like az keyvault secret)"}
	cmd.AddCommand(newSecretSetCmd(), newSecretShowCmd(), newSecretListCmd(), newSecretListVersionsCmd(), newSecretSetAttributesCmd(),
		newSecretDeleteCmd(), newSecretShowDeletedCmd(), newSecretListDeletedCmd(), newSecretRecoverCmd(), newSecretPurgeCmd(),
		newSecretBackupCmd(), newSecretRestoreCmd())
	return cmd
}

// secretAttributes are the flags of set and set-attributes.
type secretAttributes struct {
	contentType, expires, notBefore, enabled string
	tags                                     []string
}

func (a *secretAttributes) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.contentType, "content-type", "", "content type of the value")
	cmd.Flags().StringVar(&a.expires, "expires", "", "expiry, RFC 3339 (e.g. 2030-01-01T00:00:00Z)")
	cmd.Flags().StringVar(&a.notBefore, "not-before", "", "activation time, RFC 3339")
	cmd.Flags().StringVar(&a.enabled, "enabled", "", "true or false")
	cmd.Flags().StringArrayVar(&a.tags, "tags", nil, "tag key=value (repeatable)")
}

// parse turns the flags into azsecrets' attributes, content type and tags (nil when unset).
func (a *secretAttributes) parse() (*azsecrets.SecretAttributes, *string, map[string]*string, error) {
	var attrs azsecrets.SecretAttributes
	set := false
	for _, t := range []struct {
		flag, value string
		dst         **time.Time
	}{{"--expires", a.expires, &attrs.Expires}, {"--not-before", a.notBefore, &attrs.NotBefore}} {
		if t.value == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, t.value)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s must be an RFC 3339 time such as 2030-01-01T00:00:00Z: %w", t.flag, err)
		}
		*t.dst, set = &at, true
	}
	switch strings.ToLower(a.enabled) {
	case "":
	case "true", "false":
		enabled := strings.EqualFold(a.enabled, "true")
		attrs.Enabled, set = &enabled, true
	default:
		return nil, nil, nil, fmt.Errorf("--enabled must be true or false, not %q", a.enabled)
	}
	var attrsOut *azsecrets.SecretAttributes
	if set {
		attrsOut = &attrs
	}
	var contentType *string
	if a.contentType != "" {
		contentType = &a.contentType
	}
	tags, err := parseTags(a.tags)
	if err != nil {
		return nil, nil, nil, err
	}
	var tagsOut map[string]*string
	if tags != nil {
		tagsOut = map[string]*string{}
		for k, v := range tags {
			tagsOut[k] = &v
		}
	}
	return attrsOut, contentType, tagsOut, nil
}

func newSecretSetCmd() *cobra.Command {
	var value, file string
	var attrs secretAttributes
	return secretCommand("set", "Set a secret (a new version)", true, func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&value, "value", "", "the value (prefer --file: command lines are visible to other users)")
		cmd.Flags().StringVarP(&file, "file", "f", "", "read the value from this file (- for stdin)")
		attrs.register(cmd)
	}, func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error {
		switch {
		case file == "-":
			data, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return err
			}
			value = string(data)
		case file != "":
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			value = string(data)
		case !cmd.Flags().Changed("value"):
			return errors.New("give the value with --value or --file")
		}
		sa, contentType, tags, err := attrs.parse()
		if err != nil {
			return err
		}
		resp, err := v.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: &value, ContentType: contentType, SecretAttributes: sa, Tags: tags}, nil)
		if err != nil {
			return err
		}
		return printSecret(cmd, f, resp.Secret, secretColumns)
	})
}

func newSecretShowCmd() *cobra.Command {
	var version string
	return secretCommand("show", "Show a secret with its value (the latest version unless --version)", true, func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&version, "version", "", "version (default: the latest)")
	}, func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error {
		resp, err := v.GetSecret(ctx, name, version, nil)
		if err != nil {
			return err
		}
		return printSecret(cmd, f, resp.Secret, secretColumns)
	})
}

func newSecretListCmd() *cobra.Command {
	return secretCommand("list", "List a vault's secrets (no values)", false, nil,
		func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, _ string, f *clientFlags) error {
			out, err := pageAll(ctx, v.NewListSecretPropertiesPager(nil), func(p azsecrets.ListSecretPropertiesResponse) []*azsecrets.SecretProperties { return p.Value })
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), f.output, out, secretColumns)
		})
}

func newSecretListVersionsCmd() *cobra.Command {
	return secretCommand("list-versions", "List a secret's versions (no values)", true, nil,
		func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error {
			out, err := pageAll(ctx, v.NewListSecretPropertiesVersionsPager(name, nil),
				func(p azsecrets.ListSecretPropertiesVersionsResponse) []*azsecrets.SecretProperties { return p.Value })
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), f.output, out, secretColumns)
		})
}

func newSecretSetAttributesCmd() *cobra.Command {
	var version string
	var attrs secretAttributes
	return secretCommand("set-attributes", "Change a secret version's attributes, content type or tags", true, func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&version, "version", "", "version (default: the latest)")
		attrs.register(cmd)
	}, func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error {
		sa, contentType, tags, err := attrs.parse()
		if err != nil {
			return err
		}
		resp, err := v.UpdateSecretProperties(ctx, name, version, azsecrets.UpdateSecretPropertiesParameters{SecretAttributes: sa, ContentType: contentType, Tags: tags}, nil)
		if err != nil {
			return err
		}
		return printSecret(cmd, f, resp.Secret, secretColumns)
	})
}

func newSecretDeleteCmd() *cobra.Command {
	return secretCommand("delete", "Delete a secret (recoverable for the vault's retention period)", true, nil,
		func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error {
			resp, err := v.DeleteSecret(ctx, name, nil)
			if err != nil {
				return err
			}
			return printSecret(cmd, f, resp.DeletedSecret, deletedSecretColumns)
		})
}

func newSecretShowDeletedCmd() *cobra.Command {
	return secretCommand("show-deleted", "Show a deleted secret", true, nil,
		func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error {
			resp, err := v.GetDeletedSecret(ctx, name, nil)
			if err != nil {
				return err
			}
			return printSecret(cmd, f, resp.DeletedSecret, deletedSecretColumns)
		})
}

func newSecretListDeletedCmd() *cobra.Command {
	return secretCommand("list-deleted", "List a vault's deleted secrets", false, nil,
		func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, _ string, f *clientFlags) error {
			out, err := pageAll(ctx, v.NewListDeletedSecretPropertiesPager(nil),
				func(p azsecrets.ListDeletedSecretPropertiesResponse) []*azsecrets.DeletedSecretProperties {
					return p.Value
				})
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), f.output, out, deletedSecretColumns)
		})
}

func newSecretRecoverCmd() *cobra.Command {
	return secretCommand("recover", "Recover a deleted secret", true, nil,
		func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error {
			resp, err := v.RecoverDeletedSecret(ctx, name, nil)
			if err != nil {
				return err
			}
			return printSecret(cmd, f, resp.Secret, secretColumns)
		})
}

func newSecretPurgeCmd() *cobra.Command {
	return secretCommand("purge", "Purge a deleted secret for good", true, nil,
		func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error {
			_, err := v.PurgeDeletedSecret(ctx, name, nil)
			return err
		})
}

// A backup file holds the blob as Key Vault sends it: base64url text.

func newSecretBackupCmd() *cobra.Command {
	var file string
	return secretCommand("backup", "Back up every version of a secret to a file (restorable into any vault of this installation)", true, func(cmd *cobra.Command) {
		cmd.Flags().StringVarP(&file, "file", "f", "", "file to write the backup blob to (required)")
		cmd.MarkFlagRequired("file")
	}, func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, name string, f *clientFlags) error {
		resp, err := v.BackupSecret(ctx, name, nil)
		if err != nil {
			return err
		}
		return os.WriteFile(file, []byte(base64.RawURLEncoding.EncodeToString(resp.Value)), 0o600)
	})
}

func newSecretRestoreCmd() *cobra.Command {
	var file string
	return secretCommand("restore", "Restore a secret from a backup file", false, func(cmd *cobra.Command) {
		cmd.Flags().StringVarP(&file, "file", "f", "", "backup blob file written by mint keyvault secret backup (required)")
		cmd.MarkFlagRequired("file")
	}, func(ctx context.Context, cmd *cobra.Command, v *azsecrets.Client, _ string, f *clientFlags) error {
		text, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		blob, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(string(text)), "="))
		if err != nil {
			return fmt.Errorf("%s is not a backup blob written by mint keyvault secret backup: %w", file, err)
		}
		resp, err := v.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: blob}, nil)
		if err != nil {
			return err
		}
		return printSecret(cmd, f, resp.Secret, secretColumns)
	})
}
