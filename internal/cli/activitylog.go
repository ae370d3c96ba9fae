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

// `mint activity-log list`: the management endpoint's Administrative events (every
// control-plane write, allowed or refused), like az monitor activity-log list.

func newActivityLogCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "activity-log", Short: "Inspect the activity log: every control-plane write, who made it, and how it ended"}
	var group, resourceID, caller, start, end, status, correlation, subFlag string
	var offset time.Duration
	var maxEvents int
	list := clientCommand("list", "List activity-log events, newest first", func(cmd *cobra.Command) {
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "only events in this resource group")
		cmd.Flags().StringVar(&resourceID, "resource-id", "", "only events on this resource (and below it)")
		cmd.Flags().StringVar(&caller, "caller", "", "only events by this caller (object id or app id)")
		cmd.Flags().StringVar(&start, "start-time", "", "start of the window, RFC 3339 (default: --offset before the end)")
		cmd.Flags().StringVar(&end, "end-time", "", "end of the window, RFC 3339 (default: now)")
		cmd.Flags().DurationVar(&offset, "offset", 6*time.Hour, "length of the window when --start-time is not given")
		cmd.Flags().StringVar(&status, "status", "", "only events with this status (Succeeded, Failed)")
		cmd.Flags().StringVar(&correlation, "correlation-id", "", "only events of this correlation id")
		cmd.Flags().IntVar(&maxEvents, "max-events", 50, "at most this many events (1-1000)")
		cmd.Flags().StringVar(&subFlag, "subscription", "", "subscription id (default $AZURE_SUBSCRIPTION_ID)")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := rbacSubscription(f, subFlag)
		if err != nil {
			return err
		}
		filter, err := activityFilter(time.Now(), start, end, offset, group, resourceID, caller, status, correlation)
		if err != nil {
			return err
		}
		if maxEvents < 1 || maxEvents > 1000 {
			return fmt.Errorf("--max-events must be from 1 to 1000")
		}
		q := url.Values{"api-version": {"2015-04-01"}, "$filter": {filter}, "$top": {strconv.Itoa(maxEvents)}}
		var page struct {
			Value []map[string]any `json:"value"`
		}
		if err := c.do(ctx, managementScope, "GET", "/subscriptions/"+sub+"/providers/Microsoft.Insights/eventtypes/management/values?"+q.Encode(), nil, &page); err != nil {
			return err
		}
		if page.Value == nil {
			page.Value = []map[string]any{}
		}
		return printOut(cmd.OutOrStdout(), f.output, page.Value, []column{
			{"Time", "eventTimestamp"}, {"Operation", "operationName.value"}, {"Status", "status.value"}, {"SubStatus", "subStatus.value"},
			{"Caller", "caller"}, {"Resource", "resourceId"}, {"CorrelationId", "correlationId"},
		})
	})
	cmd.AddCommand(list)
	return cmd
}

// activityFilter builds the $filter of an activity-log list: always a time window (as Azure
// requires), then the narrowing clauses.
func activityFilter(now time.Time, start, end string, offset time.Duration, group, resourceID, caller, status, correlation string) (string, error) {
	parse := func(flag, v string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return t, fmt.Errorf("--%s must be an RFC 3339 time such as 2024-05-01T10:00:00Z, not %q", flag, v)
		}
		return t.UTC(), nil
	}
	until := now.UTC()
	if end != "" {
		t, err := parse("end-time", end)
		if err != nil {
			return "", err
		}
		until = t
	}
	if offset <= 0 {
		return "", fmt.Errorf("--offset must be positive")
	}
	since := until.Add(-offset)
	if start != "" {
		t, err := parse("start-time", start)
		if err != nil {
			return "", err
		}
		since = t
	}
	if until.Before(since) {
		return "", fmt.Errorf("the end time %s is before the start time %s", until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	clauses := []string{
		"eventTimestamp ge " + quote(since.Format(time.RFC3339Nano)),
		"eventTimestamp le " + quote(until.Format(time.RFC3339Nano)),
	}
	if group != "" {
		clauses = append(clauses, "resourceGroupName eq "+quote(group))
	}
	if resourceID != "" {
		clauses = append(clauses, "resourceUri eq "+quote(resourceID))
	}
	if caller != "" {
		clauses = append(clauses, "caller eq "+quote(caller))
	}
	if status != "" {
		clauses = append(clauses, "status eq "+quote(status))
	}
	if correlation != "" {
		clauses = append(clauses, "correlationId eq "+quote(correlation))
	}
	return strings.Join(clauses, " and "), nil
}
