package arm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/odata"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// The activity log (Microsoft.Insights): GET
// /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values?$filter=... lists
// the Administrative events the front door recorded for every control-plane write, newest first,
// in Azure's EventData shape (https://learn.microsoft.com/azure/azure-monitor/essentials/activity-log-schema). mint records one terminal event per write (Azure
// also records a BeginRequest "Started" event).

const (
	eventValuesType = "Microsoft.Insights/eventtypes/values"
	// activityReadAction is what ARM checks to read the activity log; Reader has it (*/read).
	activityReadAction = eventValuesType + "/read"
	// maxActivityEvents bounds what one list reads from the store (and pages over).
	maxActivityEvents = 5000
)

var insightsAPIVersions = []string{"2015-04-01", "2017-03-01-preview"}

type insightsProvider struct{ s *Server }

func (insightsProvider) apiVersions() []string { return insightsAPIVersions }

func (p insightsProvider) serve(c *call) {
	if !c.collection || c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.fail(MethodNotAllowed(c.r.Method))
		return
	}
	p.s.serveActivityLog(c)
}

func (s *Server) registerInsights() {
	s.register(insightsProvider{s}, eventValuesType)
}

// EventData is one activity-log event (Azure Monitor EventData).
type EventData struct {
	Authorization        *EventAuthorization `json:"authorization"`
	Caller               string              `json:"caller"`
	Channels             string              `json:"channels"`
	Claims               map[string]string   `json:"claims"`
	CorrelationID        string              `json:"correlationId"`
	Description          string              `json:"description"`
	EventDataID          string              `json:"eventDataId"`
	EventName            LocalizableString   `json:"eventName"`
	Category             LocalizableString   `json:"category"`
	EventTimestamp       string              `json:"eventTimestamp"`
	ID                   string              `json:"id"`
	Level                string              `json:"level"`
	OperationID          string              `json:"operationId"`
	OperationName        LocalizableString   `json:"operationName"`
	ResourceGroupName    string              `json:"resourceGroupName"`
	ResourceProviderName LocalizableString   `json:"resourceProviderName"`
	ResourceType         LocalizableString   `json:"resourceType"`
	ResourceID           string              `json:"resourceId"`
	Status               LocalizableString   `json:"status"`
	SubStatus            LocalizableString   `json:"subStatus"`
	SubmissionTimestamp  string              `json:"submissionTimestamp"`
	SubscriptionID       string              `json:"subscriptionId"`
	TenantID             string              `json:"tenantId"`
	Properties           map[string]string   `json:"properties"`
	HTTPRequest          *EventHTTPRequest   `json:"httpRequest"`
	RelatedEvents        []json.RawMessage   `json:"relatedEvents"`
}

// EventAuthorization is the action and scope an event's request was authorized for.
type EventAuthorization struct {
	Action string `json:"action"`
	Scope  string `json:"scope"`
}

// LocalizableString is Azure Monitor's {value, localizedValue}.
type LocalizableString struct {
	Value          string `json:"value"`
	LocalizedValue string `json:"localizedValue"`
}

// EventHTTPRequest describes the request behind an event.
type EventHTTPRequest struct {
	ClientRequestID string `json:"clientRequestId"`
	ClientIPAddress string `json:"clientIpAddress"`
	Method          string `json:"method"`
}

func localized(v string) LocalizableString { return LocalizableString{Value: v, LocalizedValue: v} }

// eventWire shapes a stored event; tenantID is the subscription's tenant.
func eventWire(ev store.ActivityEvent, tenantID string) EventData {
	ts := armTime(ev.Time)
	statusText := http.StatusText(ev.HTTPStatus)
	subValue := strings.ReplaceAll(statusText, " ", "")
	sub := LocalizableString{Value: subValue, LocalizedValue: fmt.Sprintf("%s (HTTP Status Code: %d)", statusText, ev.HTTPStatus)}
	if statusText == "" {
		sub = LocalizableString{}
	}
	level := "Informational"
	if ev.Status == "Failed" {
		level = "Error"
	}
	resourceID := ev.ResourceID
	ns := namespace(ev.ResourceType)
	props := map[string]string{
		"statusCode":       subValue,
		"serviceRequestId": ev.OperationID,
		"eventCategory":    "Administrative",
		"entity":           resourceID,
		"message":          ev.OperationName,
		"hierarchy":        strings.Trim(tenantID+"/"+ev.SubscriptionID, "/"),
	}
	if ev.Message != "" {
		code, msg, _ := strings.Cut(ev.Message, ": ")
		body, _ := json.Marshal(ErrorResponse{Error: &Error{Code: code, Message: msg}})
		props["statusMessage"] = string(body)
	}
	claims := map[string]string{"http://schemas.microsoft.com/identity/claims/objectidentifier": ev.Caller}
	if ev.CallerAppID != "" {
		claims["appid"] = ev.CallerAppID
	}
	if tenantID != "" {
		claims["http://schemas.microsoft.com/identity/claims/tenantid"] = tenantID
	}
	eventID := resourceID
	if eventID == "/" {
		eventID = ""
	}
	return EventData{
		Authorization:        &EventAuthorization{Action: ev.OperationName, Scope: resourceID},
		Caller:               ev.Caller,
		Channels:             "Operation",
		Claims:               claims,
		CorrelationID:        ev.CorrelationID,
		EventDataID:          ev.ID,
		EventName:            LocalizableString{Value: "EndRequest", LocalizedValue: "End request"},
		Category:             localized("Administrative"),
		EventTimestamp:       ts,
		ID:                   eventID + "/events/" + ev.ID + "/ticks/" + strconv.FormatInt(dotnetTicks(ev.Time), 10),
		Level:                level,
		OperationID:          ev.OperationID,
		OperationName:        localized(ev.OperationName),
		ResourceGroupName:    ev.ResourceGroup,
		ResourceProviderName: localized(ns),
		ResourceType:         localized(ev.ResourceType),
		ResourceID:           resourceID,
		Status:               localized(ev.Status),
		SubStatus:            sub,
		SubmissionTimestamp:  ts,
		SubscriptionID:       ev.SubscriptionID,
		TenantID:             tenantID,
		Properties:           props,
		HTTPRequest:          &EventHTTPRequest{ClientRequestID: ev.CorrelationID, Method: ev.HTTPMethod},
		RelatedEvents:        []json.RawMessage{},
	}
}

// dotnetTicks is t in .NET ticks (100 ns since 0001-01-01), as the event id's "ticks" segment.
func dotnetTicks(t time.Time) int64 {
	const unixEpochTicks = 621355968000000000
	return unixEpochTicks + t.UTC().UnixNano()/100
}

// activityFilter is what an activity-log $filter asks for.
type activityFilter struct {
	store       store.ActivityFilter
	caller      string // object id or app id, matched case-insensitively
	correlation string
	status      string
	provider    string
}

const activityFilterHelp = "Use eventTimestamp ge '{time}' and eventTimestamp le '{time}', optionally with one of resourceGroupName eq '{name}', resourceUri eq '{id}' or resourceProvider eq '{namespace}', and caller eq '{id}', correlationId eq '{id}' or status eq '{status}'."

// parseActivityFilter reads the $filter of an activity-log list for subscription.
func parseActivityFilter(filter, subscriptionID string) (activityFilter, *Error) {
	f := activityFilter{store: store.ActivityFilter{SubscriptionID: subscriptionID, Limit: maxActivityEvents}}
	clauses, err := parseFilter(filter)
	bad := func(detail string) *Error {
		return NewError(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The $filter '%s' is not valid: %s. %s", filter, detail, activityFilterHelp))
	}
	if err != nil {
		return f, bad(err.Error())
	}
	for _, c := range clauses {
		name := strings.ToLower(c.Name)
		if c.Kind != odata.Compare {
			return f, bad("functions are not supported")
		}
		if name != "eventtimestamp" && c.Op != "eq" {
			return f, bad(fmt.Sprintf("%s supports eq only", c.Name))
		}
		switch name {
		case "eventtimestamp", "eventtimestamputc":
			t, err := parseEventTime(c.Value)
			if err != nil {
				return f, bad(fmt.Sprintf("'%s' is not a time: use ISO 8601, e.g. 2024-05-01T10:00:00Z", c.Value))
			}
			switch c.Op {
			case "ge", "gt":
				f.store.Since = t
			case "le", "lt":
				f.store.Until = t
			default:
				return f, bad("eventTimestamp supports ge and le")
			}
		case "resourcegroupname", "resourcegroup":
			f.store.ResourceGroup = c.Value
		case "resourceuri", "resourceid":
			id, err := armid.ParseScope(c.Value)
			if err != nil {
				return f, bad(fmt.Sprintf("'%s' is not a resource id", c.Value))
			}
			f.store.ResourceID = id.String()
		case "resourceprovider":
			f.provider = c.Value
		case "caller":
			f.caller = c.Value
		case "correlationid":
			f.correlation = c.Value
		case "status":
			f.status = c.Value
		case "levels", "eventchannels", "category":
			// Azure's other selectors; every mint event is an Administrative one.
		default:
			return f, bad(fmt.Sprintf("'%s' is not a field the activity log filters on", c.Name))
		}
	}
	if !f.store.Since.IsZero() && !f.store.Until.IsZero() && f.store.Until.Before(f.store.Since) {
		return f, bad("the end time is before the start time")
	}
	return f, nil
}

func parseEventTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time")
}

// keep reports whether an event passes the filters the store does not apply.
func (f activityFilter) keep(ev store.ActivityEvent) bool {
	switch {
	case f.caller != "" && !strings.EqualFold(f.caller, ev.Caller) && !strings.EqualFold(f.caller, ev.CallerAppID):
		return false
	case f.correlation != "" && !strings.EqualFold(f.correlation, ev.CorrelationID):
		return false
	case f.status != "" && !strings.EqualFold(f.status, ev.Status):
		return false
	case f.provider != "" && !strings.EqualFold(f.provider, namespace(ev.ResourceType)):
		return false
	case f.store.ResourceGroup != "" && !strings.EqualFold(f.store.ResourceGroup, ev.ResourceGroup):
		return false
	}
	return true
}

// serveActivityLog lists a subscription's Administrative events. The caller needs
// Microsoft.Insights/eventtypes/values/read at the subscription, or at the resource group or
// resource the filter narrows to.
func (s *Server) serveActivityLog(c *call) {
	sub := c.scope.SubscriptionID
	if sub == "" || !strings.EqualFold(strings.Join(c.scope.Types, "/"), "eventtypes") || !strings.EqualFold(c.scope.Name(), "management") {
		c.fail(NewError(http.StatusNotFound, "NotFound", "The activity log is served at /subscriptions/{subscriptionId}/providers/Microsoft.Insights/eventtypes/management/values."))
		return
	}
	f, e := parseActivityFilter(c.r.URL.Query().Get("$filter"), sub)
	if e != nil {
		c.fail(e)
		return
	}
	readScope := armid.Subscription(sub).String()
	ok, err := c.allowed(activityReadAction, readScope, false)
	if err == nil && !ok {
		// A narrower filter needs the permission only where it points.
		switch {
		case f.store.ResourceID != "" && rbac.ScopeCovers(readScope, f.store.ResourceID):
			readScope = f.store.ResourceID
			ok, err = c.allowed(activityReadAction, readScope, false)
		case f.store.ResourceGroup != "":
			readScope = armid.ResourceGroupID(sub, f.store.ResourceGroup).String()
			ok, err = c.allowed(activityReadAction, readScope, false)
		}
	}
	if err != nil {
		c.failErr(err)
		return
	}
	if !ok {
		c.fail(c.authorizationFailed(activityReadAction, readScope))
		return
	}
	events, err := s.st.ListActivity(c.ctx, f.store)
	if err != nil {
		c.failErr(err)
		return
	}
	tenant := c.caller.TenantID
	if rec, err := s.st.GetSubscription(c.ctx, sub); err == nil {
		tenant = rec.TenantID
	}
	out := make([]EventData, 0, len(events))
	for _, ev := range events {
		if f.keep(ev) {
			out = append(out, eventWire(ev, tenant))
		}
	}
	WriteList(c.w, c.r, s.cfg.BaseURL, out)
}
