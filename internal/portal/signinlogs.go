package portal

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Sign-in logs (Entra ID > Monitoring > Sign-in logs): Graph's auditLogs/signIns read with the
// person's own Graph token, so only a person Graph lets read the log sees it (in mint, the
// directory's administrator); anyone else sees Graph's refusal and what would fix it. Tabs per
// kind of sign-in, the portal's filters, a table with Entra's columns, and a chart of successes
// and failures over time with the same counts as a table.

// signInEntry is the part of Graph's signIn the page shows.
type signInEntry struct {
	ID                    string    `json:"id"`
	CreatedDateTime       time.Time `json:"createdDateTime"`
	AppID                 string    `json:"appId"`
	AppDisplayName        string    `json:"appDisplayName"`
	ServicePrincipalID    string    `json:"servicePrincipalId"`
	ServicePrincipalName  string    `json:"servicePrincipalName"`
	UserID                string    `json:"userId"`
	UserPrincipalName     string    `json:"userPrincipalName"`
	UserDisplayName       string    `json:"userDisplayName"`
	ResourceID            string    `json:"resourceId"`
	AzureResourceID       string    `json:"azureResourceId"`
	CorrelationID         string    `json:"correlationId"`
	UniqueTokenIdentifier string    `json:"uniqueTokenIdentifier"`
	Result                string    `json:"result"`
	SignInEventTypes      []string  `json:"signInEventTypes"`
	Status                struct {
		ErrorCode     int    `json:"errorCode"`
		FailureReason string `json:"failureReason"`
	} `json:"status"`
}

func (e signInEntry) failed() bool { return e.Status.ErrorCode != 0 || e.Result == "failure" }

// Who is the name the row shows for the principal.
func (e signInEntry) Who() string {
	switch {
	case e.UserDisplayName != "":
		return e.UserDisplayName
	case e.ServicePrincipalName != "":
		return e.ServicePrincipalName
	case e.AppDisplayName != "":
		return e.AppDisplayName
	}
	return e.AppID
}

// WhoID is the principal's id: the user's, else the service principal's.
func (e signInEntry) WhoID() string {
	if e.UserID != "" {
		return e.UserID
	}
	return e.ServicePrincipalID
}

func (e signInEntry) StatusText() string {
	if e.failed() {
		return "Failure"
	}
	return "Success"
}

type signInList struct {
	Value    []signInEntry `json:"value"`
	NextLink string        `json:"@odata.nextLink"`
}

// signInTab is one of the page's tabs: a kind of sign-in (Graph's signInEventTypes).
type signInTab struct{ Key, Label, EventType, Href string }

var signInTabs = []signInTab{
	{Key: "interactive", Label: "User sign-ins (interactive)", EventType: "interactiveUser"},
	{Key: "noninteractive", Label: "User sign-ins (non-interactive)", EventType: "nonInteractiveUser"},
	{Key: "serviceprincipal", Label: "Service principal sign-ins", EventType: "servicePrincipal"},
	{Key: "managedidentity", Label: "Managed identity sign-ins", EventType: "managedIdentity"},
}

// signInRanges are the date choices (Entra: last 24 hours, 7 days, custom).
var signInRanges = []struct{ Key, Label string }{
	{"1h", "Last 1 hour"}, {"24h", "Last 24 hours"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}, {"custom", "Custom time range"},
}

// signInFilters is what the filter form asks for.
type signInFilters struct {
	Tab, Range, From, To, Status, Principal, App, Resource string
}

type signInLogsData struct {
	Filters    signInFilters
	Tabs       []signInTab
	Ranges     []struct{ Key, Label string }
	TabLabel   string
	Rows       []signInEntry
	Next       string
	Chart      template.HTML
	ChartRows  []chartBucket
	ChartStep  string
	ChartTotal int
	Truncated  bool
	FieldError string
}

const (
	signInPageSize = 50
	// signInChartMax bounds how many entries the chart counts.
	signInChartMax = 5000
)

// signInWindow turns the range choice into times; custom takes From/To (datetime-local, UTC).
func signInWindow(f signInFilters, now time.Time) (from, to time.Time, err error) {
	to = now.UTC()
	switch f.Range {
	case "1h":
		return to.Add(-time.Hour), to, nil
	case "", "24h":
		return to.Add(-24 * time.Hour), to, nil
	case "7d":
		return to.Add(-7 * 24 * time.Hour), to, nil
	case "30d":
		return to.Add(-30 * 24 * time.Hour), to, nil
	case "custom":
		from, err = parseLocalTime(f.From)
		if err != nil {
			return from, to, fmt.Errorf("the start of the custom range is not a date and time: %w", err)
		}
		if f.To != "" {
			if to, err = parseLocalTime(f.To); err != nil {
				return from, to, fmt.Errorf("the end of the custom range is not a date and time: %w", err)
			}
		}
		if !to.After(from) {
			return from, to, fmt.Errorf("the end of the custom range must be after its start")
		}
		return from, to, nil
	}
	return from, to, fmt.Errorf("%q is not one of the date ranges", f.Range)
}

// parseLocalTime reads an <input type=datetime-local> value (taken as UTC) or an RFC 3339 time.
func parseLocalTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q", s)
}

// odataString quotes a literal for $filter.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// signInFilter builds Graph's $filter for the form. Pure.
func signInFilter(f signInFilters, from, to time.Time) string {
	parts := []string{"createdDateTime ge " + from.UTC().Format(time.RFC3339), "createdDateTime le " + to.UTC().Format(time.RFC3339)}
	for _, t := range signInTabs {
		if t.Key == f.Tab {
			parts = append(parts, "signInEventTypes/any(t: t eq "+odataString(t.EventType)+")")
		}
	}
	switch f.Status {
	case "success":
		parts = append(parts, "status/errorCode eq 0")
	case "failure":
		parts = append(parts, "status/errorCode ne 0")
	}
	if p := strings.TrimSpace(f.Principal); p != "" {
		if _, err := uuid.Parse(p); err == nil {
			parts = append(parts, "servicePrincipalId eq "+odataString(p))
		} else {
			parts = append(parts, "userPrincipalName eq "+odataString(p))
		}
	}
	if a := strings.TrimSpace(f.App); a != "" {
		parts = append(parts, "appId eq "+odataString(a))
	}
	if r := strings.TrimSpace(f.Resource); r != "" {
		parts = append(parts, "resourceId eq "+odataString(r))
	}
	return strings.Join(parts, " and ")
}

func (f signInFilters) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"tab": f.Tab, "range": f.Range, "from": f.From, "to": f.To, "status": f.Status,
		"principal": f.Principal, "app": f.App, "resource": f.Resource} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// readSignIns reads one page of the log (skip is Graph's $skiptoken).
func (c *apiClient) readSignIns(ctx context.Context, filter, skip string, top int) (signInList, error) {
	q := url.Values{"$filter": {filter}, "$top": {fmt.Sprint(top)}}
	if skip != "" {
		q.Set("$skiptoken", skip)
	}
	var l signInList
	_, err := c.do(ctx, ScopeGraph, http.MethodGet, "/v1.0/auditLogs/signIns?"+q.Encode(), nil, &l)
	return l, err
}

// graphSkipToken is the $skiptoken of a Graph nextLink.
func graphSkipToken(next string) string {
	if next == "" {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil {
		return ""
	}
	return u.Query().Get("$skiptoken")
}

func (p *Portal) signInLogs(w http.ResponseWriter, r *http.Request, s *Session) {
	qs := r.URL.Query()
	f := signInFilters{Tab: qs.Get("tab"), Range: qs.Get("range"), From: qs.Get("from"), To: qs.Get("to"), Status: qs.Get("status"),
		Principal: qs.Get("principal"), App: qs.Get("app"), Resource: qs.Get("resource")}
	if f.Tab == "" {
		f.Tab = "all"
	}
	if f.Range == "" {
		f.Range = "24h"
	}
	d := &signInLogsData{Filters: f, Ranges: signInRanges, TabLabel: "All sign-ins"}
	// Each tab keeps the other filters.
	for _, t := range append([]signInTab{{Key: "all", Label: "All sign-ins"}}, signInTabs...) {
		tf := f
		tf.Tab = t.Key
		t.Href = "/portal/signins?" + tf.query().Encode()
		d.Tabs = append(d.Tabs, t)
		if t.Key == f.Tab {
			d.TabLabel = t.Label
		}
	}
	pg := page{Title: "Sign-in logs", Nav: "signins", Data: d}
	from, to, err := signInWindow(f, p.cfg.Clock())
	if err != nil {
		d.FieldError = err.Error()
		pg.Errors = []fieldError{{Field: "range", Message: d.FieldError}}
		p.render(w, r, s, http.StatusBadRequest, "signinlogs", pg)
		return
	}
	c := p.api(s)
	ctx := r.Context()
	filter := signInFilter(f, from, to)
	l, err := c.readSignIns(ctx, filter, qs.Get("skip"), signInPageSize)
	if err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, statusOf(err), "signinlogs", pg)
		return
	}
	d.Rows = l.Value
	if next := graphSkipToken(l.NextLink); next != "" {
		q := f.query()
		q.Set("skip", next)
		d.Next = "/portal/signins?" + q.Encode()
	}
	// The chart counts the whole range (up to signInChartMax entries), not just this page.
	var all []signInEntry
	skip := ""
	for {
		l, err := c.readSignIns(ctx, filter, skip, 1000)
		if err != nil {
			pg.Error = asAPIError(err)
			break
		}
		all = append(all, l.Value...)
		skip = graphSkipToken(l.NextLink)
		if skip == "" {
			break
		}
		if len(all) >= signInChartMax {
			d.Truncated = true
			break
		}
	}
	step := bucketSize(from, to)
	d.ChartRows = bucketSignIns(from, to, step, all)
	d.ChartStep = step.String()
	d.ChartTotal = len(all)
	ok, bad := 0, 0
	for _, k := range d.ChartRows {
		ok += k.Success
		bad += k.Failure
	}
	title := "Sign-ins over time: successes and failures"
	desc := fmt.Sprintf("%s, %s to %s, in intervals of %s: %d successful and %d failed sign-ins. The same counts are in the table below the chart.",
		d.TabLabel, from.Format("2006-01-02 15:04 UTC"), to.Format("2006-01-02 15:04 UTC"), step, ok, bad)
	d.Chart = renderChart(title, desc, d.ChartRows, step)
	p.render(w, r, s, http.StatusOK, "signinlogs", pg)
}
