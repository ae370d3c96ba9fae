package cli

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newADCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ad", Short: "Manage the directory: applications, service principals, users and groups (like az ad)"}
	app := &cobra.Command{Use: "app", Short: "Manage application registrations"}
	app.AddCommand(newAppCreateCmd(), newAppUpdateCmd(), newAppListCmd(), newAppShowCmd(), newAppDeleteCmd(), newAppCredentialCmd(), newAppFICCmd(), newAppOwnerCmd())
	sp := &cobra.Command{Use: "sp", Short: "Manage service principals"}
	sp.AddCommand(newSPListCmd(), newSPShowCmd(), newSPAppRoleCmd())
	cmd.AddCommand(app, sp, newADUserCmd(), newADGroupCmd())
	return cmd
}

var appColumns = []column{{"DisplayName", "displayName"}, {"AppId", "appId"}, {"Id", "id"}, {"IdentifierUris", "identifierUris"}}
var spColumns = []column{{"DisplayName", "displayName"}, {"AppId", "appId"}, {"Id", "id"}, {"Type", "servicePrincipalType"}}

// clientCommand builds a command that signs in and runs fn with the API client.
func clientCommand(use, short string, setup func(*cobra.Command), fn func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			return fn(cmd.Context(), cmd, c, &f)
		},
	}
	f.register(cmd.Flags())
	if setup != nil {
		setup(cmd)
	}
	return cmd
}

func readCertDER(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%s holds no PEM CERTIFICATE block", path)
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}

// redirectFlags are az's flags for an application's redirect URIs (az ad app create/update).
type redirectFlags struct {
	web, publicClient []string
	fallback          string
}

func (r *redirectFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&r.web, "web-redirect-uris", nil, "redirect URIs of the web platform: https, or http://localhost (repeatable or comma-separated)")
	cmd.Flags().StringSliceVar(&r.publicClient, "public-client-redirect-uris", nil,
		"redirect URIs of the mobile and desktop platform, e.g. http://localhost (any port) (repeatable or comma-separated)")
	cmd.Flags().StringVar(&r.fallback, "is-fallback-public-client", "", "true: the device code and password flows treat the app as a public client")
}

// apply adds the flags that were given to a Graph application body.
func (r *redirectFlags) apply(cmd *cobra.Command, body map[string]any) error {
	if cmd.Flags().Changed("web-redirect-uris") {
		body["web"] = map[string]any{"redirectUris": nonNilStrings(r.web)}
	}
	if cmd.Flags().Changed("public-client-redirect-uris") {
		body["publicClient"] = map[string]any{"redirectUris": nonNilStrings(r.publicClient)}
	}
	switch strings.ToLower(r.fallback) {
	case "":
	case "true":
		body["isFallbackPublicClient"] = true
	case "false":
		body["isFallbackPublicClient"] = false
	default:
		return fmt.Errorf("--is-fallback-public-client must be true or false, not %q", r.fallback)
	}
	return nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func newAppUpdateCmd() *cobra.Command {
	var id string
	var redirects redirectFlags
	return clientCommand("update", "Update an application's redirect URIs", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "application (client) id (required)")
		cmd.MarkFlagRequired("id")
		redirects.register(cmd)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		body := map[string]any{}
		if err := redirects.apply(cmd, body); err != nil {
			return err
		}
		if len(body) == 0 {
			return fmt.Errorf("nothing to update: give --web-redirect-uris, --public-client-redirect-uris or --is-fallback-public-client")
		}
		return c.do(ctx, graphScope, "PATCH", appPath(id), body, nil)
	})
}

func newAppCreateCmd() *cobra.Command {
	var name string
	var uris, roles, certs []string
	var version int
	var redirects redirectFlags
	return clientCommand("create", "Register an application", func(cmd *cobra.Command) {
		redirects.register(cmd)
		cmd.Flags().StringVar(&name, "display-name", "", "display name (required)")
		cmd.Flags().StringSliceVar(&uris, "identifier-uris", nil, "app ID URIs under which the app is a token audience")
		cmd.Flags().StringSliceVar(&roles, "app-role", nil, "app role value the application defines (repeatable)")
		cmd.Flags().StringSliceVar(&certs, "cert-file", nil, "PEM certificate to register as a credential (repeatable)")
		cmd.Flags().IntVar(&version, "requested-access-token-version", 0, "version of tokens issued for this app as a resource: 1 or 2")
		cmd.MarkFlagRequired("display-name")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		body := map[string]any{"displayName": name, "identifierUris": uris}
		if err := redirects.apply(cmd, body); err != nil {
			return err
		}
		if version != 0 {
			body["api"] = map[string]any{"requestedAccessTokenVersion": version}
		}
		var appRoles []map[string]any
		for _, r := range roles {
			appRoles = append(appRoles, map[string]any{"value": r, "displayName": r, "allowedMemberTypes": []string{"Application"}, "isEnabled": true})
		}
		if appRoles != nil {
			body["appRoles"] = appRoles
		}
		var keyCreds []map[string]any
		for _, p := range certs {
			der, err := readCertDER(p)
			if err != nil {
				return err
			}
			keyCreds = append(keyCreds, map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(der)})
		}
		if keyCreds != nil {
			body["keyCredentials"] = keyCreds
		}
		var out map[string]any
		if err := c.do(ctx, graphScope, "POST", "/v1.0/applications", body, &out); err != nil {
			return err
		}
		delete(out, "@odata.context")
		return printOut(cmd.OutOrStdout(), f.output, out, appColumns)
	})
}

func newAppListCmd() *cobra.Command {
	return clientCommand("list", "List application registrations", nil, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		apps, err := c.graphList(ctx, "/v1.0/applications")
		if err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, apps, appColumns)
	})
}

// appPath addresses an application by its appId, as az does.
func appPath(appID string) string {
	return "/v1.0/applications(appId='" + url.PathEscape(appID) + "')"
}

func newAppShowCmd() *cobra.Command {
	var id string
	return clientCommand("show", "Show an application", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "application (client) id (required)")
		cmd.MarkFlagRequired("id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		var out map[string]any
		if err := c.do(ctx, graphScope, "GET", appPath(id), nil, &out); err != nil {
			return err
		}
		delete(out, "@odata.context")
		return printOut(cmd.OutOrStdout(), f.output, out, appColumns)
	})
}

func newAppDeleteCmd() *cobra.Command {
	var id string
	return clientCommand("delete", "Delete an application and its service principal", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "application (client) id (required)")
		cmd.MarkFlagRequired("id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		return c.do(ctx, graphScope, "DELETE", appPath(id), nil, nil)
	})
}

func newAppCredentialCmd() *cobra.Command {
	cred := &cobra.Command{Use: "credential", Short: "Manage an application's secrets and certificates"}
	var id, name, certFile string
	var appendCred bool
	var years int
	reset := clientCommand("reset", "Add a new client secret or certificate (replacing the old ones unless --append)", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "application (client) id (required)")
		cmd.Flags().StringVar(&name, "display-name", "", "name of the credential")
		cmd.Flags().StringVar(&certFile, "cert-file", "", "register this PEM certificate instead of creating a secret")
		cmd.Flags().BoolVar(&appendCred, "append", false, "keep the existing credentials")
		cmd.Flags().IntVar(&years, "years", 0, "years the new secret is valid (default 2)")
		cmd.MarkFlagRequired("id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		var app struct {
			ID                  string `json:"id"`
			AppID               string `json:"appId"`
			PasswordCredentials []struct {
				KeyID string `json:"keyId"`
			} `json:"passwordCredentials"`
			KeyCredentials []struct {
				KeyID string `json:"keyId"`
			} `json:"keyCredentials"`
		}
		if err := c.do(ctx, graphScope, "GET", appPath(id), nil, &app); err != nil {
			return err
		}
		result := map[string]any{"appId": app.AppID, "tenant": f.tenant, "password": nil}
		if certFile != "" {
			der, err := readCertDER(certFile)
			if err != nil {
				return err
			}
			keys := []map[string]any{{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(der), "displayName": name}}
			if appendCred {
				for _, k := range app.KeyCredentials {
					keys = append(keys, map[string]any{"keyId": k.KeyID})
				}
			}
			if err := c.do(ctx, graphScope, "PATCH", "/v1.0/applications/"+app.ID, map[string]any{"keyCredentials": keys}, nil); err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), f.output, result, []column{{"AppId", "appId"}, {"Tenant", "tenant"}})
		}
		pc := map[string]any{"displayName": name}
		if years > 0 {
			pc["endDateTime"] = time.Now().AddDate(years, 0, 0).UTC().Format(time.RFC3339)
		}
		var added struct {
			SecretText string `json:"secretText"`
		}
		if err := c.do(ctx, graphScope, "POST", "/v1.0/applications/"+app.ID+"/addPassword", map[string]any{"passwordCredential": pc}, &added); err != nil {
			return err
		}
		if !appendCred {
			for _, p := range app.PasswordCredentials {
				if err := c.do(ctx, graphScope, "POST", "/v1.0/applications/"+app.ID+"/removePassword", map[string]any{"keyId": p.KeyID}, nil); err != nil {
					return err
				}
			}
		}
		result["password"] = added.SecretText
		return printOut(cmd.OutOrStdout(), f.output, result, []column{{"AppId", "appId"}, {"Password", "password"}, {"Tenant", "tenant"}})
	})
	cred.AddCommand(reset)
	return cred
}

// newAppFICCmd is `mint ad app federated-credential`, az's command of that name: an application's
// federated identity credentials through Graph.
func newAppFICCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "federated-credential", Short: "Manage an application's federated identity credentials (workload identity federation)"}
	var id, ref string
	appFlag := func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "application (client) id (required)")
		cmd.MarkFlagRequired("id")
	}
	refFlag := func(cmd *cobra.Command) {
		appFlag(cmd)
		cmd.Flags().StringVar(&ref, "federated-credential-id", "", "the credential's id or name (required)")
		cmd.MarkFlagRequired("federated-credential-id")
	}
	ficPath := func() string {
		p := appPath(id) + "/federatedIdentityCredentials"
		if ref != "" {
			p += "/" + url.PathEscape(ref)
		}
		return p
	}

	var name, issuer, subject, expression, description string
	var audiences []string
	create := clientCommand("create", "Trust tokens of an external issuer (issuer, subject and audience must match exactly)", func(cmd *cobra.Command) {
		appFlag(cmd)
		cmd.Flags().StringVarP(&name, "name", "n", "", "credential name (required)")
		cmd.Flags().StringVar(&issuer, "issuer", "", "URL of the token issuer to trust (required)")
		cmd.Flags().StringVar(&subject, "subject", "", "the sub claim of the tokens to trust (this or --claims-matching-expression)")
		cmd.Flags().StringVar(&expression, "claims-matching-expression", "", flexibleFICUsage)
		cmd.Flags().StringSliceVar(&audiences, "audiences", []string{defaultFederatedAudience}, "the aud claim of the tokens to trust")
		cmd.Flags().StringVar(&description, "description", "", "what the credential is for")
		for _, f := range []string{"name", "issuer"} {
			cmd.MarkFlagRequired(f)
		}
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		body := map[string]any{"name": name, "issuer": issuer, "audiences": audiences, "description": description}
		if expression != "" {
			body["claimsMatchingExpression"] = map[string]any{"value": expression, "languageVersion": 1}
		}
		if subject != "" || expression == "" {
			body["subject"] = subject
		}
		var out map[string]any
		if err := c.do(ctx, graphScope, "POST", ficPath(), body, &out); err != nil {
			return err
		}
		delete(out, "@odata.context")
		return printOut(cmd.OutOrStdout(), f.output, out, appFICColumns)
	})
	list := clientCommand("list", "List an application's federated identity credentials", appFlag,
		func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
			var out struct {
				Value []map[string]any `json:"value"`
			}
			if err := c.do(ctx, graphScope, "GET", ficPath(), nil, &out); err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), f.output, out.Value, appFICColumns)
		})
	show := clientCommand("show", "Show a federated identity credential", refFlag,
		func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
			var out map[string]any
			if err := c.do(ctx, graphScope, "GET", ficPath(), nil, &out); err != nil {
				return err
			}
			delete(out, "@odata.context")
			return printOut(cmd.OutOrStdout(), f.output, out, appFICColumns)
		})
	del := clientCommand("delete", "Delete a federated identity credential", refFlag,
		func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
			return c.do(ctx, graphScope, "DELETE", ficPath(), nil, nil)
		})
	cmd.AddCommand(create, list, show, del)
	return cmd
}

var appFICColumns = []column{{"Name", "name"}, {"Issuer", "issuer"}, {"Subject", "subject"}, {"Audiences", "audiences"}, {"Id", "id"}}

func newSPListCmd() *cobra.Command {
	return clientCommand("list", "List service principals (applications, managed identities and first-party resources)", nil, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sps, err := c.graphList(ctx, "/v1.0/servicePrincipals")
		if err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, sps, spColumns)
	})
}

func newSPShowCmd() *cobra.Command {
	var id string
	return clientCommand("show", "Show a service principal by object id or app id", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "object id or app id (required)")
		cmd.MarkFlagRequired("id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sp, err := findSP(ctx, c, id)
		if err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, sp, spColumns)
	})
}

// findSP finds a service principal by object id or app id.
func findSP(ctx context.Context, c *apiClient, id string) (map[string]any, error) {
	// By object id, then by app id or identifier URI with the filter az sends, each of which
	// Graph reads by key; only a URI written with another trailing slash needs every page.
	if roleIsGUID(id) {
		var sp map[string]any
		err := c.do(ctx, graphScope, "GET", "/v1.0/servicePrincipals/"+id, nil, &sp)
		var ae *apiError
		if err == nil || !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			return sp, err
		}
	}
	var found struct {
		Value []map[string]any `json:"value"`
	}
	filter := "servicePrincipalNames/any(c:c eq " + odataString(id) + ")"
	if err := c.do(ctx, graphScope, "GET", "/v1.0/servicePrincipals?$filter="+url.QueryEscape(filter), nil, &found); err != nil {
		return nil, err
	}
	if len(found.Value) > 0 {
		return found.Value[0], nil
	}
	sps, err := c.graphList(ctx, "/v1.0/servicePrincipals")
	if err != nil {
		return nil, err
	}
	for _, sp := range sps {
		if equalFoldAny(sp["id"], id) || equalFoldAny(sp["appId"], id) {
			return sp, nil
		}
	}
	// An identifier URI (api://orders), compared as Entra compares them: case-insensitively and
	// without a trailing slash.
	want := strings.TrimRight(id, "/")
	for _, sp := range sps {
		names, _ := sp["servicePrincipalNames"].([]any)
		for _, n := range names {
			if s, ok := n.(string); ok && strings.EqualFold(strings.TrimRight(s, "/"), want) {
				return sp, nil
			}
		}
	}
	return nil, fmt.Errorf("no service principal has object id, app id or identifier URI %q; `mint ad sp list` shows them", id)
}

func equalFoldAny(v any, s string) bool {
	str, ok := v.(string)
	return ok && strings.EqualFold(str, s)
}

func newSPAppRoleCmd() *cobra.Command {
	ar := &cobra.Command{Use: "app-role", Short: "Grant app roles (application permissions) of a resource to a service principal"}
	var assignee, resource, role string
	grant := clientCommand("grant", "Grant an app role; it appears in the roles claim of the assignee's tokens for the resource", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&assignee, "assignee", "", "object id or app id of the service principal receiving the role (required)")
		cmd.Flags().StringVar(&resource, "resource", "", "object id, app id or identifier URI (api://...) of the resource defining the role (required)")
		cmd.Flags().StringVar(&role, "role", "", "app role value or id (required)")
		for _, n := range []string{"assignee", "resource", "role"} {
			cmd.MarkFlagRequired(n)
		}
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		who, err := findSP(ctx, c, assignee)
		if err != nil {
			return err
		}
		res, err := findSP(ctx, c, resource)
		if err != nil {
			return err
		}
		var out map[string]any
		body := map[string]any{"principalId": who["id"], "resourceId": res["id"], "appRoleId": role}
		if err := c.do(ctx, graphScope, "POST", fmt.Sprintf("/v1.0/servicePrincipals/%s/appRoleAssignments", who["id"]), body, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out, []column{{"Principal", "principalDisplayName"}, {"Resource", "resourceDisplayName"}, {"AppRoleId", "appRoleId"}})
	})
	ar.AddCommand(grant)
	return ar
}

// graphList reads every page of a Graph list, following @odata.nextLink: Graph answers a list
// 100 objects a page unless $top asks for another size.
func (c *apiClient) graphList(ctx context.Context, path string) ([]map[string]any, error) {
	var all []map[string]any
	for path != "" {
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := c.do(ctx, graphScope, "GET", path, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Value...)
		path = ""
		if page.NextLink != "" {
			u, err := url.Parse(page.NextLink)
			if err != nil {
				return nil, fmt.Errorf("the list's @odata.nextLink %q: %w", page.NextLink, err)
			}
			path = u.RequestURI()
		}
	}
	if all == nil {
		all = []map[string]any{}
	}
	return all, nil
}
