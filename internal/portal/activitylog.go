package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
)

// The Activity log (Azure Monitor's Administrative events) read through ARM's
// Microsoft.Insights/eventtypes/management/values with the person's ARM token: the service page
// for a subscription, and each scope's "Activity log" blade (narrowed to the resource group or
// resource by the API's own filter). Filters: timespan, resource group, operation, status; a
// table with the portal's columns; and each event's JSON as the API returned it.

const apiInsights = "2015-04-01"

// activityEvent is the part of an EventData the table shows; Raw keeps the whole event.
type activityEvent struct {
	EventDataID    string `json:"eventDataId"`
	CorrelationID  string `json:"correlationId"`
	Caller         string `json:"caller"`
	EventTimestamp string `json:"eventTimestamp"`
	ResourceGroup  string `json:"resourceGroupName"`
	ResourceID     string `json:"resourceId"`
	SubscriptionID string `json:"subscriptionId"`
	OperationName  struct {
		Value          string `json:"value"`
		LocalizedValue string `json:"localizedValue"`
	} `json:"operationName"`
	Status struct {
		Value string `json:"value"`
	} `json:"status"`
	Raw json.RawMessage `json:"-"`
	// CallerName is who initiated the event, named through the APIs the person can read.
	CallerName string `json:"-"`
}

// Operation is the operation's name as the Azure portal words the common ones.
func (e activityEvent) Operation() string { return operationLabel(e.OperationName.Value) }

// Time is the event's time stamp.
func (e activityEvent) Time() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.EventTimestamp)
	return t
}

var operationLabels = map[string]string{
	"microsoft.authorization/roleassignments/write":                                       "Create role assignment",
	"microsoft.authorization/roleassignments/delete":                                      "Delete role assignment",
	"microsoft.authorization/roledefinitions/write":                                       "Create or update custom role definition",
	"microsoft.authorization/roledefinitions/delete":                                      "Delete custom role definition",
	"microsoft.managedidentity/userassignedidentities/write":                              "Write UserAssignedIdentities",
	"microsoft.managedidentity/userassignedidentities/delete":                             "Delete User Assigned Identity",
	"microsoft.resources/subscriptions/resourcegroups/write":                              "Create Resource Group",
	"microsoft.resources/subscriptions/resourcegroups/delete":                             "Delete Resource Group",
	"microsoft.keyvault/vaults/write":                                                     "Update Key Vault",
	"microsoft.keyvault/vaults/delete":                                                    "Remove Key Vault",
	"microsoft.app/containerapps/write":                                                   "Create or Update Container App",
	"microsoft.web/sites/write":                                                           "Update website",
	"microsoft.compute/virtualmachines/write":                                             "Create or Update Virtual Machine",
	"microsoft.managedidentity/userassignedidentities/federatedidentitycredentials/write": "Write Federated Identity Credentials",
}

func operationLabel(op string) string {
	if l, ok := operationLabels[strings.ToLower(op)]; ok {
		return l
	}
	return op
}

var activityTimespans = []struct {
	Key, Label string
	D          time.Duration
}{
	{"1h", "Last hour", time.Hour}, {"6h", "Last 6 hours", 6 * time.Hour}, {"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last week", 7 * 24 * time.Hour}, {"30d", "Last month", 30 * 24 * time.Hour},
}

type activityFilters struct {
	Subscription, Timespan, ResourceGroup, Operation, Status string
}

type activityData struct {
	Path          string // where the filter form posts (service page or blade)
	Scope         string // the blade's scope ("" on the service page)
	Filters       activityFilters
	Subscriptions []subscription
	Timespans     []struct {
		Key, Label string
		D          time.Duration
	}
	Rows []activityEvent
	Next string
	// Event is the entry whose JSON is shown.
	Event *activityEvent
	JSON  string
}

func activityFilterFor(scope armid.ResourceID, f activityFilters, from, to time.Time) string {
	parts := []string{"eventTimestamp ge " + odataString(from.UTC().Format(time.RFC3339)), "eventTimestamp le " + odataString(to.UTC().Format(time.RFC3339))}
	switch {
	case scope.IsResourceGroup():
		parts = append(parts, "resourceGroupName eq "+odataString(scope.ResourceGroup))
	case !scope.IsRoot() && !scope.IsSubscription() && scope.SubscriptionID != "":
		parts = append(parts, "resourceUri eq "+odataString(scope.String()))
	case f.ResourceGroup != "":
		parts = append(parts, "resourceGroupName eq "+odataString(f.ResourceGroup))
	}
	if f.Status != "" {
		parts = append(parts, "status eq "+odataString(f.Status))
	}
	return strings.Join(parts, " and ")
}

// readActivity reads one page of the subscription's activity log.
func (c *apiClient) readActivity(ctx context.Context, sub, filter, skip string, top int) ([]activityEvent, string, error) {
	q := url.Values{"api-version": {apiInsights}, "$filter": {filter}}
	var l struct {
		Value    []json.RawMessage `json:"value"`
		NextLink string            `json:"nextLink"`
	}
	if skip != "" {
		q.Set("$skiptoken", skip)
	}
	if top > 0 {
		q.Set("$top", strconv.Itoa(top))
	}
	if _, err := c.arm(ctx, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Insights/eventtypes/management/values", q, nil, &l); err != nil {
		return nil, "", err
	}
	out := make([]activityEvent, 0, len(l.Value))
	for _, raw := range l.Value {
		var e activityEvent
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		e.Raw = raw
		out = append(out, e)
	}
	return out, skipToken(l.NextLink), nil
}

// activityLogService is the Activity log service page: a subscription's events.
func (p *Portal) activityLogService(w http.ResponseWriter, r *http.Request, s *Session) {
	c := p.api(s)
	q := r.URL.Query()
	d := &activityData{Path: "/portal/activitylog"}
	pg := page{Title: "Activity log", Nav: "activity", Data: d}
	subs, err := c.subscriptions(r.Context())
	if err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, statusOf(err), "activitylog", pg)
		return
	}
	d.Subscriptions = subs
	sub := pickSubscription(subs, q.Get("subscription"))
	if sub == "" {
		p.render(w, r, s, http.StatusOK, "activitylog", pg)
		return
	}
	p.activityLog(w, r, s, armid.Subscription(sub), d, pg)
}

// activityLogBlade is a scope's "Activity log".
func (p *Portal) activityLogBlade(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	d := &activityData{Path: resourcePath(id.String()), Scope: id.String()}
	pg := page{Title: "Activity log", Blade: newBlade(id, "activitylog"), Data: d}
	p.activityLog(w, r, s, id, d, pg)
}

func (p *Portal) activityLog(w http.ResponseWriter, r *http.Request, s *Session, scope armid.ResourceID, d *activityData, pg page) {
	q := r.URL.Query()
	d.Timespans = activityTimespans
	d.Filters = activityFilters{Subscription: scope.SubscriptionID, Timespan: q.Get("timespan"), ResourceGroup: strings.TrimSpace(q.Get("resourceGroup")),
		Operation: strings.TrimSpace(q.Get("operation")), Status: q.Get("status")}
	span := 24 * time.Hour
	found := false
	for _, t := range activityTimespans {
		if t.Key == d.Filters.Timespan {
			span, found = t.D, true
		}
	}
	if !found {
		d.Filters.Timespan = "24h"
	}
	switch d.Filters.Status {
	case "", "Succeeded", "Failed":
	default:
		d.Filters.Status = ""
	}
	to := p.cfg.Clock().UTC()
	from := to.Add(-span)
	filter := activityFilterFor(scope, d.Filters, from, to)
	c := p.api(s)
	ctx := r.Context()
	if ev := q.Get("event"); ev != "" {
		// One event's JSON: read the window again, narrowed to the event's correlation id.
		f := filter
		if corr := q.Get("correlation"); corr != "" {
			f += " and correlationId eq " + odataString(corr)
		}
		events, _, err := c.readActivity(ctx, scope.SubscriptionID, f, "", 1000)
		if err != nil {
			pg.Error = asAPIError(err)
			p.render(w, r, s, statusOf(err), "activitylog", pg)
			return
		}
		for i := range events {
			if events[i].EventDataID == ev {
				d.Event = &events[i]
				var b bytes.Buffer
				if json.Indent(&b, events[i].Raw, "", "  ") == nil {
					d.JSON = b.String()
				}
			}
		}
		if d.Event == nil {
			pg.Error = &APIError{Status: http.StatusNotFound, Code: "EventNotFound", Message: "No event with that id in the chosen timespan."}
			p.render(w, r, s, http.StatusNotFound, "activitylog", pg)
			return
		}
		pg.Title = "Activity log: " + d.Event.Operation()
		p.render(w, r, s, http.StatusOK, "activitylog", pg)
		return
	}
	events, next, err := c.readActivity(ctx, scope.SubscriptionID, filter, q.Get("skip"), pageSize)
	if err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, statusOf(err), "activitylog", pg)
		return
	}
	needle := strings.ToLower(d.Filters.Operation)
	for _, e := range events {
		if needle != "" && !strings.Contains(strings.ToLower(e.Operation()), needle) && !strings.Contains(strings.ToLower(e.OperationName.Value), needle) {
			continue
		}
		d.Rows = append(d.Rows, e)
	}
	var callers []string
	for _, e := range d.Rows {
		if _, err := uuid.Parse(e.Caller); err == nil {
			callers = append(callers, e.Caller)
		}
	}
	names := c.resolvePrincipals(ctx, callers, nil, scope.SubscriptionID)
	for i := range d.Rows {
		if pr, ok := names[strings.ToLower(d.Rows[i].Caller)]; ok && pr.Name != "" && pr.Name != "Identity not found" {
			d.Rows[i].CallerName = pr.Name
		}
	}
	if next != "" {
		nq := d.query()
		nq.Set("skip", next)
		d.Next = d.Path + "?" + nq.Encode()
	}
	p.render(w, r, s, http.StatusOK, "activitylog", pg)
}

// query is the page's own query string (filters and, on a blade, the view).
func (d *activityData) query() url.Values {
	q := url.Values{"timespan": {d.Filters.Timespan}}
	if d.Scope != "" {
		q.Set("view", "activitylog")
	} else {
		q.Set("subscription", d.Filters.Subscription)
	}
	for k, v := range map[string]string{"resourceGroup": d.Filters.ResourceGroup, "operation": d.Filters.Operation, "status": d.Filters.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// EventHref is the JSON view of an event.
func (d *activityData) EventHref(e activityEvent) string {
	q := d.query()
	q.Set("event", e.EventDataID)
	q.Set("correlation", e.CorrelationID)
	return d.Path + "?" + q.Encode()
}

// ListHref is the list the JSON view came from.
func (d *activityData) ListHref() string { return d.Path + "?" + d.query().Encode() }
