package cli

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newSignInLogCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "signin-log", Short: "Inspect the sign-in log: every token issued or refused, and why"}
	var principal, appID, since string
	var top int
	list := clientCommand("list", "List sign-ins, newest first", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&principal, "principal", "", "only this principal (object id)")
		cmd.Flags().StringVar(&appID, "app-id", "", "only this client id")
		cmd.Flags().StringVar(&since, "since", "", "only entries after this RFC 3339 time or this long ago (e.g. 15m)")
		cmd.Flags().IntVar(&top, "top", 50, "at most this many entries (1-1000)")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		var clauses []string
		if principal != "" {
			clauses = append(clauses, fmt.Sprintf("servicePrincipalId eq '%s'", principal))
		}
		if appID != "" {
			clauses = append(clauses, fmt.Sprintf("appId eq '%s'", appID))
		}
		if since != "" {
			t, err := time.Parse(time.RFC3339, since)
			if err != nil {
				d, derr := time.ParseDuration(since)
				if derr != nil {
					return fmt.Errorf("--since must be an RFC 3339 time or a duration like 15m, not %q", since)
				}
				t = time.Now().Add(-d)
			}
			clauses = append(clauses, "createdDateTime ge "+t.UTC().Format(time.RFC3339))
		}
		q := url.Values{"$top": {strconv.Itoa(top)}}
		if len(clauses) > 0 {
			q.Set("$filter", strings.Join(clauses, " and "))
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if err := c.do(ctx, graphScope, "GET", "/v1.0/auditLogs/signIns?"+q.Encode(), nil, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out.Value, []column{
			{"Time", "createdDateTime"}, {"Result", "result"}, {"AppId", "appId"}, {"Resource", "resourceId"},
			{"Grant", "grantType"}, {"Reason", "status.failureReason"},
		})
	})
	cmd.AddCommand(list)
	return cmd
}
