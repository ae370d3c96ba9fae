package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// `mint account`: which subscription and principal the CLI acts as, like az account. The
// first thing an az user types to see where they are.

// az's table columns for accounts, and the user, which is the point of asking.
var accountColumns = []column{{"Name", "name"}, {"SubscriptionId", "id"}, {"TenantId", "tenantId"}, {"State", "state"}, {"IsDefault", "isDefault"}, {"User", "user.name"}}

func newAccountCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Show the subscription and the principal the CLI acts as (like az account)"}
	cmd.AddCommand(newAccountShowCmd(), newAccountListCmd())
	return cmd
}

func newAccountShowCmd() *cobra.Command {
	var a armFlags
	return clientCommand("show", "Show the subscription commands act on, the tenant, and who you are signed in as", func(cmd *cobra.Command) {
		a.register(cmd)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		accounts, err := accountsOf(ctx, c, f, &a)
		if err != nil {
			return err
		}
		for _, acct := range accounts {
			if acct["isDefault"] == true {
				return printOut(cmd.OutOrStdout(), f.output, acct, accountColumns)
			}
		}
		return fmt.Errorf("subscription %s is not one that %s can see; `mint account list` shows those", a.subscription, f.clientID)
	})
}

func newAccountListCmd() *cobra.Command {
	var a armFlags
	return clientCommand("list", "List the subscriptions you can see; isDefault marks the one commands act on", func(cmd *cobra.Command) {
		a.register(cmd)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		accounts, err := accountsOf(ctx, c, f, &a)
		if err != nil {
			return err
		}
		for _, acct := range accounts {
			acct["cloudName"] = acct["environmentName"] // az's list calls it so
			delete(acct, "environmentName")
		}
		return printOut(cmd.OutOrStdout(), f.output, accounts, accountColumns)
	})
}

// accountsOf is every subscription the caller sees in az's account shape, the one commands act
// on (armFlags' choice, else the profile's) marked isDefault.
func accountsOf(ctx context.Context, c *apiClient, f *clientFlags, a *armFlags) ([]map[string]any, error) {
	subs, err := c.subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	user := map[string]any{"name": f.clientID, "type": "servicePrincipal"}
	if f.person != nil {
		user = map[string]any{"name": f.person.Credential.Username, "type": "user"}
		if a.subscription == "" {
			a.subscription = f.person.SubscriptionID
		}
	}
	current, err := a.subscriptionID(ctx, c, f)
	if err != nil && len(subs) > 0 {
		current = "" // several visible and none chosen: none is the default
	}
	accounts := []map[string]any{}
	for _, s := range subs {
		id, _ := s["subscriptionId"].(string)
		if s["tenantId"] == nil {
			s["tenantId"] = f.tenant
		}
		accounts = append(accounts, map[string]any{"environmentName": "mint", "id": id, "name": s["displayName"],
			"isDefault": current != "" && strings.EqualFold(id, current), "state": s["state"], "tenantId": s["tenantId"],
			"homeTenantId": s["tenantId"], "managedByTenants": []any{}, "user": user})
	}
	return accounts, nil
}
