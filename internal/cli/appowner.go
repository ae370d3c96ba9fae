package cli

import (
	"context"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// `mint ad app owner add|list|remove`, in the shape of az ad app owner: the users and service
// principals that may change an application besides the directory's administrators.

func newAppOwnerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "owner", Short: "Manage an application's owners (who may change it)"}
	cmd.AddCommand(newAppOwnerAddCmd(), newAppOwnerListCmd(), newAppOwnerRemoveCmd())
	return cmd
}

// appOwnerCommand builds an owner command that takes --id (the application's appId).
func appOwnerCommand(use, short string, withOwner bool, fn func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, app, owner string) error) *cobra.Command {
	var id, owner string
	return clientCommand(use, short, func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "application (client) id (required)")
		cmd.MarkFlagRequired("id")
		if withOwner {
			cmd.Flags().StringVar(&owner, "owner-object-id", "", "object id of the user or service principal (required)")
			cmd.MarkFlagRequired("owner-object-id")
		}
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		return fn(ctx, cmd, c, f, id, owner)
	})
}

func listAppOwners(ctx context.Context, c *apiClient, appID string) ([]map[string]any, error) {
	var out struct {
		Value []map[string]any `json:"value"`
	}
	if err := c.do(ctx, graphScope, "GET", appPath(appID)+"/owners", nil, &out); err != nil {
		return nil, err
	}
	return out.Value, nil
}

func newAppOwnerAddCmd() *cobra.Command {
	return appOwnerCommand("add", "Add an owner; an owner already there is left as is, as az does", true,
		func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, app, owner string) error {
			owners, err := listAppOwners(ctx, c, app)
			if err != nil {
				return err
			}
			for _, o := range owners {
				if id, _ := o["id"].(string); strings.EqualFold(id, owner) {
					return nil
				}
			}
			body := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + owner}
			return c.do(ctx, graphScope, "POST", appPath(app)+"/owners/$ref", body, nil)
		})
}

func newAppOwnerListCmd() *cobra.Command {
	return appOwnerCommand("list", "List an application's owners", false,
		func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, app, _ string) error {
			owners, err := listAppOwners(ctx, c, app)
			if err != nil {
				return err
			}
			return printOut(cmd.OutOrStdout(), f.output, owners, memberColumns)
		})
}

func newAppOwnerRemoveCmd() *cobra.Command {
	return appOwnerCommand("remove", "Remove an owner", true,
		func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, app, owner string) error {
			return c.do(ctx, graphScope, "DELETE", appPath(app)+"/owners/"+url.PathEscape(owner)+"/$ref", nil, nil)
		})
}
