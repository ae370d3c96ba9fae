package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// profile is what `mint login` keeps so that later commands need no environment: the server,
// the CA to trust it with, the tenant and the credential. It is written mode 0600 in a 0700
// directory and holds the credential as az keeps its own under ~/.azure: a service principal's
// secret in clear (or the path of its certificate file), a person's refresh token (MSAL's token
// cache; never the password). So mint refuses a profile file or directory that others can read
// or that another user owns (checkProfilePerms), as ssh refuses such private keys.
type profile struct {
	Endpoint       string            `json:"endpoint"`
	CAFile         string            `json:"caFile,omitempty"` // absolute
	TenantID       string            `json:"tenantId"`
	SubscriptionID string            `json:"subscriptionId,omitempty"`
	Credential     profileCredential `json:"credential"`
}

// Credential types of a profile; clientFlags.credential is the one place that turns a type into
// an azcore credential.
const (
	credentialSecret      = "servicePrincipalSecret"
	credentialCertificate = "servicePrincipalCertificate"
	credentialPerson      = "user"
)

type profileCredential struct {
	Type            string `json:"type"`
	ClientID        string `json:"clientId"`
	Secret          string `json:"secret,omitempty"`
	CertificateFile string `json:"certificateFile,omitempty"` // PEM: certificate and private key
	// A person: the sign-in name, MSAL's account id, and MSAL's token cache (refresh token and
	// access tokens).
	Username      string          `json:"username,omitempty"`
	HomeAccountID string          `json:"homeAccountId,omitempty"`
	TokenCache    json.RawMessage `json:"tokenCache,omitempty"`
}

// profilePath is $MINT_CONFIG_DIR/profile.json, default <user config dir>/mint/profile.json
// (~/.config/mint on Linux; not ~/.mint, which is mint dev's data directory in the README).
func profilePath() (string, error) {
	if dir := os.Getenv("MINT_CONFIG_DIR"); dir != "" {
		return filepath.Join(dir, "profile.json"), nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory for mint login's profile (set MINT_CONFIG_DIR): %w", err)
	}
	return filepath.Join(dir, "mint", "profile.json"), nil
}

// loadProfile reads the profile; (nil, nil) when there is none.
func loadProfile() (*profile, error) {
	path, err := profilePath()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err := checkProfilePerms(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w (sign in again with mint login)", path, err)
	}
	return &p, nil
}

func (p *profile) save() (string, error) {
	path, err := profilePath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := checkProfileDir(filepath.Dir(path)); err != nil {
		return "", err
	}
	data, _ := json.MarshalIndent(p, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// fromProfile fills what the flags, the env file and the environment left empty.
func (f *clientFlags) fromProfile(p *profile) {
	if f.endpoint != "" && !strings.EqualFold(strings.TrimSuffix(f.endpoint, "/"), strings.TrimSuffix(p.Endpoint, "/")) {
		return // another server: the profile's credential is not for it
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&f.endpoint, p.Endpoint)
	fill(&f.caFile, p.CAFile)
	fill(&f.tenant, p.TenantID)
	if p.Credential.Type == credentialPerson {
		if f.clientID == "" {
			f.person = p
			f.clientID, f.secret = p.Credential.ClientID, "-" // the person's refresh token signs in
		}
		return
	}
	if f.clientID == "" || f.clientID == p.Credential.ClientID {
		fill(&f.clientID, p.Credential.ClientID)
		fill(&f.secret, p.Credential.Secret)
		fill(&f.certFile, p.Credential.CertificateFile)
	}
}

func newLoginCmd() *cobra.Command {
	var f clientFlags
	var servicePrincipal, deviceCode bool
	cmd := &cobra.Command{
		Use:   "login --endpoint <url> (--use-device-code | -u <upn> -p <password> | --service-principal -u <client id> (-p <secret> | --certificate <pem>) --tenant <tenant>)",
		Short: "Sign in to a mint server and keep the profile, so that later commands need no environment (like az login)",
		Long: `Sign in to a mint server, as a person or as a service principal, check that the server answers and
trusts the credential, and keep a profile (server URL, CA file, tenant, credential) that every other
command uses when neither flags nor MINT_* / AZURE_* variables say otherwise.

A person signs in as with az login: --use-device-code prints a code to type at the server's
/devicelogin page in any browser; -u <upn> -p <password> signs in directly (the password grant,
which Entra discourages and which accounts with MFA cannot use). The profile keeps the refresh
token mint answered with (never the password); later commands get access tokens with it, and keep
the new refresh token each redemption returns. A service principal signs in with
--service-principal and its secret (kept as given) or --certificate (only the file's path is kept).

The profile is $MINT_CONFIG_DIR/profile.json (default ~/.config/mint/profile.json), mode 0600 in a
0700 directory: the same trust as az's ~/.azure, so protect it as the credential itself. mint
refuses to use a profile file or directory that is readable by group or others, or not owned by
you (as ssh refuses such private keys). Prefer --certificate for service principals: then no
secret is kept at all. 'mint logout' removes the profile.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.output.check(); err != nil {
				return err
			}
			if !servicePrincipal {
				return loginPerson(cmd, &f, deviceCode)
			}
			if deviceCode {
				return usageErrorf("--use-device-code signs in a person; a service principal signs in with -p <secret> or --certificate <pem>")
			}
			if f.endpoint == "" || f.tenant == "" || f.clientID == "" || (f.secret == "" && f.certFile == "") {
				return usageErrorf("mint login needs --endpoint, --tenant, -u <client id> and -p <secret> or --certificate <pem file>")
			}
			if u, err := url.Parse(f.endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
				return usageErrorf("--endpoint %q: give the server's https URL, e.g. https://mint.example:8443", f.endpoint)
			}
			p := &profile{Endpoint: strings.TrimSuffix(f.endpoint, "/"), TenantID: f.tenant,
				Credential: profileCredential{Type: credentialSecret, ClientID: f.clientID, Secret: f.secret}}
			var err error
			if f.caFile != "" {
				if p.CAFile, err = filepath.Abs(f.caFile); err != nil {
					return err
				}
			}
			if f.certFile != "" {
				p.Credential = profileCredential{Type: credentialCertificate, ClientID: f.clientID}
				if p.Credential.CertificateFile, err = filepath.Abs(f.certFile); err != nil {
					return err
				}
			}
			c, err := f.clientFor(p)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			subs, err := c.subscriptions(ctx)
			if err != nil {
				return err
			}
			var accounts []map[string]any
			for i, s := range subs {
				if i == 0 {
					p.SubscriptionID, _ = s["subscriptionId"].(string)
				}
				accounts = append(accounts, map[string]any{"cloudName": "mint", "id": s["subscriptionId"], "name": s["displayName"],
					"isDefault": i == 0, "state": s["state"], "tenantId": subscriptionTenant(s, p.TenantID), "homeTenantId": subscriptionTenant(s, p.TenantID),
					"user": map[string]any{"name": f.clientID, "type": "servicePrincipal"}})
			}
			path, err := p.save()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "signed in to %s; profile kept in %s (mode 0600)\n", p.Endpoint, path)
			if accounts == nil {
				accounts = []map[string]any{}
			}
			return printOut(cmd.OutOrStdout(), f.output, accounts, []column{{"Name", "name"}, {"SubscriptionId", "id"}, {"TenantId", "tenantId"}})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.endpoint, "endpoint", "", "the mint server's URL (its --public-url)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of the server's CA (<data-dir>/ca.pem of the server; default: system roots)")
	fs.StringVarP(&f.tenant, "tenant", "t", "", "tenant id")
	fs.BoolVar(&servicePrincipal, "service-principal", false, "sign in as a service principal (application)")
	fs.BoolVar(&deviceCode, "use-device-code", false, "sign a person in with a device code typed at the server's /devicelogin page")
	fs.StringVarP(&f.clientID, "username", "u", "", "a person's user principal name, or the service principal's client (application) id")
	fs.StringVarP(&f.secret, "password", "p", "", "a person's password (never kept), or the service principal's client secret")
	fs.StringVar(&f.certFile, "certificate", "", "PEM file with the service principal's certificate and private key (instead of -p)")
	fs.StringVarP(&f.output.Format, "output", "o", "json", "output format: "+strings.Join(outputFormats, ", "))
	fs.StringVar(&f.output.Query, "query", "", "JMESPath query applied to the result")
	return cmd
}

func newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove the profile mint login kept",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := profilePath()
			if err != nil {
				return err
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		},
	}
}

// loginPerson signs a person in (device code, or user name and password) and keeps the profile.
func loginPerson(cmd *cobra.Command, f *clientFlags, deviceCode bool) error {
	if f.certFile != "" {
		return usageErrorf("--certificate signs in a service principal: add --service-principal")
	}
	if deviceCode == (f.clientID != "") || (f.clientID != "" && f.secret == "") {
		return usageErrorf("mint login signs a person in with --use-device-code, or with -u <upn> -p <password>; a service principal with --service-principal")
	}
	if f.endpoint == "" {
		return usageErrorf("mint login needs --endpoint, the server's https URL")
	}
	if u, err := url.Parse(f.endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
		return usageErrorf("--endpoint %q: give the server's https URL, e.g. https://mint.example:8443", f.endpoint)
	}
	p := &profile{Endpoint: strings.TrimSuffix(f.endpoint, "/"), TenantID: f.tenant}
	var err error
	if f.caFile != "" {
		if p.CAFile, err = filepath.Abs(f.caFile); err != nil {
			return err
		}
	}
	f.endpoint, f.caFile = p.Endpoint, p.CAFile
	hc, err := f.httpClient()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if _, err := signInPerson(ctx, p, hc, f.clientID, f.secret, cmd.ErrOrStderr()); err != nil {
		if e := explainReach(p.Endpoint, p.CAFile, err); e != nil {
			return e
		}
		return err
	}
	cred, err := newPersonCredential(ctx, p, hc, false)
	if err != nil {
		return err
	}
	c := &apiClient{base: p.Endpoint, caFile: p.CAFile, http: hc, cred: cred}
	subs, err := c.subscriptions(ctx)
	if err != nil {
		return err
	}
	accounts := []map[string]any{}
	for i, s := range subs {
		if i == 0 {
			p.SubscriptionID, _ = s["subscriptionId"].(string)
		}
		accounts = append(accounts, map[string]any{"cloudName": "mint", "id": s["subscriptionId"], "name": s["displayName"],
			"isDefault": i == 0, "state": s["state"], "tenantId": subscriptionTenant(s, p.TenantID), "homeTenantId": subscriptionTenant(s, p.TenantID),
			"user": map[string]any{"name": p.Credential.Username, "type": "user"}})
	}
	path, err := p.save()
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s signed in to %s; profile kept in %s (mode 0600; a refresh token, never the password)\n", p.Credential.Username, p.Endpoint, path)
	return printOut(cmd.OutOrStdout(), f.output, accounts, []column{{"Name", "name"}, {"SubscriptionId", "id"}, {"TenantId", "tenantId"}})
}

// subscriptions lists the subscriptions the signed-in principal can see.
func (c *apiClient) subscriptions(ctx context.Context) ([]map[string]any, error) {
	return c.list(ctx, "/subscriptions", resourcesAPIVersion)
}

// subscriptionTenant is the tenant a subscription belongs to, as ARM lists it: a person signed
// in at /organizations has "organizations" as the profile's tenant, which is no tenant's id.
func subscriptionTenant(sub map[string]any, fallback string) string {
	if t, _ := sub["tenantId"].(string); t != "" {
		return t
	}
	return fallback
}
