package portal

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/rbac"
)

// Beyond Azure: what mint knows that Azure's portal cannot show, read through the same APIs with
// the person's tokens (no store access, no privileged path).
//
//   - An identity's tokens: when it last got a token and for which audience, and the tokens
//     still unexpired, from Graph's sign-in log (so only people who may read the sign-in log
//     see them). The log records each token's id (uniqueTokenIdentifier), audience, time and the
//     workload resource it was issued for, but not which node's broker asked or which process
//     on that node holds it; the page shows the workload resource and says so.
//   - A vault's reach: who can read its secrets and through which assignment or group: the
//     role assignments that bear on the vault (ARM, needs roleAssignments/read like the IAM
//     blade), groups expanded to their members (Graph), and each principal's access decided by
//     mint's access explainer (explainAccess), which names the deciding assignment and the group
//     path.

// addMonitoringItems adds the blade entries this file and the logs serve: Activity log on
// every scope, and the beyond-Azure pages on the types they are about.
func addMonitoringItems(add func(label, view string), resourceType string) {
	add("Activity log", "activitylog")
	switch resourceType {
	case "microsoft.managedidentity/userassignedidentities":
		add("Tokens (mint)", "tokens")
	case "microsoft.keyvault/vaults":
		add("Who can read secrets (mint)", "reach")
	}
}

// tokenAudience is one row of "last token per audience".
type tokenAudience struct {
	Audience string
	Last     time.Time
	Count    int
	Workload string
}

// tokenHolder is one unexpired token.
type tokenHolder struct {
	TokenID   string
	Audience  string
	Workload  string
	IssuedAt  time.Time
	ExpiresBy time.Time
	// Nodes are the node agents that may broker tokens for the workload (holders of the Managed
	// Identity Token Broker role over it): the token was issued through one of them.
	Nodes string
}

type tokensData struct {
	PrincipalID string
	Lifetime    string
	Last        *signInEntry
	Audiences   []tokenAudience
	Holders     []tokenHolder
	Since       time.Time
	Truncated   bool
}

// tokenLifetime is the managed-identity token lifetime the holders' expiry is computed with.
func (p *Portal) tokenLifetime() time.Duration {
	d := p.cfg.ManagedIdentityTokenLifetime
	switch {
	case d <= 0:
		return 24 * time.Hour
	case d < 5*time.Minute:
		return 5 * time.Minute
	case d > 48*time.Hour:
		return 48 * time.Hour
	}
	return d
}

// summarizeTokens derives the last token per audience and the unexpired tokens from successful
// sign-ins (newest first). A token handed out again from the STS's cache keeps its id, so a
// token is issued at the earliest entry with its id. Pure.
func summarizeTokens(entries []signInEntry, now time.Time, lifetime time.Duration) ([]tokenAudience, []tokenHolder) {
	byAud := map[string]*tokenAudience{}
	first := map[string]signInEntry{}
	for _, e := range entries {
		if e.failed() {
			continue
		}
		a := byAud[e.ResourceID]
		if a == nil {
			a = &tokenAudience{Audience: e.ResourceID, Last: e.CreatedDateTime, Workload: e.AzureResourceID}
			byAud[e.ResourceID] = a
		}
		a.Count++
		if e.UniqueTokenIdentifier != "" {
			if f, ok := first[e.UniqueTokenIdentifier]; !ok || e.CreatedDateTime.Before(f.CreatedDateTime) {
				first[e.UniqueTokenIdentifier] = e
			}
		}
	}
	var auds []tokenAudience
	for _, a := range byAud {
		auds = append(auds, *a)
	}
	sort.Slice(auds, func(i, j int) bool { return auds[i].Last.After(auds[j].Last) })
	var holders []tokenHolder
	for id, e := range first {
		exp := e.CreatedDateTime.Add(lifetime)
		if exp.After(now) {
			holders = append(holders, tokenHolder{TokenID: id, Audience: e.ResourceID, Workload: e.AzureResourceID, IssuedAt: e.CreatedDateTime, ExpiresBy: exp})
		}
	}
	sort.Slice(holders, func(i, j int) bool { return holders[i].IssuedAt.After(holders[j].IssuedAt) })
	return auds, holders
}

func (p *Portal) tokenHolders(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	c := p.api(s)
	ctx := r.Context()
	lifetime := p.tokenLifetime()
	d := &tokensData{Lifetime: lifetime.String()}
	pg := page{Title: "Tokens", Blade: newBlade(id, "tokens"), Data: d}
	if !strings.EqualFold(id.ResourceType(), "Microsoft.ManagedIdentity/userAssignedIdentities") {
		pg.Error = &APIError{Status: http.StatusNotFound, Code: "NotAnIdentity", Message: "Only managed identities get tokens."}
		p.render(w, r, s, http.StatusNotFound, "tokens", pg)
		return
	}
	var mi userAssignedIdentity
	if err := c.get(ctx, id, &mi); err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, statusOf(err), "tokens", pg)
		return
	}
	d.PrincipalID = mi.Properties.PrincipalID
	now := p.cfg.Clock().UTC()
	// Last tokens: the last 30 days; unexpired ones are within the last lifetime.
	d.Since = now.Add(-30 * 24 * time.Hour)
	filter := "servicePrincipalId eq " + odataString(d.PrincipalID) + " and status/errorCode eq 0 and createdDateTime ge " + d.Since.Format(time.RFC3339)
	var all []signInEntry
	skip := ""
	for {
		l, err := c.readSignIns(ctx, filter, skip, 1000)
		if err != nil {
			pg.Error = asAPIError(err)
			p.render(w, r, s, statusOf(err), "tokens", pg)
			return
		}
		all = append(all, l.Value...)
		if skip = graphSkipToken(l.NextLink); skip == "" {
			break
		}
		if len(all) >= signInChartMax {
			d.Truncated = true
			break
		}
	}
	if len(all) > 0 {
		d.Last = &all[0]
	}
	d.Audiences, d.Holders = summarizeTokens(all, now, lifetime)
	nodes := map[string]string{}
	for i := range d.Holders {
		h := &d.Holders[i]
		if h.Workload == "" {
			continue
		}
		k := strings.ToLower(h.Workload)
		if _, ok := nodes[k]; !ok {
			if len(nodes) >= 20 {
				nodes[k] = "(not looked up: too many workloads)"
			} else {
				nodes[k] = c.tokenBrokers(ctx, h.Workload)
			}
		}
		h.Nodes = nodes[k]
	}
	p.render(w, r, s, http.StatusOK, "tokens", pg)
}

// tokenBrokers names the principals holding mint's Managed Identity Token Broker role over a
// workload resource (the node agents that may get its identities' tokens), from the role
// assignments the person can read there.
func (c *apiClient) tokenBrokers(ctx context.Context, workload string) string {
	id, err := armid.ParseScope(workload)
	if err != nil || !id.IsResource() {
		return ""
	}
	list, err := listAll[roleAssignment](ctx, c, id.String()+"/providers/Microsoft.Authorization/roleAssignments", versionQ(apiAuthz), 5000)
	if err != nil {
		return "(role assignments not readable: " + asAPIError(err).Code + ")"
	}
	var ids []string
	for _, a := range list {
		if strings.EqualFold(roleGUID(a.Properties.RoleDefinitionID), rbac.TokenBrokerRoleID) && scopeCovers(a.Properties.Scope, id.String()) {
			ids = append(ids, a.Properties.PrincipalID)
		}
	}
	if len(ids) == 0 {
		return "none holds the broker role now"
	}
	names := c.resolvePrincipals(ctx, ids, map[string]string{}, id.SubscriptionID)
	var out []string
	for _, pid := range ids {
		n := names[strings.ToLower(pid)].Name
		if n == "" || n == "Identity not found" {
			n = pid
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// reachRow is one principal that can read the vault's secrets.
type reachRow struct {
	PrincipalID, Name, Type, Detail string
	Role, Scope, ScopeHref, Via     string
}

type reachData struct {
	Action   string
	Rows     []reachRow
	Denied   []reachRow // members of assigned groups, or assignees, whom the explainer denies
	Checked  int
	Capped   bool
	Policies bool // the vault uses access policies, not RBAC
}

// getSecretAction is the data action reading a secret's value needs.
const getSecretAction = "Microsoft.KeyVault/vaults/secrets/getSecret/action"

// maxReachPrincipals bounds how many principals one page asks the explainer about.
const maxReachPrincipals = 200

// reachExplanation is the part of explainAccess's answer the page uses.
type reachExplanation struct {
	Allowed   bool `json:"allowed"`
	GrantedBy *struct {
		RoleName string `json:"roleName"`
		Scope    string `json:"scope"`
		Via      string `json:"via"`
	} `json:"grantedBy"`
	Summary string `json:"summary"`
}

func (p *Portal) vaultReach(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	c := p.api(s)
	ctx := r.Context()
	d := &reachData{Action: getSecretAction}
	pg := page{Title: "Who can read secrets", Blade: newBlade(id, "reach"), Data: d}
	if !strings.EqualFold(id.ResourceType(), "Microsoft.KeyVault/vaults") {
		pg.Error = &APIError{Status: http.StatusNotFound, Code: "NotAVault", Message: "Only key vaults have secrets."}
		p.render(w, r, s, http.StatusNotFound, "reach", pg)
		return
	}
	var v vaultResource
	if err := c.get(ctx, id, &v); err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, statusOf(err), "reach", pg)
		return
	}
	d.Policies = !v.Properties.EnableRbacAuthorization
	assignments, err := listAll[roleAssignment](ctx, c, id.String()+"/providers/Microsoft.Authorization/roleAssignments", versionQ(apiAuthz), 5000)
	if err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, statusOf(err), "reach", pg)
		return
	}
	// The principals to ask about: every assignee, and the members of assigned groups.
	var ids []string
	types := map[string]string{}
	seen := map[string]bool{}
	addID := func(pid, typ string) {
		k := strings.ToLower(pid)
		if _, err := uuid.Parse(k); err != nil || seen[k] {
			return
		}
		if len(ids) >= maxReachPrincipals {
			d.Capped = true
			return
		}
		seen[k] = true
		ids = append(ids, k)
		if typ != "" {
			types[k] = typ
		}
	}
	for _, a := range assignments {
		if !scopeCovers(a.Properties.Scope, id.String()) {
			continue // assigned below the vault (a single secret): not a reach to every secret
		}
		addID(a.Properties.PrincipalID, a.Properties.PrincipalType)
		if a.Properties.PrincipalType == "Group" {
			var l struct {
				Value []struct {
					ID   string `json:"id"`
					Type string `json:"@odata.type"`
				} `json:"value"`
			}
			if _, err := c.do(ctx, ScopeGraph, http.MethodGet, "/v1.0/groups/"+url.PathEscape(a.Properties.PrincipalID)+"/transitiveMembers", nil, &l); err == nil {
				for _, m := range l.Value {
					typ := ""
					switch strings.ToLower(strings.TrimPrefix(m.Type, "#microsoft.graph.")) {
					case "user":
						typ = "User"
					case "group":
						typ = "Group"
					case "serviceprincipal":
						typ = "ServicePrincipal"
					}
					addID(m.ID, typ)
				}
			}
		}
	}
	names := c.resolvePrincipals(ctx, ids, types, id.SubscriptionID)
	for _, pid := range ids {
		if types[pid] == "Group" {
			continue // a group reads nothing itself; its members are asked about
		}
		body := map[string]any{"principalId": pid, "dataAction": getSecretAction}
		var x reachExplanation
		if _, err := c.arm(ctx, http.MethodPost, id.String()+"/providers/Microsoft.Authorization/explainAccess", versionQ(apiAuthz), body, &x); err != nil {
			pg.Error = asAPIError(err)
			break
		}
		d.Checked++
		pr := names[pid]
		row := reachRow{PrincipalID: pid, Name: pr.Name, Type: pr.Type, Detail: pr.Detail}
		if row.Name == "" {
			row.Name = pid
		}
		if x.Allowed && x.GrantedBy != nil {
			row.Role, row.Scope, row.Via = x.GrantedBy.RoleName, x.GrantedBy.Scope, x.GrantedBy.Via
			row.ScopeHref = resourcePath(x.GrantedBy.Scope)
			d.Rows = append(d.Rows, row)
		} else {
			row.Via = x.Summary
			d.Denied = append(d.Denied, row)
		}
	}
	sort.SliceStable(d.Rows, func(i, j int) bool { return strings.ToLower(d.Rows[i].Name) < strings.ToLower(d.Rows[j].Name) })
	p.render(w, r, s, statusForPage(pg), "reach", pg)
}

// scopeCovers reports whether an assignment at scope applies at target (the same scope or an
// ancestor), comparing ARM ids case-insensitively segment by segment.
func scopeCovers(scope, target string) bool {
	s := strings.ToLower(strings.TrimSuffix(scope, "/"))
	t := strings.ToLower(strings.TrimSuffix(target, "/"))
	return s == "" || s == t || strings.HasPrefix(t, s+"/")
}
