package portal

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mint-id/mint/internal/armid"
)

// A user-assigned identity's Federated credentials: the list (Name, Issuer, Subject, Audience),
// "+ Add Credential" with Entra's scenarios, and delete (confirmed first). Every change is one
// call to ARM's Microsoft.ManagedIdentity/userAssignedIdentities/{id}/federatedIdentityCredentials
// with the person's token, so the rules and the messages (bad issuer, bad subject, duplicate
// issuer+subject, name rules, AuthorizationFailed) are the API's. The scenarios only fill in the
// issuer and subject a person would otherwise have to spell, as Azure's portal does:
//
//   - GitHub Actions deploying Azure resources: https://token.actions.githubusercontent.com and
//     repo:{org}/{repo}:environment:{name} | :ref:refs/heads/{branch} | :pull_request |
//     :ref:refs/tags/{tag};
//   - Kubernetes accessing Azure resources: the cluster's issuer URL and
//     system:serviceaccount:{namespace}:{service account};
//   - Other issuer: any issuer and a subject, or a claims-matching expression (the flexible
//     credential of api-version 2025-01-31-preview).
//
// See https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust-user-assigned-managed-identity.

const (
	// apiFIC is the api-version of the federated credential calls: the first that knows
	// claimsMatchingExpression (a subject credential is the same under 2023-01-31).
	apiFIC            = "2025-01-31-preview"
	githubIssuer      = "https://token.actions.githubusercontent.com"
	defaultFICAud     = "api://AzureADTokenExchange"
	ficScenarioGitHub = "github"
	ficScenarioK8s    = "kubernetes"
	ficScenarioOther  = "other"
)

type federatedCredential struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		Issuer                   string   `json:"issuer"`
		Subject                  string   `json:"subject"`
		Audiences                []string `json:"audiences"`
		ClaimsMatchingExpression *struct {
			Value string `json:"value"`
		} `json:"claimsMatchingExpression"`
	} `json:"properties"`
}

// ficRow is one row of the list.
type ficRow struct {
	Name, Issuer, Subject, Expression, Audience string
}

// ficForm is the Add Credential form's state.
type ficForm struct {
	Scenario       string
	Organization   string
	Repository     string
	Entity         string // environment, branch, pull_request, tag
	EntityValue    string
	ClusterIssuer  string
	Namespace      string
	ServiceAccount string
	Issuer         string
	SubjectKind    string // subject or expression
	Subject        string
	Expression     string
	Audience       string
	Name           string
	FieldErrors    map[string]string
}

type ficData struct {
	Path     string
	Identity string
	Rows     []ficRow
	Add      bool
	Form     *ficForm
	Confirm  *confirmation
}

func readFICForm(f url.Values) *ficForm {
	g := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	form := &ficForm{
		Scenario: g("scenario"), Organization: g("organization"), Repository: g("repository"),
		Entity: g("entity"), EntityValue: g("entityValue"), ClusterIssuer: g("clusterIssuer"),
		Namespace: g("namespace"), ServiceAccount: g("serviceAccount"), Issuer: g("issuer"),
		SubjectKind: g("subjectKind"), Subject: g("subject"), Expression: g("expression"),
		Audience: g("audience"), Name: g("name"), FieldErrors: map[string]string{},
	}
	switch form.Scenario {
	case ficScenarioGitHub, ficScenarioK8s, ficScenarioOther:
	default:
		form.Scenario = ""
	}
	switch form.Entity {
	case "environment", "branch", "pull_request", "tag":
	default:
		form.Entity = "environment"
	}
	if form.SubjectKind != "expression" {
		form.SubjectKind = "subject"
	}
	if _, ok := f["audience"]; !ok {
		form.Audience = defaultFICAud
	}
	form.fill()
	return form
}

// fill derives the issuer and subject the GitHub and Kubernetes scenarios imply (shown read-only,
// as Azure's portal does). A part not given yet leaves the subject empty.
func (f *ficForm) fill() {
	switch f.Scenario {
	case ficScenarioGitHub:
		f.Issuer = githubIssuer
		f.SubjectKind = "subject"
		f.Subject = githubSubject(f.Organization, f.Repository, f.Entity, f.EntityValue)
	case ficScenarioK8s:
		f.Issuer = f.ClusterIssuer
		f.SubjectKind = "subject"
		f.Subject = ""
		if f.Namespace != "" && f.ServiceAccount != "" {
			f.Subject = "system:serviceaccount:" + f.Namespace + ":" + f.ServiceAccount
		}
	}
}

// githubSubject is the subject GitHub's OIDC tokens carry for a job of the repository
// (https://docs.github.com/actions/deployment/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims).
func githubSubject(org, repo, entity, value string) string {
	if org == "" || repo == "" {
		return ""
	}
	base := "repo:" + org + "/" + repo
	switch entity {
	case "pull_request":
		return base + ":pull_request"
	case "branch":
		if value != "" {
			return base + ":ref:refs/heads/" + value
		}
	case "tag":
		if value != "" {
			return base + ":ref:refs/tags/" + value
		}
	default:
		if value != "" {
			return base + ":environment:" + value
		}
	}
	return ""
}

// required checks the scenario's own fields (the ones Azure's portal asks for before it builds
// the request); the issuer, subject, expression, audience and name are then the API's to judge.
func (f *ficForm) required() []fieldError {
	var errs []fieldError
	need := func(field, value, label string) {
		if value == "" {
			f.FieldErrors[field] = label + " is required."
			errs = append(errs, fieldError{Field: "fic-" + field, Message: label + " is required."})
		}
	}
	switch f.Scenario {
	case ficScenarioGitHub:
		need("organization", f.Organization, "Organization")
		need("repository", f.Repository, "Repository")
		if f.Entity != "pull_request" {
			need("entityValue", f.EntityValue, entityLabel(f.Entity))
		}
	case ficScenarioK8s:
		need("clusterIssuer", f.ClusterIssuer, "Cluster issuer URL")
		need("namespace", f.Namespace, "Namespace")
		need("serviceAccount", f.ServiceAccount, "Service account name")
	}
	need("name", f.Name, "Name")
	return errs
}

func entityLabel(entity string) string {
	switch entity {
	case "branch":
		return "Branch name"
	case "tag":
		return "Tag name"
	}
	return "Environment name"
}

// body is the PUT body.
func (f *ficForm) body() map[string]any {
	props := map[string]any{"issuer": f.Issuer, "audiences": []string{f.Audience}}
	if f.SubjectKind == "expression" {
		props["claimsMatchingExpression"] = map[string]any{"value": f.Expression, "languageVersion": 1}
	} else {
		props["subject"] = f.Subject
	}
	return map[string]any{"properties": props}
}

// apiFieldError puts the API's message next to the field it is about (the summary on top shows
// it too). The field follows from the message's subject; a message about none stays on top.
func (f *ficForm) apiFieldError(e *APIError) []fieldError {
	if e == nil || e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized {
		return nil
	}
	m := strings.ToLower(e.Message)
	var field string
	switch {
	case strings.Contains(m, "credential name"):
		field = "name"
	case strings.Contains(m, "claims matching expression") || strings.Contains(m, "claimsmatchingexpression"):
		field = "expression"
		if f.SubjectKind != "expression" {
			field = "subject"
		}
	case strings.Contains(m, "subject"):
		field = "subject"
	case strings.Contains(m, "issuer"):
		field = "issuer"
		if f.Scenario == ficScenarioK8s {
			field = "clusterIssuer"
		}
	case strings.Contains(m, "audience"):
		field = "audience"
	default:
		return nil
	}
	f.FieldErrors[field] = e.Message
	return []fieldError{{Field: "fic-" + field, Message: e.Message}}
}

func (p *Portal) federatedCredentials(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	c := p.api(s)
	ctx := r.Context()
	d := &ficData{Path: resourcePath(id.String()), Identity: id.Name()}
	pg := page{Title: "Federated credentials", Blade: newBlade(id, "fic"), Data: d}
	if !armid.IsUserAssignedIdentity(id) {
		pg.Error = &APIError{Code: "NotAnIdentity", Message: "Only user assigned managed identities have federated credentials."}
		p.render(w, r, s, http.StatusNotFound, "fedcreds", pg)
		return
	}
	collection := id.String() + "/federatedIdentityCredentials"
	q := r.URL.Query()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		f := r.PostForm
		switch f.Get("action") {
		case "add":
			form := readFICForm(f)
			d.Add, d.Form = true, form
			if form.Scenario == "" {
				pg.Error = &APIError{Code: "NoScenario", Message: "Select a federated credential scenario."}
				status = http.StatusBadRequest
				break
			}
			if errs := form.required(); len(errs) > 0 {
				pg.Errors, status = errs, http.StatusBadRequest
				break
			}
			_, err := c.arm(ctx, http.MethodPut, collection+"/"+url.PathEscape(form.Name), versionQ(apiFIC), form.body(), nil)
			if err != nil {
				pg.Error = asAPIError(err)
				pg.Errors = form.apiFieldError(pg.Error)
				status = statusOf(err)
				break
			}
			redirect(w, r, d.Path+"?"+url.Values{"view": {"fic"}, "added": {form.Name}}.Encode())
			return
		case "delete":
			name := f.Get("name")
			if f.Get("confirm") != "yes" {
				d.Confirm = &confirmation{Title: "Delete federated credential",
					Text:   "Deleting '" + name + "' stops workloads that present tokens matching it from getting tokens for " + id.Name() + ". Do you want to delete it?",
					Hidden: []tagRow{{"view", "fic"}, {"action", "delete"}, {"name", name}}, Yes: "Delete", No: "Cancel", Cancel: d.Path + "?view=fic"}
				break
			}
			if _, err := c.arm(ctx, http.MethodDelete, collection+"/"+url.PathEscape(name), versionQ(apiFIC), nil, nil); err != nil {
				pg.Error = asAPIError(err)
				status = statusOf(err)
				break
			}
			redirect(w, r, d.Path+"?"+url.Values{"view": {"fic"}, "deleted": {name}}.Encode())
			return
		default:
			pg.Error = &APIError{Code: "UnknownAction", Message: "The form asked for nothing the Federated credentials page does."}
			status = http.StatusBadRequest
		}
	} else {
		if n := q.Get("added"); n != "" {
			pg.Notice = "The federated credential '" + n + "' was added."
		}
		if n := q.Get("deleted"); n != "" {
			pg.Notice = "The federated credential '" + n + "' was deleted."
		}
		if q.Get("add") != "" {
			d.Add = true
			d.Form = readFICForm(url.Values{"scenario": {q.Get("scenario")}})
		}
	}
	creds, err := listAll[federatedCredential](ctx, c, collection, versionQ(apiFIC), 100)
	if err != nil && pg.Error == nil {
		pg.Error = asAPIError(err)
		status = statusOf(err)
	}
	for _, fc := range creds {
		row := ficRow{Name: fc.Name, Issuer: fc.Properties.Issuer, Subject: fc.Properties.Subject}
		if e := fc.Properties.ClaimsMatchingExpression; e != nil {
			row.Expression = e.Value
		}
		if len(fc.Properties.Audiences) > 0 {
			row.Audience = fc.Properties.Audiences[0]
		}
		d.Rows = append(d.Rows, row)
	}
	sort.Slice(d.Rows, func(i, j int) bool { return strings.ToLower(d.Rows[i].Name) < strings.ToLower(d.Rows[j].Name) })
	p.render(w, r, s, status, "fedcreds", pg)
}
