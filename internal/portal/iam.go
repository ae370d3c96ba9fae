package portal

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
)

// Access control (IAM) on any scope: Role assignments (grouped by role, "This resource" or
// inherited, paged through ARM's own nextLink so 10,000 assignments cost one page), Roles with
// View permissions, Check access (mint's explainer), and the Add role assignment wizard.

func roleGUID(roleDefinitionID string) string { return strings.ToLower(path.Base(roleDefinitionID)) }

// roleDefinitions lists the roles assignable at scope.
func (c *apiClient) roleDefinitions(ctx context.Context, scope string) ([]roleDefinition, error) {
	defs, err := listAll[roleDefinition](ctx, c, scope+"/providers/Microsoft.Authorization/roleDefinitions", versionQ(apiAuthz), 5000)
	sort.Slice(defs, func(i, j int) bool { return defs[i].Properties.RoleName < defs[j].Properties.RoleName })
	return defs, err
}

// principal is how a principal is shown.
type principal struct {
	ID, Name, Type, Detail string
}

// principalTypeWords names an ARM principalType the way the IAM grid does.
func principalTypeWords(t string) string {
	switch t {
	case "ServicePrincipal":
		return "App"
	case "":
		return "Unknown"
	}
	return t
}

// resolvePrincipals names principal ids through the APIs the person can read: Graph first (users,
// groups, service principals), then the managed identities and identity-holding resources of the
// subscription (ARM). Unresolved ids are shown as "Identity not found" with their id.
//
// types gives, per id, the ARM principalType when known (User, Group, ServicePrincipal), so that
// only that part of the directory is asked.
func (c *apiClient) resolvePrincipals(ctx context.Context, ids []string, types map[string]string, subscriptionID string) map[string]principal {
	out := map[string]principal{}
	var todo []string
	seen := map[string]bool{}
	for _, id := range ids {
		k := strings.ToLower(id)
		if !seen[k] {
			seen[k] = true
			todo = append(todo, k)
		}
	}
	kindsFor := func(id string) []string {
		switch types[id] {
		case "User":
			return []string{"users"}
		case "Group":
			return []string{"groups"}
		case "ServicePrincipal":
			return []string{"servicePrincipals"}
		}
		return []string{"users", "groups", "servicePrincipals"}
	}
	if len(todo) == 0 {
		return out
	}
	refused := map[string]bool{} // Graph collections the person may not read
	notFound := map[string]int{} // per id, how many collections said 404
	// One Graph call for the whole page, as Azure's portal names principals
	// (directoryObjects/getByIds); one call per principal only when the person may not use it.
	ask := todo
	if c.principalsByIDs(ctx, todo, out) {
		ask = nil
		for _, id := range todo {
			if _, ok := out[id]; !ok {
				notFound[id] = len(kindsFor(id)) // not in the directory
			}
		}
	}
	for _, id := range ask {
		kinds := kindsFor(id)
		for _, kind := range kinds {
			if refused[kind] {
				continue
			}
			var obj directoryObject
			_, err := c.do(ctx, ScopeGraph, http.MethodGet, "/v1.0/"+kind+"/"+url.PathEscape(id), nil, &obj)
			if err == nil {
				obj.Type = "#microsoft.graph." + strings.TrimSuffix(kind, "s") // the collection says what it is
				out[id], _ = obj.principal(id)
				break
			}
			if ae, ok := err.(*APIError); ok && ae.Status == http.StatusNotFound {
				notFound[id]++
				continue
			}
			refused[kind] = true // the person cannot read this part of the directory: skip it from now on
		}
	}
	defer func() {
		for _, id := range todo {
			if _, ok := out[id]; ok {
				continue
			}
			if notFound[id] == len(kindsFor(id)) {
				out[id] = principal{ID: id, Name: "Identity not found", Detail: id}
			} else {
				out[id] = principal{ID: id, Name: id, Detail: "name not readable with your permissions"}
			}
		}
	}()
	var missing []string
	for _, id := range todo {
		if _, ok := out[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 || subscriptionID == "" {
		return out
	}
	want := map[string]bool{}
	for _, id := range missing {
		want[id] = true
	}
	mis, _ := listAll[userAssignedIdentity](ctx, c, "/subscriptions/"+subscriptionID+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities", versionQ(apiMSI), 5000)
	for _, mi := range mis {
		k := strings.ToLower(mi.Properties.PrincipalID)
		if want[k] {
			out[k] = principal{ID: k, Name: mi.Name, Type: "Managed identity", Detail: mi.Properties.ClientID}
			delete(want, k)
		}
	}
	if len(want) > 0 {
		rs, _ := listAll[genericResource](ctx, c, "/subscriptions/"+subscriptionID+"/resources", versionQ(apiResources), 20000)
		for _, r := range rs {
			if r.Identity == nil {
				continue
			}
			k := strings.ToLower(r.Identity.PrincipalID)
			if want[k] {
				out[k] = principal{ID: k, Name: r.Name, Type: "Managed identity", Detail: shortType(r.Type)}
			}
		}
	}
	return out
}

// principalsByIDs names ids (lower-cased) with one Graph directoryObjects/getByIds call per
// 1,000, into out; false when the person may not make it (or it failed), so that the caller asks
// per principal instead.
func (c *apiClient) principalsByIDs(ctx context.Context, ids []string, out map[string]principal) bool {
	for start := 0; start < len(ids); start += 1000 {
		var page struct {
			Value []directoryObject `json:"value"`
		}
		body := map[string]any{"ids": ids[start:min(len(ids), start+1000)], "types": []string{"user", "group", "servicePrincipal"}}
		if _, err := c.do(ctx, ScopeGraph, http.MethodPost, "/v1.0/directoryObjects/getByIds", body, &page); err != nil {
			return false
		}
		for _, o := range page.Value {
			id := strings.ToLower(o.ID)
			if pr, ok := o.principal(id); ok {
				out[id] = pr
			}
		}
	}
	return true
}

// directoryObject is what the portal reads of a user, group or service principal from Graph.
type directoryObject struct {
	Type                 string `json:"@odata.type"`
	ID                   string `json:"id"`
	DisplayName          string `json:"displayName"`
	AppID                string `json:"appId"`
	ServicePrincipalType string `json:"servicePrincipalType"`
	UserPrincipalName    string `json:"userPrincipalName"`
}

// principal is how a role assignment's principal id (lower-cased) is shown: its name, kind and
// detail; false for an object of another kind.
func (o directoryObject) principal(id string) (principal, bool) {
	pr := principal{ID: id, Name: o.DisplayName}
	switch o.Type {
	case "#microsoft.graph.servicePrincipal":
		pr.Type, pr.Detail = "App", o.AppID
		if strings.EqualFold(o.ServicePrincipalType, "ManagedIdentity") {
			pr.Type = "Managed identity"
		}
	case "#microsoft.graph.user":
		pr.Type, pr.Detail = "User", o.UserPrincipalName
	case "#microsoft.graph.group":
		pr.Type = "Group"
	default:
		return pr, false
	}
	return pr, true
}

type assignmentRow struct {
	ID, PrincipalName, PrincipalID, Detail, Type, Scope, ScopeHref, Condition string
	Here                                                                      bool
}

type roleGroup struct {
	Role string
	Rows []assignmentRow
}

type iamData struct {
	Tab      string
	Path     string
	Groups   []roleGroup
	Count    int
	Next     string
	Roles    []roleDefinition
	Search   string
	ViewRole *roleDefinition
	Check    *checkAccessData
	// Roles tab filters: Type (BuiltInRole, CustomRole) goes to ARM's $filter; Category is the
	// portal's grouping of a role by the provider its permissions are about.
	RoleType, Category string
	Categories         []string
	// Deny assignments tab.
	Deny []denyAssignment
}

// denyAssignment is what the Deny assignments tab shows of one (mint has none; see
// internal/arm's denyAssignments).
type denyAssignment struct {
	ID, Name   string
	Properties struct {
		DenyAssignmentName string `json:"denyAssignmentName"`
		Description        string `json:"description"`
		Scope              string `json:"scope"`
		IsSystemProtected  bool   `json:"isSystemProtected"`
	} `json:"properties"`
}

// scopeLabel is the Scope column: "This resource", or where the assignment is inherited from.
func scopeLabel(assignmentScope string, here armid.ResourceID) (string, bool) {
	if strings.EqualFold(strings.TrimSuffix(assignmentScope, "/"), here.String()) {
		return "This resource", true
	}
	s, err := armid.ParseScope(assignmentScope)
	switch {
	case err != nil:
		return assignmentScope, false
	case s.IsRoot():
		return "Root (Inherited)", false
	case s.IsSubscription():
		return "Subscription (Inherited)", false
	case s.IsResourceGroup():
		return s.ResourceGroup + " (Inherited)", false
	case here.IsUnderID(s):
		return s.Name() + " (Inherited)", false
	}
	return s.Name(), false
}

func (p *Portal) iamBlade(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	q := r.URL.Query()
	d := &iamData{Tab: q.Get("tab"), Path: resourcePath(id.String()), Search: strings.TrimSpace(q.Get("search"))}
	pg := page{Title: "Access control (IAM)", Blade: newBlade(id, "iam"), Data: d}
	if q.Get("added") != "" {
		pg.Notice = "Added role assignment: " + q.Get("added") + ". It is effective now; tokens issued before it are checked against it on their next use."
	}
	c := p.api(s)
	ctx := r.Context()
	switch d.Tab {
	case "roles":
		d.RoleType, d.Category = q.Get("type"), q.Get("category")
		rq := versionQ(apiAuthz)
		switch d.RoleType {
		case "BuiltInRole", "CustomRole":
			rq.Set("$filter", "type eq '"+d.RoleType+"'")
		default:
			d.RoleType = ""
		}
		defs, err := listAll[roleDefinition](ctx, c, id.String()+"/providers/Microsoft.Authorization/roleDefinitions", rq, 5000)
		sort.Slice(defs, func(i, j int) bool { return defs[i].Properties.RoleName < defs[j].Properties.RoleName })
		if err != nil {
			pg.Error = asAPIError(err)
		}
		seen := map[string]bool{}
		for _, def := range defs {
			if cat := roleCategory(def); !seen[cat] {
				seen[cat] = true
				d.Categories = append(d.Categories, cat)
			}
		}
		sort.Strings(d.Categories)
		for _, def := range filterRoles(defs, d.Search, "") {
			if d.Category == "" || roleCategory(def) == d.Category {
				d.Roles = append(d.Roles, def)
			}
		}
		if v := q.Get("role"); v != "" {
			for i := range defs {
				if strings.EqualFold(defs[i].Name, v) {
					d.ViewRole = &defs[i]
				}
			}
		}
	case "deny":
		deny, err := listAll[denyAssignment](ctx, c, id.String()+"/providers/Microsoft.Authorization/denyAssignments", versionQ(apiAuthz), 1000)
		if err != nil {
			pg.Error = asAPIError(err)
		}
		d.Deny = deny
	case "check":
		d.Check = p.checkAccess(r, s, id, &pg)
	default:
		d.Tab = "assignments"
		p.assignmentsTab(ctx, c, id, q.Get("skip"), d, &pg)
	}
	p.render(w, r, s, statusForPage(pg), "iam", pg)
}

// assignmentsTab reads one page of the assignments at and above the scope (ARM's atScope()),
// names their roles and principals, and groups them by role.
func (p *Portal) assignmentsTab(ctx context.Context, c *apiClient, id armid.ResourceID, skip string, d *iamData, pg *page) {
	q := versionQ(apiAuthz)
	q.Set("$filter", "atScope()")
	list, next, err := listPage[roleAssignment](ctx, c, id.String()+"/providers/Microsoft.Authorization/roleAssignments", q, skip, pageSize)
	if err != nil {
		pg.Error = asAPIError(err)
		return
	}
	if next != "" {
		d.Next = d.Path + "?" + url.Values{"view": {"iam"}, "skip": {next}}.Encode()
	}
	roles := map[string]string{}
	defs, err := c.roleDefinitions(ctx, id.String())
	if err == nil {
		for _, def := range defs {
			roles[strings.ToLower(def.Name)] = def.Properties.RoleName
		}
	}
	var ids []string
	types := map[string]string{}
	for _, a := range list {
		ids = append(ids, a.Properties.PrincipalID)
		types[strings.ToLower(a.Properties.PrincipalID)] = a.Properties.PrincipalType
	}
	names := c.resolvePrincipals(ctx, ids, types, id.SubscriptionID)
	byRole := map[string]*roleGroup{}
	for _, a := range list {
		role := roles[roleGUID(a.Properties.RoleDefinitionID)]
		if role == "" {
			role = roleGUID(a.Properties.RoleDefinitionID)
		}
		pr, ok := names[strings.ToLower(a.Properties.PrincipalID)]
		if !ok {
			pr = principal{Name: "Identity not found", Type: principalTypeWords(a.Properties.PrincipalType)}
		}
		if pr.Type == "" {
			pr.Type = principalTypeWords(a.Properties.PrincipalType)
		}
		label, here := scopeLabel(a.Properties.Scope, id)
		row := assignmentRow{ID: a.ID, PrincipalName: pr.Name, PrincipalID: a.Properties.PrincipalID, Detail: pr.Detail, Type: pr.Type,
			Scope: label, Here: here, Condition: "None"}
		if !here {
			row.ScopeHref = resourcePath(a.Properties.Scope) + "?view=iam"
		}
		if a.Properties.Condition != "" {
			row.Condition = a.Properties.Condition
		}
		g := byRole[role]
		if g == nil {
			g = &roleGroup{Role: role}
			byRole[role] = g
		}
		g.Rows = append(g.Rows, row)
	}
	for _, g := range byRole {
		sort.SliceStable(g.Rows, func(i, j int) bool { return g.Rows[i].PrincipalName < g.Rows[j].PrincipalName })
		d.Groups = append(d.Groups, *g)
	}
	sort.Slice(d.Groups, func(i, j int) bool { return d.Groups[i].Role < d.Groups[j].Role })
	d.Count = len(list)
}

// privilegedRoles are the "Privileged administrator roles" tab's.
var privilegedRoles = map[string]bool{"owner": true, "contributor": true, "user access administrator": true, "role based access control administrator": true}

// filterRoles keeps the roles whose name or description contains search, of a category
// ("job", "privileged" or "" for all).
func filterRoles(defs []roleDefinition, search, category string) []roleDefinition {
	needle := strings.ToLower(search)
	var out []roleDefinition
	for _, d := range defs {
		priv := privilegedRoles[strings.ToLower(d.Properties.RoleName)]
		if category == "job" && priv || category == "privileged" && !priv {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(d.Properties.RoleName), needle) && !strings.Contains(strings.ToLower(d.Properties.Description), needle) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// The Add role assignment wizard: Role → Members (with the Select members pane) → Review +
// assign. Every step is a GET carrying the choices so far; only the final Review + assign is a
// POST (with the CSRF token), which sends one PUT per member.

type member struct {
	Type, ID string // ARM principalType, object id
	Name     string
	Detail   string
}

type wizardData struct {
	Step        string
	Path        string
	Scope       string
	Category    string
	Search      string
	Roles       []roleDefinition
	Role        *roleDefinition
	ViewRole    *roleDefinition
	Assign      string // "user" or "mi"
	Members     []member
	Description string
	// Select members pane.
	PaneSubs   []subscription
	PaneSub    string
	PaneType   string
	PaneTypes  []tagRow // value, label
	PaneFilter string
	Choices    []member
	Carry      url.Values // the wizard's state, for links and hidden fields
}

// miTypes are the "Managed identity" dropdown of the Select managed identities pane.
var miTypes = []tagRow{
	{"userAssigned", "User-assigned managed identity"},
	{"Microsoft.App/containerApps", "Container App"},
	{"Microsoft.Web/sites", "App Service"},
	{"Microsoft.Compute/virtualMachines", "Virtual machine"},
	{"Microsoft.ContainerInstance/containerGroups", "Container instance"},
}

func parseMember(v string) (member, bool) {
	t, id, ok := strings.Cut(v, ":")
	if !ok || uuid.Validate(id) != nil {
		return member{}, false
	}
	switch t {
	case "User", "Group", "ServicePrincipal":
	default:
		return member{}, false
	}
	return member{Type: t, ID: strings.ToLower(id)}, true
}

func (p *Portal) addRoleWizard(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	c := p.api(s)
	ctx := r.Context()
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	d := &wizardData{Step: form.Get("step"), Path: resourcePath(id.String()), Scope: id.String(), Category: form.Get("cat"),
		Search: strings.TrimSpace(form.Get("search")), Assign: form.Get("assign"), Description: strings.TrimSpace(form.Get("description")),
		PaneTypes: miTypes}
	if d.Assign != "mi" {
		d.Assign = "user"
	}
	if d.Category != "privileged" {
		d.Category = "job"
	}
	pg := page{Title: "Add role assignment", Blade: newBlade(id, "iam"), Data: d}
	defs, err := c.roleDefinitions(ctx, id.String())
	if err != nil {
		pg.Error = asAPIError(err)
	}
	if v := form.Get("role"); v != "" {
		for i := range defs {
			if strings.EqualFold(defs[i].Name, v) {
				d.Role = &defs[i]
			}
		}
	}
	if v := form.Get("viewrole"); v != "" {
		for i := range defs {
			if strings.EqualFold(defs[i].Name, v) {
				d.ViewRole = &defs[i]
			}
		}
	}
	seen := map[string]bool{}
	for _, v := range form["member"] {
		if m, ok := parseMember(v); ok && !seen[m.ID] && m.ID != strings.ToLower(form.Get("drop")) {
			seen[m.ID] = true
			d.Members = append(d.Members, m)
		}
	}
	if len(d.Members) > 0 {
		var ids []string
		types := map[string]string{}
		for _, m := range d.Members {
			ids = append(ids, m.ID)
			types[m.ID] = m.Type
		}
		names := c.resolvePrincipals(ctx, ids, types, id.SubscriptionID)
		for i := range d.Members {
			if pr, ok := names[d.Members[i].ID]; ok {
				d.Members[i].Name, d.Members[i].Detail = pr.Name, pr.Type
			} else {
				d.Members[i].Name, d.Members[i].Detail = d.Members[i].ID, principalTypeWords(d.Members[i].Type)
			}
		}
	}
	d.Carry = url.Values{"view": {"addrole"}, "assign": {d.Assign}}
	if d.Role != nil {
		d.Carry.Set("role", d.Role.Name)
	}
	if d.Description != "" {
		d.Carry.Set("description", d.Description)
	}
	for _, m := range d.Members {
		d.Carry.Add("member", m.Type+":"+m.ID)
	}
	// Steps that need a role go back to it when none is chosen.
	if d.Step != "role" && d.Step != "" && d.Role == nil {
		pg.Errors = []fieldError{{Field: "role-search", Message: "Select a role to continue."}}
		d.Step = "role"
	}
	if d.Step == "review" && len(d.Members) == 0 {
		pg.Errors = []fieldError{{Field: "select-members", Message: "Select at least one member to continue."}}
		d.Step = "members"
	}
	switch d.Step {
	case "members":
	case "select":
		p.selectMembersPane(ctx, c, form, d, &pg)
	case "review":
		if r.Method == http.MethodPost && form.Get("action") == "assign" {
			if p.assignRole(w, r, c, id, d, &pg) {
				return
			}
		}
	default:
		d.Step = "role"
		d.Roles = filterRoles(defs, d.Search, d.Category)
	}
	p.render(w, r, s, statusForPage(pg), "addrole", pg)
}

// selectMembersPane lists what can be picked: managed identities of a type in a subscription, or
// the directory's users, groups and service principals the person can read.
func (p *Portal) selectMembersPane(ctx context.Context, c *apiClient, form url.Values, d *wizardData, pg *page) {
	d.PaneFilter = strings.TrimSpace(form.Get("filter"))
	needle := strings.ToLower(d.PaneFilter)
	chosen := map[string]bool{}
	for _, m := range d.Members {
		chosen[m.ID] = true
	}
	if d.Assign == "mi" {
		subs, err := c.subscriptions(ctx)
		if err != nil {
			pg.Error = asAPIError(err)
			return
		}
		d.PaneSubs = subs
		d.PaneSub = pickSubscription(subs, form.Get("msub"))
		d.PaneType = form.Get("mitype")
		if d.PaneType == "" {
			d.PaneType = "userAssigned"
		}
		if d.PaneSub == "" {
			return
		}
		if d.PaneType == "userAssigned" {
			mis, err := listAll[userAssignedIdentity](ctx, c, "/subscriptions/"+d.PaneSub+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities", versionQ(apiMSI), 1000)
			if err != nil {
				pg.Error = asAPIError(err)
			}
			for _, mi := range mis {
				if (needle == "" || strings.Contains(strings.ToLower(mi.Name), needle)) && !chosen[strings.ToLower(mi.Properties.PrincipalID)] {
					d.Choices = append(d.Choices, member{Type: "ServicePrincipal", ID: strings.ToLower(mi.Properties.PrincipalID), Name: mi.Name, Detail: "User-assigned managed identity"})
				}
			}
			return
		}
		q := versionQ(apiResources)
		q.Set("$filter", "resourceType eq '"+strings.ReplaceAll(d.PaneType, "'", "''")+"'")
		rs, err := listAll[genericResource](ctx, c, "/subscriptions/"+d.PaneSub+"/resources", q, 1000)
		if err != nil {
			pg.Error = asAPIError(err)
		}
		for _, r := range rs {
			if r.Identity == nil || r.Identity.PrincipalID == "" {
				continue // no system-assigned identity to grant
			}
			if (needle == "" || strings.Contains(strings.ToLower(r.Name), needle)) && !chosen[strings.ToLower(r.Identity.PrincipalID)] {
				d.Choices = append(d.Choices, member{Type: "ServicePrincipal", ID: strings.ToLower(r.Identity.PrincipalID), Name: r.Name, Detail: shortType(r.Type)})
			}
		}
		return
	}
	// User, group, or service principal: whatever Graph lets the person list.
	type obj struct {
		ID                string `json:"id"`
		DisplayName       string `json:"displayName"`
		UserPrincipalName string `json:"userPrincipalName"`
		AppID             string `json:"appId"`
	}
	// As Azure's portal does, what is typed is searched for by Graph ($search, by words for
	// names and by beginning for the other properties, with ConsistencyLevel: eventual), so
	// the picker finds a principal in a directory of any size; with nothing typed, the first 999
	// of each kind.
	var refused *APIError
	for _, kind := range []struct {
		path, typ, words string
		searched         []string
	}{
		{"users", "User", "User", []string{"displayName", "userPrincipalName", "id"}},
		{"groups", "Group", "Group", []string{"displayName", "id"}},
		{"servicePrincipals", "ServicePrincipal", "App", []string{"displayName", "appId", "id"}},
	} {
		var l struct {
			Value []obj `json:"value"`
		}
		q := url.Values{"$top": {"999"}}
		var header http.Header
		if d.PaneFilter != "" {
			text := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(d.PaneFilter)
			var clauses []string
			for _, p := range kind.searched {
				clauses = append(clauses, `"`+p+":"+text+`"`)
			}
			q.Set("$search", strings.Join(clauses, " OR "))
			header = http.Header{"Consistencylevel": {"eventual"}}
		}
		if _, err := c.doWithHeader(ctx, ScopeGraph, http.MethodGet, "/v1.0/"+kind.path+"?"+q.Encode(), header, nil, &l); err != nil {
			refused = asAPIError(err)
			continue
		}
		for _, o := range l.Value {
			if chosen[strings.ToLower(o.ID)] {
				continue
			}
			detail := kind.words
			if o.UserPrincipalName != "" {
				detail = o.UserPrincipalName
			}
			d.Choices = append(d.Choices, member{Type: kind.typ, ID: strings.ToLower(o.ID), Name: o.DisplayName, Detail: detail})
		}
	}
	if len(d.Choices) == 0 && refused != nil {
		pg.Error = refused
	}
}

// assignRole sends one PUT per member; it answers (redirect) and returns true when all succeed.
func (p *Portal) assignRole(w http.ResponseWriter, r *http.Request, c *apiClient, id armid.ResourceID, d *wizardData, pg *page) bool {
	for _, m := range d.Members {
		props := map[string]any{"roleDefinitionId": d.Role.ID, "principalId": m.ID, "principalType": m.Type}
		if d.Description != "" {
			props["description"] = d.Description
		}
		name := uuid.NewString()
		_, err := c.arm(r.Context(), http.MethodPut, id.String()+"/providers/Microsoft.Authorization/roleAssignments/"+name, versionQ(apiAuthz),
			map[string]any{"properties": props}, nil)
		if err != nil {
			pg.Error = asAPIError(err)
			return false
		}
	}
	redirect(w, r, d.Path+"?"+url.Values{"view": {"iam"}, "added": {d.Role.Properties.RoleName}}.Encode())
	return true
}

// Check access: mint's explainer at this scope — any principal, any action.

type checkAccessData struct {
	PrincipalID string
	Action      string
	Data        bool
	Result      *accessExplanation
	AssignHref  string
	Self        bool
}

// commonActions are offered as suggestions in the Action field.
var commonActions = []string{
	"Microsoft.KeyVault/vaults/secrets/getSecret/action",
	"Microsoft.KeyVault/vaults/read",
	"Microsoft.ManagedIdentity/userAssignedIdentities/write",
	"Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
	"Microsoft.Authorization/roleAssignments/write",
	"Microsoft.App/containerApps/write",
	"Microsoft.Resources/subscriptions/resourceGroups/read",
}

func (p *Portal) checkAccess(r *http.Request, s *Session, id armid.ResourceID, pg *page) *checkAccessData {
	q := r.URL.Query()
	d := &checkAccessData{PrincipalID: strings.TrimSpace(q.Get("principal")), Action: strings.TrimSpace(q.Get("action")), Data: q.Get("data") == "on"}
	if d.PrincipalID == "" {
		d.PrincipalID, d.Self = s.User.ObjectID, true
	}
	if d.Action == "" {
		return d
	}
	body := map[string]any{"principalId": d.PrincipalID, "action": d.Action, "dataAction": d.Data}
	var x accessExplanation
	if _, err := p.api(s).arm(r.Context(), http.MethodPost, id.String()+"/providers/Microsoft.Authorization/explainAccess", versionQ(apiAuthz), body, &x); err != nil {
		pg.Error = asAPIError(err)
		return d
	}
	d.Result = &x
	if !x.Allowed && x.Suggestion != nil {
		v := url.Values{"view": {"addrole"}, "step": {"members"}, "role": {roleGUID(x.Suggestion.RoleID)}}
		v.Add("member", "ServicePrincipal:"+d.PrincipalID)
		d.AssignHref = resourcePath(id.String()) + "?" + v.Encode()
	}
	return d
}

// checkAccessHome is the Check access service: it asks for a scope and opens its IAM blade's
// Check access tab.
func (p *Portal) checkAccessHome(w http.ResponseWriter, r *http.Request, s *Session) {
	subs, err := p.api(s).subscriptions(r.Context())
	pg := page{Title: "Check access", Nav: "checkaccess", Data: subs}
	if err != nil {
		pg.Error = asAPIError(err)
	}
	if scope := strings.TrimSpace(r.URL.Query().Get("scope")); scope != "" {
		if id, err := armid.ParseScope(scope); err == nil && !id.IsRoot() {
			http.Redirect(w, r, resourcePath(id.String())+"?view=iam&tab=check", http.StatusSeeOther)
			return
		}
		pg.Errors = []fieldError{{Field: "scope", Message: "'" + scope + "' is not a subscription, resource group or resource id."}}
	}
	p.render(w, r, s, http.StatusOK, "checkaccess", pg)
}

// identityRoleAssignments is a user-assigned identity's "Azure role assignments": the
// assignments of its principal across the subscription (ARM's assignedTo filter).
func (p *Portal) identityRoleAssignments(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	c := p.api(s)
	ctx := r.Context()
	d := &iamData{Tab: "assignments", Path: resourcePath(id.String())}
	pg := page{Title: "Azure role assignments", Blade: newBlade(id, "roles"), Data: d}
	var mi userAssignedIdentity
	if err := c.get(ctx, id, &mi); err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, statusOf(err), "roleassignments", pg)
		return
	}
	q := versionQ(apiAuthz)
	q.Set("$filter", "assignedTo('"+mi.Properties.PrincipalID+"')")
	list, err := listAll[roleAssignment](ctx, c, "/subscriptions/"+id.SubscriptionID+"/providers/Microsoft.Authorization/roleAssignments", q, 5000)
	if err != nil {
		pg.Error = asAPIError(err)
	}
	roles := map[string]string{}
	if defs, err := c.roleDefinitions(ctx, "/subscriptions/"+id.SubscriptionID); err == nil {
		for _, def := range defs {
			roles[strings.ToLower(def.Name)] = def.Properties.RoleName
		}
	}
	g := roleGroup{Role: "Assignments of " + mi.Name}
	for _, a := range list {
		role := roles[roleGUID(a.Properties.RoleDefinitionID)]
		scopeID, _ := armid.ParseScope(a.Properties.Scope)
		g.Rows = append(g.Rows, assignmentRow{ID: a.ID, PrincipalName: role, Scope: a.Properties.Scope, ScopeHref: resourcePath(scopeID.String()) + "?view=iam",
			Type: shortTypeOfScope(scopeID)})
	}
	d.Groups = []roleGroup{g}
	d.Count = len(list)
	p.render(w, r, s, statusForPage(pg), "roleassignments", pg)
}

func shortTypeOfScope(id armid.ResourceID) string {
	switch {
	case id.IsSubscription():
		return "Subscription"
	case id.IsResourceGroup():
		return "Resource group"
	case id.IsRoot():
		return "Root"
	}
	return shortType(id.ResourceType())
}

// Hidden is the wizard's state as hidden fields, without the names in except (the step's own
// fields).
func (d *wizardData) Hidden(except ...string) []tagRow {
	var out []tagRow
	skip := map[string]bool{}
	for _, e := range except {
		skip[e] = true
	}
	keys := make([]string, 0, len(d.Carry))
	for k := range d.Carry {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if skip[k] {
			continue
		}
		for _, v := range d.Carry[k] {
			out = append(out, tagRow{Name: k, Value: v})
		}
	}
	return out
}

// Link is the wizard page of step with the state so far (and a member dropped, if drop is set).
func (d *wizardData) Link(step, drop string) string {
	v := url.Values{}
	for k, vs := range d.Carry {
		for _, x := range vs {
			if k == "member" && drop != "" && strings.HasSuffix(x, ":"+drop) {
				continue
			}
			v.Add(k, x)
		}
	}
	v.Set("step", step)
	return d.Path + "?" + v.Encode()
}

// roleCategory groups a role the way the Roles tab's Category filter does: "General" for roles
// over every provider (Owner, Contributor, Reader), otherwise by the provider its permissions
// name (one provider: its area; several: "Other").
func roleCategory(def roleDefinition) string {
	ns := map[string]bool{}
	for _, p := range def.Properties.Permissions {
		for _, a := range append(append([]string{}, p.Actions...), p.DataActions...) {
			first, _, _ := strings.Cut(a, "/")
			if first == "*" {
				return "General"
			}
			ns[strings.ToLower(first)] = true
		}
	}
	delete(ns, "microsoft.resources")
	delete(ns, "microsoft.support")
	delete(ns, "microsoft.insights")
	if len(ns) != 1 {
		return "Other"
	}
	for n := range ns {
		if c, ok := providerCategories[n]; ok {
			return c
		}
	}
	return "Other"
}

var providerCategories = map[string]string{
	"microsoft.keyvault":          "Security",
	"microsoft.managedidentity":   "Identity",
	"microsoft.authorization":     "Privileged",
	"microsoft.compute":           "Compute",
	"microsoft.web":               "Web and Mobile",
	"microsoft.app":               "Containers",
	"microsoft.containerinstance": "Containers",
	"microsoft.storage":           "Storage",
}
