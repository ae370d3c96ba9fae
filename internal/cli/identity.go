package cli

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/armid"
)

// `mint identity`: user-assigned managed identities and their federated credentials, like
// az identity. Output is flattened as az shows it: properties at the top level, plus
// resourceGroup.

const defaultFederatedAudience = "api://AzureADTokenExchange"

var identityColumns = []column{{"Name", "name"}, {"ResourceGroup", "resourceGroup"}, {"Location", "location"}, {"ClientId", "clientId"}, {"PrincipalId", "principalId"}}
var ficColumns = []column{{"Name", "name"}, {"Issuer", "issuer"}, {"Subject", "subject"}, {"Audiences", "audiences"}}

// flexibleFICAPIVersion is the first Microsoft.ManagedIdentity api-version with flexible credentials.
const flexibleFICAPIVersion = "2025-01-31-preview"

const flexibleFICUsage = "match the tokens' claims instead of an exact subject (a flexible credential), e.g. " +
	"\"claims['sub'] matches 'repo:org/app:ref:refs/heads/*'\" ('eq' or 'matches' with * and ?, clauses joined by 'and')"

func newIdentityCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Manage user-assigned managed identities (like az identity)"}
	cmd.AddCommand(newIdentityCreateCmd(), identityKind.showCommand(), identityKind.listCommand("List user-assigned identities of the subscription or a group"),
		newIdentityUpdateCmd(), identityKind.deleteCommand("Delete a user-assigned identity (its principal and federated credentials go with it)", nil),
		newIdentityListResourcesCmd(), newFederatedCredentialCmd())
	return cmd
}

// identityTarget names one identity: -g and -n, or --ids.
type identityTarget struct {
	group, name, ids string
}

func (t *identityTarget) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&t.group, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&t.name, "name", "n", "", "identity name")
	cmd.Flags().StringVar(&t.ids, "ids", "", "full identity id, instead of -g and -n")
}

func (t *identityTarget) path(sub string) (string, error) {
	if t.ids != "" {
		id, err := armid.ParseUserAssignedIdentityID(t.ids)
		if err != nil {
			return "", err
		}
		return escapedPath(id), nil
	}
	if t.group == "" || t.name == "" {
		return "", errors.New("name the identity with --resource-group and --name, or with --ids")
	}
	return identityPath(sub, t.group, t.name), nil
}

func identityPath(sub, group, name string) string {
	return groupPath(sub, group) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + url.PathEscape(name)
}

func newIdentityCreateCmd() *cobra.Command {
	var a armFlags
	var group, name, location, isolation string
	var tags []string
	return clientCommand("create", "Create a user-assigned identity (or update its tags)", func(cmd *cobra.Command) {
		a.register(cmd)
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "resource group (required)")
		cmd.Flags().StringVarP(&name, "name", "n", "", "identity name (required)")
		cmd.Flags().StringVarP(&location, "location", "l", "", "location (default: the group's)")
		cmd.Flags().StringArrayVar(&tags, "tags", nil, "tag key=value (repeatable)")
		cmd.Flags().StringVar(&isolation, "isolation-scope", "", "None or Regional")
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
		body := map[string]any{"location": location}
		t, err := parseTags(tags)
		if err != nil {
			return err
		}
		if t != nil {
			body["tags"] = t
		}
		if isolation != "" {
			body["properties"] = map[string]any{"isolationScope": isolation}
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodPut, identityPath(sub, group, name), msiAPIVersion, body, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, flatten(out), identityColumns)
	})
}

func newIdentityUpdateCmd() *cobra.Command {
	var a armFlags
	var t identityTarget
	var tags []string
	var isolation string
	return clientCommand("update", "Update a user-assigned identity's tags or isolation scope", func(cmd *cobra.Command) {
		a.register(cmd)
		t.register(cmd)
		cmd.Flags().StringArrayVar(&tags, "tags", nil, "tag key=value (repeatable); --tags \"\" removes every tag")
		cmd.Flags().StringVar(&isolation, "isolation-scope", "", "None or Regional")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		path, err := t.path(sub)
		if err != nil {
			return err
		}
		body := map[string]any{}
		if tags != nil {
			tg, err := parseTags(tags)
			if err != nil {
				return err
			}
			body["tags"] = tg
		}
		if isolation != "" {
			body["properties"] = map[string]any{"isolationScope": isolation}
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodPatch, path, msiAPIVersion, body, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, flatten(out), identityColumns)
	})
}

func newIdentityListResourcesCmd() *cobra.Command {
	var a armFlags
	var t identityTarget
	return clientCommand("list-resources", "List the resources a user-assigned identity is attached to", func(cmd *cobra.Command) {
		a.register(cmd)
		t.register(cmd)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		path, err := t.path(sub)
		if err != nil {
			return err
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if err := c.arm(ctx, http.MethodPost, path+"/listAssociatedResources", msiAPIVersion, nil, &out); err != nil {
			return err
		}
		if out.Value == nil {
			out.Value = []map[string]any{}
		}
		return printOut(cmd.OutOrStdout(), f.output, out.Value, []column{{"Name", "name"}, {"ResourceGroup", "resourceGroup"}, {"Type", "type"}})
	})
}

func newFederatedCredentialCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "federated-credential", Short: "Manage the federated identity credentials of a user-assigned identity"}
	cmd.AddCommand(newFICPutCmd("create", "Create a federated identity credential"), newFICPutCmd("update", "Replace a federated identity credential"),
		newFICShowCmd(), newFICListCmd(), newFICDeleteCmd())
	return cmd
}

// ficTarget names an identity's credential(s).
type ficTarget struct {
	a                     armFlags
	group, identity, name string
}

func (t *ficTarget) register(cmd *cobra.Command, withName bool) {
	t.a.register(cmd)
	cmd.Flags().StringVarP(&t.group, "resource-group", "g", "", "resource group (required)")
	cmd.Flags().StringVar(&t.identity, "identity-name", "", "name of the user-assigned identity (required)")
	cmd.MarkFlagRequired("resource-group")
	cmd.MarkFlagRequired("identity-name")
	if withName {
		cmd.Flags().StringVarP(&t.name, "name", "n", "", "credential name (required)")
		cmd.MarkFlagRequired("name")
	}
}

func (t *ficTarget) path(ctx context.Context, c *apiClient, f *clientFlags) (string, error) {
	sub, err := t.a.subscriptionID(ctx, c, f)
	if err != nil {
		return "", err
	}
	p := identityPath(sub, t.group, t.identity) + "/federatedIdentityCredentials"
	if t.name != "" {
		p += "/" + url.PathEscape(t.name)
	}
	return p, nil
}

func newFICPutCmd(use, short string) *cobra.Command {
	var t ficTarget
	var issuer, subject, expression string
	var audiences []string
	return clientCommand(use, short, func(cmd *cobra.Command) {
		t.register(cmd, true)
		cmd.Flags().StringVar(&issuer, "issuer", "", "URL of the token issuer to trust (required)")
		cmd.Flags().StringVar(&subject, "subject", "", "the sub claim of the tokens to trust (this or --claims-matching-expression)")
		cmd.Flags().StringVar(&expression, "claims-matching-expression", "", flexibleFICUsage)
		cmd.Flags().StringSliceVar(&audiences, "audiences", []string{defaultFederatedAudience}, "the aud claim of the tokens to trust")
		cmd.MarkFlagRequired("issuer")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		path, err := t.path(ctx, c, f)
		if err != nil {
			return err
		}
		props := map[string]any{"issuer": issuer, "audiences": audiences}
		version := msiAPIVersion
		if expression != "" {
			// A flexible credential exists from the preview api-version on.
			props["claimsMatchingExpression"] = map[string]any{"value": expression, "languageVersion": 1}
			version = flexibleFICAPIVersion
		}
		if subject != "" || expression == "" {
			props["subject"] = subject
		}
		body := map[string]any{"properties": props}
		var out map[string]any
		if err := c.arm(ctx, http.MethodPut, path, version, body, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, flatten(out), ficColumns)
	})
}

func newFICShowCmd() *cobra.Command {
	var t ficTarget
	return clientCommand("show", "Show a federated identity credential", func(cmd *cobra.Command) {
		t.register(cmd, true)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		path, err := t.path(ctx, c, f)
		if err != nil {
			return err
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodGet, path, msiAPIVersion, nil, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, flatten(out), ficColumns)
	})
}

func newFICListCmd() *cobra.Command {
	var t ficTarget
	return clientCommand("list", "List an identity's federated identity credentials", func(cmd *cobra.Command) {
		t.register(cmd, false)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		path, err := t.path(ctx, c, f)
		if err != nil {
			return err
		}
		out, err := c.list(ctx, path, msiAPIVersion)
		if err != nil {
			return err
		}
		for _, m := range out {
			flatten(m)
		}
		return printOut(cmd.OutOrStdout(), f.output, out, ficColumns)
	})
}

func newFICDeleteCmd() *cobra.Command {
	var t ficTarget
	var yes bool
	return clientCommand("delete", "Delete a federated identity credential", func(cmd *cobra.Command) {
		t.register(cmd, true)
		cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		path, err := t.path(ctx, c, f)
		if err != nil {
			return err
		}
		if err := confirm(cmd, yes, "Federated identity credential '"+t.name+"' of identity '"+t.identity+"' will be deleted."); err != nil {
			return err
		}
		return c.arm(ctx, http.MethodDelete, path, msiAPIVersion, nil, nil)
	})
}
