package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/armid"
)

// armKind is one kind of ARM resource whose show, list and delete commands have one shape:
// where it lives, its api-version, how az prints it and its table columns. The commands with a
// shape of their own (create, update, the vault's secrets) stay beside their noun.
type armKind struct {
	noun       string // as the help text names it
	provider   string // "/providers/<namespace>/<type>" under a group; "" for resource groups
	apiVersion string
	columns    []column
	// shape makes an ARM answer look as az prints it (flatten, withResourceGroup).
	shape func(map[string]any) map[string]any
	// parseID checks an --ids value; nil: the kind takes no --ids.
	parseID func(string) (armid.ResourceID, error)
	// findByName finds the resource by name in the subscription when no group is given (as az
	// keyvault show -n does); false: the group is required.
	findByName bool
}

// The kinds, one row each.
var (
	identityKind = armKind{noun: "user-assigned identity", provider: "/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
		apiVersion: msiAPIVersion, columns: identityColumns, shape: flatten, parseID: armid.ParseUserAssignedIdentityID}
	vaultKind = armKind{noun: "key vault", provider: "/providers/Microsoft.KeyVault/vaults",
		apiVersion: keyVaultAPIVersion, columns: vaultColumns, shape: withResourceGroup, findByName: true}
	groupKind = armKind{noun: "resource group", apiVersion: resourcesAPIVersion, columns: groupColumns,
		shape: func(m map[string]any) map[string]any { return m }}
)

// kindTarget names one resource of a kind on the command line: -g and -n (for a group, -n or
// -g), or --ids.
type kindTarget struct {
	kind             *armKind
	group, name, ids string
}

func (k *armKind) target() *kindTarget { return &kindTarget{kind: k} }

func (t *kindTarget) register(cmd *cobra.Command) {
	if t.kind.provider == "" {
		groupNameFlag(cmd, &t.name)
		return
	}
	groupHelp := "resource group"
	if t.kind.findByName {
		groupHelp += " (default: found by name)"
	}
	cmd.Flags().StringVarP(&t.group, "resource-group", "g", "", groupHelp)
	cmd.Flags().StringVarP(&t.name, "name", "n", "", t.kind.noun+" name")
	if t.kind.parseID != nil {
		cmd.Flags().StringVar(&t.ids, "ids", "", "full "+t.kind.noun+" id, instead of -g and -n")
	} else {
		cmd.MarkFlagRequired("name")
	}
}

// path is the ARM path of the resource named, finding its group by name when the kind allows.
func (t *kindTarget) path(ctx context.Context, c *apiClient, sub string) (string, error) {
	k := t.kind
	switch {
	case k.provider == "":
		return groupPath(sub, t.name), nil
	case t.ids != "":
		id, err := k.parseID(t.ids)
		if err != nil {
			return "", err
		}
		return escapedPath(id), nil
	case t.group == "" && k.findByName && t.name != "":
		found, err := c.findByName(ctx, k, sub, t.name)
		if err != nil {
			return "", err
		}
		group, _ := found["resourceGroup"].(string)
		return k.path(sub, group, t.name), nil
	case t.group == "" || t.name == "":
		if k.parseID != nil {
			return "", fmt.Errorf("name the %s with --resource-group and --name, or with --ids", k.noun)
		}
		return "", fmt.Errorf("name the %s with --resource-group and --name", k.noun)
	}
	return k.path(sub, t.group, t.name), nil
}

func (k *armKind) path(sub, group, name string) string {
	if k.provider == "" {
		return groupPath(sub, name)
	}
	return groupPath(sub, group) + k.provider + "/" + url.PathEscape(name)
}

// findByName finds a resource of kind k by name among the subscription's.
func (c *apiClient) findByName(ctx context.Context, k *armKind, sub, name string) (map[string]any, error) {
	all, err := c.list(ctx, "/subscriptions/"+url.PathEscape(sub)+k.provider, k.apiVersion)
	if err != nil {
		return nil, err
	}
	for _, v := range all {
		if n, _ := v["name"].(string); strings.EqualFold(n, name) {
			return k.shape(v), nil
		}
	}
	return nil, fmt.Errorf("the %s '%s' was not found in subscription %s (or you may not read it)", k.noun, name, sub)
}

// showCommand is `<noun> show`.
func (k *armKind) showCommand() *cobra.Command {
	var a armFlags
	t := k.target()
	return clientCommand("show", "Show a "+k.noun, func(cmd *cobra.Command) {
		a.register(cmd)
		t.register(cmd)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		if k.findByName && t.group == "" && t.ids == "" {
			found, err := c.findByName(ctx, k, sub, t.name) // one request, as az
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), f.output, found, k.columns)
		}
		path, err := t.path(ctx, c, sub)
		if err != nil {
			return err
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodGet, path, k.apiVersion, nil, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, k.shape(out), k.columns)
	})
}

// listCommand is `<noun> list`: the subscription's, or a group's with -g.
func (k *armKind) listCommand(short string) *cobra.Command {
	var a armFlags
	var group string
	return clientCommand("list", short, func(cmd *cobra.Command) {
		a.register(cmd)
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "list only this group's")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		out, err := c.listInScope(ctx, sub, group, k.provider, k.apiVersion, k.shape)
		if err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out, k.columns)
	})
}

// deleteCommand is `<noun> delete`; confirmation, when set, is what az asks -y for.
func (k *armKind) deleteCommand(short string, confirmation func(name string) string) *cobra.Command {
	var a armFlags
	var yes, noWait bool
	t := k.target()
	return clientCommand("delete", short, func(cmd *cobra.Command) {
		a.register(cmd)
		t.register(cmd)
		if confirmation != nil {
			cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
			cmd.Flags().BoolVar(&noWait, "no-wait", false, "accepted for compatibility; mint deletes synchronously")
		}
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		path, err := t.path(ctx, c, sub)
		if err != nil {
			return err
		}
		if confirmation != nil {
			if err := confirm(cmd, yes, confirmation(t.name)); err != nil {
				return err
			}
		}
		return c.arm(ctx, http.MethodDelete, path, k.apiVersion, nil, nil)
	})
}
