package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/armid"
)

// "Create User Assigned Managed Identity": tabs Basics | Tags | Review + create, then the
// deployment result with Go to resource. Without JavaScript each tab is a POST of the whole form
// (the values of the other tabs ride along as hidden fields); Review + create validates on the
// server with the same rules and messages as the API, and Create sends the PUT.

// regions offered on Basics (mint accepts any region name; these are Azure's common ones).
var regions = []string{"eastus", "eastus2", "westus2", "westus3", "centralus", "northeurope", "westeurope", "uksouth", "francecentral", "germanywestcentral", "swedencentral", "japaneast", "australiaeast"}

// fieldError is a validation error shown next to its field and in the summary on top.
type fieldError struct {
	Field, Tab, Message string
}

// tagRow is one row of the Tags grid.
type tagRow struct{ Name, Value string }

// identityForm is the create form's state.
type identityForm struct {
	Tab            string // basics, tags, review
	Subscription   string
	ResourceGroup  string
	NewGroup       string
	Region         string
	Name           string
	Tags           []tagRow
	Subscriptions  []subscription
	Groups         []resourceGroup
	Regions        []string
	Validated      bool
	FieldErrors    map[string]string
	TabErrors      map[string]int
	SubscriptionNm string
}

func readIdentityForm(f url.Values) *identityForm {
	form := &identityForm{
		Subscription:  strings.TrimSpace(f.Get("subscription")),
		ResourceGroup: strings.TrimSpace(f.Get("resourceGroup")),
		NewGroup:      strings.TrimSpace(f.Get("newResourceGroup")),
		Region:        strings.TrimSpace(f.Get("region")),
		Name:          strings.TrimSpace(f.Get("name")),
		Regions:       regions,
	}
	names, values := f["tagName"], f["tagValue"]
	for i, n := range names {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		if strings.TrimSpace(n) == "" && strings.TrimSpace(v) == "" {
			continue
		}
		form.Tags = append(form.Tags, tagRow{Name: n, Value: v})
	}
	if form.Region == "" {
		form.Region = regions[0]
	}
	return form
}

// validate checks the form with the API's own rules and messages (armid is what ARM uses).
// groupExists says whether the chosen existing group is readable.
func (f *identityForm) validate(groupExists func(string) bool) []fieldError {
	var errs []fieldError
	add := func(field, tab, msg string) { errs = append(errs, fieldError{Field: field, Tab: tab, Message: msg}) }
	if f.Subscription == "" {
		add("subscription", "basics", "The value must not be empty. Select a subscription.")
	}
	switch {
	case f.NewGroup != "":
		if err := armid.ValidateResourceGroupName(f.NewGroup); err != nil {
			add("newResourceGroup", "basics", err.Error())
		}
	case f.ResourceGroup == "":
		add("resourceGroup", "basics", "The value must not be empty. Select a resource group or create a new one.")
	case groupExists != nil && !groupExists(f.ResourceGroup):
		add("resourceGroup", "basics", "Resource group '"+f.ResourceGroup+"' could not be found.")
	}
	if f.Region == "" {
		add("region", "basics", "The value must not be empty. Select a region.")
	}
	if f.Name == "" {
		add("name", "basics", "The value must not be empty. Enter a name.")
	} else if err := armid.ValidateUserAssignedIdentityName(f.Name); err != nil {
		add("name", "basics", err.Error())
	}
	if tags := f.tagMap(); len(tags) > 0 {
		if err := armid.ValidateTags(tags); err != nil {
			add("tags", "tags", err.Error())
		}
	}
	return errs
}

func (f *identityForm) tagMap() map[string]string {
	m := map[string]string{}
	for _, t := range f.Tags {
		m[t.Name] = t.Value
	}
	return m
}

func (f *identityForm) group() string {
	if f.NewGroup != "" {
		return f.NewGroup
	}
	return f.ResourceGroup
}

func (p *Portal) createIdentity(w http.ResponseWriter, r *http.Request, s *Session) {
	c := p.api(s)
	ctx := r.Context()
	var form *identityForm
	if r.Method == http.MethodPost {
		form = readIdentityForm(r.PostForm)
	} else {
		form = readIdentityForm(r.URL.Query())
	}
	action := r.PostForm.Get("action")
	pg := page{Title: "Create User Assigned Managed Identity", Nav: "identities", Data: form}
	subs, err := c.subscriptions(ctx)
	if err != nil {
		pg.Error = asAPIError(err)
	}
	form.Subscriptions = subs
	form.Subscription = pickSubscription(subs, form.Subscription)
	form.SubscriptionNm = subscriptionName(subs, form.Subscription)
	if form.Subscription != "" {
		groups, err := listAll[resourceGroup](ctx, c, "/subscriptions/"+form.Subscription+"/resourcegroups", versionQ(apiResources), 5000)
		if err != nil && pg.Error == nil {
			pg.Error = asAPIError(err)
		}
		form.Groups = groups
	}
	groupExists := func(name string) bool {
		for _, g := range form.Groups {
			if strings.EqualFold(g.Name, name) {
				return true
			}
		}
		return false
	}
	form.Tab = "basics"
	switch action {
	case "tags", "basics":
		form.Tab = action
	case "review", "create":
		errs := form.validate(groupExists)
		if len(errs) > 0 {
			pg.Errors = errs
			form.FieldErrors, form.TabErrors = map[string]string{}, map[string]int{}
			for _, e := range errs {
				form.FieldErrors[e.Field] = e.Message
				form.TabErrors[e.Tab]++
			}
			pg.Error = &APIError{Code: "ValidationFailed", Message: "Validation failed. Required information is missing or not valid."}
			form.Tab = errs[0].Tab
			break
		}
		form.Tab, form.Validated = "review", true
		if action == "create" {
			p.doCreateIdentity(w, r, s, form, &pg)
			return
		}
	}
	p.render(w, r, s, http.StatusOK, "create", pg)
}

// doCreateIdentity creates the group (when new) and the identity, then shows the deployment.
func (p *Portal) doCreateIdentity(w http.ResponseWriter, r *http.Request, s *Session, form *identityForm, pg *page) {
	c := p.api(s)
	ctx := r.Context()
	started := p.cfg.Clock().UTC()
	sub := form.Subscription
	if form.NewGroup != "" {
		_, err := c.arm(ctx, http.MethodPut, "/subscriptions/"+sub+"/resourcegroups/"+url.PathEscape(form.NewGroup), versionQ(apiResources),
			map[string]any{"location": form.Region}, nil)
		if err != nil {
			p.createFailed(w, r, s, form, pg, err)
			return
		}
	}
	id := armid.ResourceGroupID(sub, form.group()).Extension("Microsoft.ManagedIdentity", "userAssignedIdentities", form.Name).String()
	body := map[string]any{"location": form.Region, "tags": form.tagMap()}
	h, err := c.arm(ctx, http.MethodPut, id, versionQ(apiMSI), body, nil)
	if err != nil {
		p.createFailed(w, r, s, form, pg, err)
		return
	}
	q := url.Values{"id": {id}, "correlation": {h.Get("x-ms-correlation-request-id")}, "started": {started.Format(time.RFC3339)},
		"name": {"Microsoft.ManagedIdentity-" + started.Format("20060102150405")}}
	redirect(w, r, "/portal/deployment?"+q.Encode())
}

// createFailed shows the API's refusal on the Review + create tab (or the field it names).
func (p *Portal) createFailed(w http.ResponseWriter, r *http.Request, s *Session, form *identityForm, pg *page, err error) {
	pg.Error = asAPIError(err)
	form.Validated = false
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == armid.CodeInvalidResourceName {
		form.FieldErrors = map[string]string{"name": ae.Message}
		form.TabErrors = map[string]int{"basics": 1}
		form.Tab = "basics"
	}
	p.render(w, r, s, statusOf(err), "create", *pg)
}

func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status >= 400 {
		return ae.Status
	}
	return http.StatusBadGateway
}

type deploymentResult struct {
	Name, Correlation, Started string
	Resource                   userAssignedIdentity
	ResourceGroup              string
	Subscription               string
}

// deployment is the "Your deployment is complete" page after Create.
func (p *Portal) deployment(w http.ResponseWriter, r *http.Request, s *Session) {
	q := r.URL.Query()
	id, err := armid.Parse(q.Get("id"))
	if err != nil {
		p.render(w, r, s, http.StatusBadRequest, "message", page{Title: "Deployment", Error: &APIError{Code: "InvalidResourceId", Message: err.Error()}})
		return
	}
	d := &deploymentResult{Name: q.Get("name"), Correlation: q.Get("correlation"), Started: q.Get("started"), ResourceGroup: id.ResourceGroup, Subscription: id.SubscriptionID}
	pg := page{Title: "Deployment", Nav: "identities", Data: d}
	if _, err := p.api(s).arm(r.Context(), http.MethodGet, id.String(), versionQ(apiMSI), nil, &d.Resource); err != nil {
		pg.Error = asAPIError(err)
	}
	p.render(w, r, s, http.StatusOK, "deployment", pg)
}
