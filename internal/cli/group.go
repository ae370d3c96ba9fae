package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

// `mint group`: resource groups, like az group.

var groupColumns = []column{{"Name", "name"}, {"Location", "location"}, {"Status", "properties.provisioningState"}}

func newGroupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Manage resource groups (like az group)"}
	cmd.AddCommand(newGroupCreateCmd(), groupKind.showCommand(), newGroupListCmd(), newGroupUpdateCmd(),
		groupKind.deleteCommand("Delete a resource group and everything in it", func(name string) string {
			return fmt.Sprintf("Resource group '%s' and every resource and identity in it will be deleted.", name)
		}), newGroupExistsCmd())
	return cmd
}

func newGroupCreateCmd() *cobra.Command {
	var a armFlags
	var name, location, managedBy string
	var tags []string
	return clientCommand("create", "Create a resource group, or update its tags", func(cmd *cobra.Command) {
		a.register(cmd)
		cmd.Flags().StringVarP(&name, "name", "n", "", "group name (required)")
		cmd.Flags().StringVarP(&location, "location", "l", "eastus", "location")
		cmd.Flags().StringArrayVar(&tags, "tags", nil, "tag key=value (repeatable)")
		cmd.Flags().StringVar(&managedBy, "managed-by", "", "id of the resource that manages the group")
		cmd.MarkFlagRequired("name")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		body := map[string]any{"location": location}
		t, err := parseTags(tags)
		if err != nil {
			return err
		}
		if t != nil {
			body["tags"] = t
		}
		if managedBy != "" {
			body["managedBy"] = managedBy
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodPut, groupPath(sub, name), resourcesAPIVersion, body, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out, groupColumns)
	})
}

func newGroupListCmd() *cobra.Command {
	var a armFlags
	var tag string
	return clientCommand("list", "List resource groups", func(cmd *cobra.Command) {
		a.register(cmd)
		cmd.Flags().StringVar(&tag, "tag", "", "only groups with this tag: key or key=value")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		path := "/subscriptions/" + url.PathEscape(sub) + "/resourcegroups"
		if tag != "" {
			t, _ := parseTags([]string{tag})
			for k, v := range t {
				filter := "tagName eq '" + quoteOData(k) + "'"
				if v != "" {
					filter += " and tagValue eq '" + quoteOData(v) + "'"
				}
				path += "?$filter=" + url.QueryEscape(filter)
			}
		}
		out, err := c.list(ctx, path, resourcesAPIVersion)
		if err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out, groupColumns)
	})
}

func newGroupUpdateCmd() *cobra.Command {
	var a armFlags
	var name string
	var tags []string
	return clientCommand("update", "Replace a resource group's tags", func(cmd *cobra.Command) {
		a.register(cmd)
		groupNameFlag(cmd, &name)
		cmd.Flags().StringArrayVar(&tags, "tags", nil, "tag key=value (repeatable); --tags \"\" removes every tag")
		cmd.MarkFlagRequired("tags")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		t, err := parseTags(tags)
		if err != nil {
			return err
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodPatch, groupPath(sub, name), resourcesAPIVersion, map[string]any{"tags": t}, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out, groupColumns)
	})
}

func newGroupExistsCmd() *cobra.Command {
	var a armFlags
	var name string
	return clientCommand("exists", "Print true if the resource group exists, false if not", func(cmd *cobra.Command) {
		a.register(cmd)
		groupNameFlag(cmd, &name)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		err = c.arm(ctx, http.MethodHead, groupPath(sub, name), resourcesAPIVersion, nil, nil)
		var ae *apiError
		switch {
		case err == nil:
			return printOut(cmd.OutOrStdout(), f.output, true, nil)
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			return printOut(cmd.OutOrStdout(), f.output, false, nil)
		default:
			return err
		}
	})
}

// groupNameFlag registers az's two names for the group a command acts on: --name/-n and
// --resource-group/-g (az group show -g app).
func groupNameFlag(cmd *cobra.Command, name *string) {
	cmd.Flags().StringVarP(name, "name", "n", "", "group name (required)")
	cmd.Flags().StringVarP(name, "resource-group", "g", "", "group name (az accepts either)")
	cmd.MarkFlagsOneRequired("name", "resource-group")
	cmd.MarkFlagsMutuallyExclusive("name", "resource-group")
}

// quoteOData doubles single quotes inside an OData string literal.
func quoteOData(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}
