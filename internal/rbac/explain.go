package rbac

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ExplainedAssignment is one of the principal's assignments as it bears on a query.
type ExplainedAssignment struct {
	Assignment Assignment
	RoleName   string // empty when the role definition does not exist
	// CoversScope: the assignment's scope is the target or above it.
	CoversScope bool
	// GrantsAction: the role grants the action wherever it is assigned, conditions aside.
	GrantsAction bool
	// Conditional: the role would grant the action but a condition (on the assignment or the
	// role's permission block) keeps it from doing so, because mint does not evaluate conditions.
	Conditional bool
	// Note says in words why this assignment does or does not grant the action.
	Note string
	// Via, for an assignment made to a group the principal belongs to, names the nesting
	// ("group A ⊃ B"); empty for the principal's own assignments.
	Via string
}

// RoleSuggestion is a role that would allow a denied query if assigned at Scope.
type RoleSuggestion struct {
	RoleID   string
	RoleName string
	Scope    string
}

// Explanation answers "can principal P do action A at scope S, and why or why not": mint's
// access explainer, which Azure does not have.
type Explanation struct {
	Query   Query
	Allowed bool
	// GrantedBy, when allowed: every assignment that grants the action at the target, the most
	// specific scope first. GrantedBy[0] is the one Decide reports.
	GrantedBy []ExplainedAssignment
	// Closest, when denied: the principal's assignments nearest to granting, best first: those
	// held back only by a condition, those that grant the action at a scope that does not cover
	// the target, then those that cover the target without granting the action; nearer scopes
	// first within each group. At most 10.
	Closest []ExplainedAssignment
	// MissingAction, when denied, is the action no role grants.
	MissingAction string
	// Suggestion, when denied, is the least-privileged of the given built-in roles that grants the
	// action, to be assigned at the target scope; nil if none grants it.
	Suggestion *RoleSuggestion
	// Summary is one sentence a user can act on.
	Summary string
}

const (
	maxClosest        = 10
	maxClosestInWords = 3
)

// Explain evaluates q like Decide and says why. builtins are the roles a suggestion is chosen
// from (usually BuiltinRoles()); roles resolves the assignments' role definitions, nil meaning the
// built-in roles only.
func Explain(q Query, roles RoleLookup, assignments []Assignment, builtins []RoleDefinition) Explanation {
	if roles == nil {
		roles = builtinLookupFn
	}
	e := Explanation{Query: q}
	d := newDecider(q, roles)
	if d.invalid != "" {
		e.Summary = d.invalid
		return e
	}
	var all []ExplainedAssignment
	for i := range assignments {
		a := &assignments[i]
		if ok, via := q.holder(a.PrincipalID); ok {
			x := explainOne(&q, roles, a)
			x.Via = via.ViaWords()
			all = append(all, x)
		}
	}
	for _, x := range all {
		if x.CoversScope && x.GrantsAction && !x.Conditional {
			e.GrantedBy = append(e.GrantedBy, x)
		}
	}
	if len(e.GrantedBy) > 0 {
		e.Allowed = true
		slices.SortStableFunc(e.GrantedBy, func(x, y ExplainedAssignment) int {
			if c := cmp.Compare(scopeDepth(y.Assignment.Scope), scopeDepth(x.Assignment.Scope)); c != 0 {
				return c
			}
			return compareFoldASCII(x.Assignment.ID, y.Assignment.ID)
		})
		g := e.GrantedBy[0]
		e.Summary = fmt.Sprintf("principal %s may perform %s at %s: %q assigned at %s (assignment %s)",
			q.PrincipalID, q.Action, cleanScope(q.Scope), g.RoleName, cleanScope(g.Assignment.Scope), g.Assignment.ID)
		if g.Via != "" {
			e.Summary += ", through " + g.Via
		}
		if n := len(e.GrantedBy) - 1; n > 0 {
			e.Summary += fmt.Sprintf(", and %d more assignment(s)", n)
		}
		return e
	}

	e.MissingAction = q.Action
	for _, x := range all {
		if x.CoversScope || x.GrantsAction || x.Conditional {
			e.Closest = append(e.Closest, x)
		}
	}
	slices.SortStableFunc(e.Closest, func(x, y ExplainedAssignment) int {
		if c := cmp.Compare(closenessRank(x), closenessRank(y)); c != 0 {
			return c
		}
		if c := cmp.Compare(sharedDepth(y.Assignment.Scope, q.Scope), sharedDepth(x.Assignment.Scope, q.Scope)); c != 0 {
			return c
		}
		if c := cmp.Compare(scopeDepth(y.Assignment.Scope), scopeDepth(x.Assignment.Scope)); c != 0 {
			return c
		}
		return compareFoldASCII(x.Assignment.ID, y.Assignment.ID)
	})
	nearMisses := len(e.Closest)
	if len(e.Closest) > maxClosest {
		e.Closest = e.Closest[:maxClosest]
	}
	if r, ok := leastPrivileged(builtins, &q); ok {
		e.Suggestion = &RoleSuggestion{RoleID: r.ID, RoleName: r.RoleName, Scope: cleanScope(q.Scope)}
	}

	var b strings.Builder
	writeDeniedSentence(&b, &q, cleanScope(q.Scope))
	switch {
	case len(e.Closest) > 0:
		b.WriteString("; closest assignments: ")
		for i, x := range e.Closest {
			if i == maxClosestInWords {
				fmt.Fprintf(&b, " and %d more", nearMisses-i)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(closestInWords(&x))
		}
	case len(all) > 0:
		fmt.Fprintf(&b, "; none of its %d role assignment(s) is at or above this scope or grants this action", len(all))
	default:
		b.WriteString("; it has no role assignments")
	}
	if e.Suggestion != nil {
		fmt.Fprintf(&b, "; assign %q at %s to allow it", e.Suggestion.RoleName, e.Suggestion.Scope)
	} else {
		b.WriteString("; no built-in role grants it")
	}
	e.Summary = b.String()
	return e
}

func explainOne(q *Query, roles RoleLookup, a *Assignment) ExplainedAssignment {
	x := ExplainedAssignment{Assignment: *a, CoversScope: ScopeCovers(a.Scope, q.Scope)}
	role, ok := roles(RoleDefinitionGUID(a.RoleDefinitionID))
	if !ok {
		x.Note = fmt.Sprintf("role definition %s does not exist", a.RoleDefinitionID)
		return x
	}
	x.RoleName = role.RoleName
	grants, conditional := roleGrants(&role, q.Action, q.DataAction)
	if grants && a.Condition != "" {
		conditional = true
	}
	x.GrantsAction = grants || conditional
	x.Conditional = conditional
	switch {
	case x.Conditional:
		x.Note = fmt.Sprintf("%s would grant %s but carries a condition, which mint does not evaluate yet", role.RoleName, q.Action)
	case x.GrantsAction && !x.CoversScope:
		x.Note = fmt.Sprintf("%s grants %s at %s, which does not include %s", role.RoleName, q.Action, cleanScope(a.Scope), cleanScope(q.Scope))
	case x.GrantsAction:
		x.Note = fmt.Sprintf("%s grants %s at %s", role.RoleName, q.Action, cleanScope(a.Scope))
	default:
		x.Note = lacksNote(&role, q)
	}
	return x
}

// lacksNote says why a role does not grant the action.
func lacksNote(r *RoleDefinition, q *Query) string {
	if q.DataAction {
		if g, _ := roleGrants(r, q.Action, false); g {
			return fmt.Sprintf("%s grants control-plane actions only; %s is a data action, which only dataActions grant", r.RoleName, q.Action)
		}
	}
	for i := range r.Permissions {
		p := &r.Permissions[i]
		allow, deny, denyName := p.Actions, p.NotActions, "notActions"
		if q.DataAction {
			allow, deny, denyName = p.DataActions, p.NotDataActions, "notDataActions"
		}
		if !anyMatches(allow, q.Action) {
			continue
		}
		for _, pat := range deny {
			if ActionMatches(pat, q.Action) {
				return fmt.Sprintf("%s excludes %s (%s %s)", r.RoleName, q.Action, denyName, pat)
			}
		}
	}
	return fmt.Sprintf("%s does not include %s", r.RoleName, q.Action)
}

func closenessRank(x ExplainedAssignment) int {
	switch {
	case x.Conditional && x.CoversScope:
		return 0
	case x.GrantsAction && !x.CoversScope:
		return 1
	default:
		return 2
	}
}

func closestInWords(x *ExplainedAssignment) string {
	name := x.RoleName
	if name == "" {
		name = "role definition " + x.Assignment.RoleDefinitionID + " (missing)"
	}
	s := name + " at " + cleanScope(x.Assignment.Scope)
	if x.Via != "" {
		s += " through " + x.Via
	}
	switch {
	case x.Conditional:
		s += " (held back by a condition)"
	case x.GrantsAction && !x.CoversScope:
		s += " (grants it, but not at this scope)"
	}
	return s
}

// leastPrivileged picks, among the roles in builtins that grant q's action, the one that grants
// the least. "Least" is measured, not guessed: each candidate is scored by how many actions of a
// sample set it grants, where the sample set holds every action the built-ins name (wildcards
// instantiated), common ARM and Key Vault operations, and the queried action. Owner's "*" thus
// scores as broad as it is, while "Key Vault Secrets User" scores 2. Ties go to the role with
// fewer permission entries, then to the name.
func leastPrivileged(builtins []RoleDefinition, q *Query) (RoleDefinition, bool) {
	var candidates []*RoleDefinition
	for i := range builtins {
		if g, _ := roleGrants(&builtins[i], q.Action, q.DataAction); g {
			candidates = append(candidates, &builtins[i])
		}
	}
	switch len(candidates) {
	case 0:
		return RoleDefinition{}, false
	case 1:
		return *candidates[0], true
	}
	// For reading, the role a person picks is Reader, even where a specialised role (Managed
	// Identity Operator for roleAssignments/read, say) grants fewer actions: suggesting the
	// operator role for a read would mislead.
	if !q.DataAction && strings.HasSuffix(strings.ToLower(q.Action), "/read") {
		for _, r := range candidates {
			if r.RoleName == "Reader" {
				return *r, true
			}
		}
	}
	control, data := sampleActions(builtins, q)
	type scored struct {
		r              *RoleDefinition
		breadth, terms int
	}
	s := make([]scored, len(candidates))
	for i, r := range candidates {
		s[i] = scored{r: r, terms: permissionTerms(r)}
		for _, a := range control {
			if g, _ := roleGrants(r, a, false); g {
				s[i].breadth++
			}
		}
		for _, a := range data {
			if g, _ := roleGrants(r, a, true); g {
				s[i].breadth++
			}
		}
	}
	best := slices.MinFunc(s, func(x, y scored) int {
		if c := cmp.Compare(x.breadth, y.breadth); c != 0 {
			return c
		}
		if c := cmp.Compare(x.terms, y.terms); c != 0 {
			return c
		}
		return strings.Compare(x.r.RoleName, y.r.RoleName)
	})
	return *best.r, true
}

func permissionTerms(r *RoleDefinition) int {
	n := 0
	for _, p := range r.Permissions {
		n += len(p.Actions) + len(p.NotActions) + len(p.DataActions) + len(p.NotDataActions)
	}
	return n
}

// sampleControlActions and sampleDataActions are operations users commonly need, so that breadth
// is measured on more than the built-ins' own vocabulary.
var (
	sampleControlActions = []string{
		"Microsoft.Resources/subscriptions/read",
		"Microsoft.Resources/subscriptions/resourceGroups/read",
		"Microsoft.Resources/subscriptions/resourceGroups/write",
		"Microsoft.Resources/subscriptions/resourceGroups/delete",
		"Microsoft.Resources/deployments/write",
		"Microsoft.Authorization/roleAssignments/read",
		"Microsoft.Authorization/roleAssignments/write",
		"Microsoft.Authorization/roleAssignments/delete",
		"Microsoft.Authorization/roleDefinitions/read",
		"Microsoft.Authorization/roleDefinitions/write",
		"Microsoft.Authorization/roleDefinitions/delete",
		"Microsoft.ManagedIdentity/identities/read",
		"Microsoft.ManagedIdentity/userAssignedIdentities/read",
		"Microsoft.ManagedIdentity/userAssignedIdentities/write",
		"Microsoft.ManagedIdentity/userAssignedIdentities/delete",
		AssignUserAssignedIdentityAction,
		"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
		"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
		"Microsoft.KeyVault/vaults/read",
		"Microsoft.KeyVault/vaults/write",
		"Microsoft.KeyVault/vaults/delete",
		"Microsoft.KeyVault/vaults/secrets/read",
		"Microsoft.KeyVault/vaults/secrets/write",
		"Microsoft.KeyVault/locations/deletedVaults/purge/action",
		"Microsoft.Compute/virtualMachines/read",
		"Microsoft.Compute/virtualMachines/write",
		"Microsoft.Compute/virtualMachines/delete",
		"Microsoft.App/containerApps/read",
		"Microsoft.App/containerApps/write",
		"Microsoft.App/containerApps/delete",
		"Microsoft.Web/sites/read",
		"Microsoft.Web/sites/write",
		"Microsoft.Storage/storageAccounts/read",
		"Microsoft.Storage/storageAccounts/write",
		"Microsoft.Storage/storageAccounts/listKeys/action",
	}
	sampleDataActions = []string{
		"Microsoft.KeyVault/vaults/secrets/getSecret/action",
		"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
		"Microsoft.KeyVault/vaults/secrets/setSecret/action",
		"Microsoft.KeyVault/vaults/secrets/update/action",
		"Microsoft.KeyVault/vaults/secrets/delete",
		"Microsoft.KeyVault/vaults/secrets/recover/action",
		"Microsoft.KeyVault/vaults/secrets/purge/action",
		"Microsoft.KeyVault/vaults/secrets/backup/action",
		"Microsoft.KeyVault/vaults/secrets/restore/action",
		"Microsoft.KeyVault/vaults/secrets/rotate/action",
		"Microsoft.KeyVault/vaults/keys/read",
		"Microsoft.KeyVault/vaults/certificates/read",
		"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
		"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
		"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
		IssueTokenDataAction,
	}
)

// sampleActions returns the control-plane and data-plane sample sets for leastPrivileged: the
// fixed samples, every pattern of the given roles with each "*" made a concrete segment, and the
// queried action.
func sampleActions(roles []RoleDefinition, q *Query) (control, data []string) {
	seen := make(map[string]bool)
	add := func(list *[]string, plane string, a string) {
		k := plane + asciiLower(a)
		if !seen[k] {
			seen[k] = true
			*list = append(*list, a)
		}
	}
	for _, a := range sampleControlActions {
		add(&control, "c", a)
	}
	for _, a := range sampleDataActions {
		add(&data, "d", a)
	}
	for _, r := range roles {
		for _, p := range r.Permissions {
			for _, l := range [][]string{p.Actions, p.NotActions} {
				for _, pat := range l {
					add(&control, "c", strings.ReplaceAll(pat, "*", "x"))
				}
			}
			for _, l := range [][]string{p.DataActions, p.NotDataActions} {
				for _, pat := range l {
					add(&data, "d", strings.ReplaceAll(pat, "*", "x"))
				}
			}
		}
	}
	if q.DataAction {
		add(&data, "d", q.Action)
	} else {
		add(&control, "c", q.Action)
	}
	return control, data
}
