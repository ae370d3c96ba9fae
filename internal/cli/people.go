package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// `mint ad user ...` and `mint ad group ...`: the directory's people, in the shape of az ad user
// and az ad group, as Graph clients.

var userColumns = []column{{"DisplayName", "displayName"}, {"UserPrincipalName", "userPrincipalName"}, {"Id", "id"}, {"AccountEnabled", "accountEnabled"}}
var adGroupColumns = []column{{"DisplayName", "displayName"}, {"MailNickname", "mailNickname"}, {"Id", "id"}}
var memberColumns = []column{{"DisplayName", "displayName"}, {"Id", "id"}, {"Type", "@odata.type"}}

func newADUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users (people who sign in)"}
	cmd.AddCommand(newUserCreateCmd(), newUserListCmd(), newUserShowCmd(), newUserUpdateCmd(), newUserDeleteCmd())
	return cmd
}

func newADGroupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Manage security groups and their members"}
	member := &cobra.Command{Use: "member", Short: "Manage a group's members (users, groups, service principals)"}
	member.AddCommand(newADGroupMemberAddCmd(), newADGroupMemberRemoveCmd(), newADGroupMemberListCmd(), newADGroupMemberCheckCmd())
	cmd.AddCommand(newADGroupCreateCmd(), newADGroupListCmd(), newADGroupShowCmd(), newADGroupDeleteCmd(), member)
	return cmd
}

// userPath addresses a user by object id or user principal name, as az does.
func userPath(id string) string { return "/v1.0/users/" + url.PathEscape(id) }

func newUserCreateCmd() *cobra.Command {
	var name, upn, password, nickname string
	var forceChange bool
	var enabled bool
	return clientCommand("create", "Create a user", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&name, "display-name", "", "display name (required)")
		cmd.Flags().StringVar(&upn, "user-principal-name", "", "sign-in name, user@<a domain of the tenant> (required)")
		cmd.Flags().StringVar(&password, "password", "", "password: 8 to 256 characters of three kinds (required)")
		cmd.Flags().StringVar(&nickname, "mail-nickname", "", "mail alias (default: the part of the name before @)")
		cmd.Flags().BoolVar(&forceChange, "force-change-password-next-sign-in", false, "ask for a new password at the next sign-in")
		cmd.Flags().BoolVar(&enabled, "account-enabled", true, "whether the user may sign in")
		cmd.MarkFlagRequired("display-name")
		cmd.MarkFlagRequired("user-principal-name")
		cmd.MarkFlagRequired("password")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		if nickname == "" {
			nickname, _, _ = strings.Cut(upn, "@")
		}
		body := map[string]any{
			"accountEnabled": enabled, "displayName": name, "mailNickname": nickname, "userPrincipalName": upn,
			"passwordProfile": map[string]any{"password": password, "forceChangePasswordNextSignIn": forceChange},
		}
		var out map[string]any
		if err := c.do(ctx, graphScope, "POST", "/v1.0/users", body, &out); err != nil {
			return err
		}
		delete(out, "@odata.context")
		return printOut(cmd.OutOrStdout(), f.output, out, userColumns)
	})
}

func newUserListCmd() *cobra.Command {
	var upn, name string
	return clientCommand("list", "List users", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&upn, "upn", "", "only the user with this user principal name")
		cmd.Flags().StringVar(&name, "display-name", "", "only users whose display name starts with this")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		path := "/v1.0/users"
		switch {
		case upn != "":
			path += "?$filter=" + url.QueryEscape("userPrincipalName eq "+odataString(upn))
		case name != "":
			path += "?$filter=" + url.QueryEscape("startswith(displayName,"+odataString(name)+")")
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if err := c.do(ctx, graphScope, "GET", path, nil, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out.Value, userColumns)
	})
}

// odataString quotes s as an OData string literal.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func newUserShowCmd() *cobra.Command {
	var id string
	return clientCommand("show", "Show a user", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "object id or user principal name (required)")
		cmd.MarkFlagRequired("id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		var out map[string]any
		if err := c.do(ctx, graphScope, "GET", userPath(id), nil, &out); err != nil {
			return err
		}
		delete(out, "@odata.context")
		return printOut(cmd.OutOrStdout(), f.output, out, userColumns)
	})
}

func newUserUpdateCmd() *cobra.Command {
	var id, name, password string
	var forceChange, enabled bool
	return clientCommand("update", "Update a user: display name, password, sign-in enabled", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "object id or user principal name (required)")
		cmd.Flags().StringVar(&name, "display-name", "", "new display name")
		cmd.Flags().StringVar(&password, "password", "", "new password (revokes the user's sessions and refresh tokens)")
		cmd.Flags().BoolVar(&forceChange, "force-change-password-next-sign-in", false, "ask for a new password at the next sign-in")
		cmd.Flags().BoolVar(&enabled, "account-enabled", true, "whether the user may sign in (false revokes its sessions)")
		cmd.MarkFlagRequired("id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		body := map[string]any{}
		if cmd.Flags().Changed("display-name") {
			body["displayName"] = name
		}
		if cmd.Flags().Changed("account-enabled") {
			body["accountEnabled"] = enabled
		}
		if cmd.Flags().Changed("password") || cmd.Flags().Changed("force-change-password-next-sign-in") {
			profile := map[string]any{"forceChangePasswordNextSignIn": forceChange}
			if cmd.Flags().Changed("password") {
				profile["password"] = password
			}
			body["passwordProfile"] = profile
		}
		if len(body) == 0 {
			return fmt.Errorf("nothing to update: give --display-name, --password, --force-change-password-next-sign-in or --account-enabled")
		}
		return c.do(ctx, graphScope, "PATCH", userPath(id), body, nil)
	})
}

func newUserDeleteCmd() *cobra.Command {
	var id string
	return clientCommand("delete", "Delete a user", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&id, "id", "", "object id or user principal name (required)")
		cmd.MarkFlagRequired("id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		return c.do(ctx, graphScope, "DELETE", userPath(id), nil, nil)
	})
}

func newADGroupCreateCmd() *cobra.Command {
	var name, nickname, description string
	return clientCommand("create", "Create a security group (or return the one with this name and nickname)", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&name, "display-name", "", "display name (required)")
		cmd.Flags().StringVar(&nickname, "mail-nickname", "", "mail nickname (required)")
		cmd.Flags().StringVar(&description, "description", "", "description")
		cmd.MarkFlagRequired("display-name")
		cmd.MarkFlagRequired("mail-nickname")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		// As az: an existing group with the same name and nickname is returned, not duplicated.
		var found struct {
			Value []map[string]any `json:"value"`
		}
		filter := "displayName eq " + odataString(name) + " and mailNickname eq " + odataString(nickname)
		if err := c.do(ctx, graphScope, "GET", "/v1.0/groups?$filter="+url.QueryEscape(filter), nil, &found); err != nil {
			return err
		}
		if len(found.Value) > 0 {
			return printOut(cmd.OutOrStdout(), f.output, found.Value[0], adGroupColumns)
		}
		body := map[string]any{"displayName": name, "mailNickname": nickname, "mailEnabled": false, "securityEnabled": true}
		if description != "" {
			body["description"] = description
		}
		var out map[string]any
		if err := c.do(ctx, graphScope, "POST", "/v1.0/groups", body, &out); err != nil {
			return err
		}
		delete(out, "@odata.context")
		return printOut(cmd.OutOrStdout(), f.output, out, adGroupColumns)
	})
}

func newADGroupListCmd() *cobra.Command {
	var name string
	return clientCommand("list", "List groups", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&name, "display-name", "", "only groups whose display name starts with this")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		path := "/v1.0/groups"
		if name != "" {
			path += "?$filter=" + url.QueryEscape("startswith(displayName,"+odataString(name)+")")
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if err := c.do(ctx, graphScope, "GET", path, nil, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out.Value, adGroupColumns)
	})
}

// resolveGroup finds a group's object id from an id or a display name, as az's --group does.
func resolveGroup(ctx context.Context, c *apiClient, ref string) (string, error) {
	if _, err := uuid.Parse(ref); err == nil {
		return ref, nil
	}
	var found struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if err := c.do(ctx, graphScope, "GET", "/v1.0/groups?$filter="+url.QueryEscape("displayName eq "+odataString(ref)), nil, &found); err != nil {
		return "", err
	}
	switch len(found.Value) {
	case 0:
		return "", fmt.Errorf("no group has the display name %q; give its object id or a name that exists", ref)
	case 1:
		return found.Value[0].ID, nil
	default:
		return "", fmt.Errorf("%d groups have the display name %q; give the object id", len(found.Value), ref)
	}
}

func adGroupCommand(use, short string, extra func(*cobra.Command), fn func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, groupID string) error) *cobra.Command {
	var group string
	return clientCommand(use, short, func(cmd *cobra.Command) {
		cmd.Flags().StringVarP(&group, "group", "g", "", "group object id or display name (required)")
		cmd.MarkFlagRequired("group")
		if extra != nil {
			extra(cmd)
		}
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		id, err := resolveGroup(ctx, c, group)
		if err != nil {
			return err
		}
		return fn(ctx, cmd, c, f, id)
	})
}

func adGroupPath(id string) string { return "/v1.0/groups/" + url.PathEscape(id) }

func newADGroupShowCmd() *cobra.Command {
	return adGroupCommand("show", "Show a group", nil, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, id string) error {
		var out map[string]any
		if err := c.do(ctx, graphScope, "GET", adGroupPath(id), nil, &out); err != nil {
			return err
		}
		delete(out, "@odata.context")
		return printOut(cmd.OutOrStdout(), f.output, out, adGroupColumns)
	})
}

func newADGroupDeleteCmd() *cobra.Command {
	return adGroupCommand("delete", "Delete a group", nil, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, id string) error {
		return c.do(ctx, graphScope, "DELETE", adGroupPath(id), nil, nil)
	})
}

func newADGroupMemberAddCmd() *cobra.Command {
	var member string
	return adGroupCommand("add", "Add a member (user, group, service principal or managed identity)", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&member, "member-id", "", "object id of the member (required)")
		cmd.MarkFlagRequired("member-id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, id string) error {
		body := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + member}
		return c.do(ctx, graphScope, "POST", adGroupPath(id)+"/members/$ref", body, nil)
	})
}

func newADGroupMemberRemoveCmd() *cobra.Command {
	var member string
	return adGroupCommand("remove", "Remove a member", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&member, "member-id", "", "object id of the member (required)")
		cmd.MarkFlagRequired("member-id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, id string) error {
		return c.do(ctx, graphScope, "DELETE", adGroupPath(id)+"/members/"+url.PathEscape(member)+"/$ref", nil, nil)
	})
}

func newADGroupMemberListCmd() *cobra.Command {
	var transitive bool
	return adGroupCommand("list", "List a group's direct members", func(cmd *cobra.Command) {
		cmd.Flags().BoolVar(&transitive, "transitive", false, "also the members of nested groups (mint's addition)")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, id string) error {
		path := adGroupPath(id) + "/members"
		if transitive {
			path = adGroupPath(id) + "/transitiveMembers"
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if err := c.do(ctx, graphScope, "GET", path, nil, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out.Value, memberColumns)
	})
}

func newADGroupMemberCheckCmd() *cobra.Command {
	var member string
	return adGroupCommand("check", "Check whether an object is a member, directly or through nested groups", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&member, "member-id", "", "object id of the member (required)")
		cmd.MarkFlagRequired("member-id")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags, id string) error {
		var out struct {
			Value []string `json:"value"`
		}
		path := "/v1.0/directoryObjects/" + url.PathEscape(member) + "/checkMemberGroups"
		if err := c.do(ctx, graphScope, "POST", path, map[string]any{"groupIds": []string{id}}, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, map[string]any{"value": len(out.Value) > 0}, []column{{"Value", "value"}})
	})
}
