package rbac

import (
	"strconv"
	"strings"
)

// Assignment is an Azure role assignment: PrincipalID holds RoleDefinitionID at Scope and below.
type Assignment struct {
	ID               string // GUID (the ARM name)
	Scope            string
	PrincipalID      string
	RoleDefinitionID string // the role's GUID; a full role definition id is accepted too
	PrincipalType    string // User, Group, ServicePrincipal or ForeignGroup
	// Condition and ConditionVersion are the assignment's ABAC condition. mint does not evaluate
	// conditions yet: an assignment with one grants nothing.
	Condition        string
	ConditionVersion string
}

// Query asks whether PrincipalID may perform Action at Scope. DataAction selects the data plane
// (DataActions/NotDataActions) instead of the control plane (Actions/NotActions).
type Query struct {
	PrincipalID string
	Action      string
	Scope       string
	DataAction  bool
	// Groups are the groups PrincipalID belongs to, directly or through nested groups. Azure RBAC
	// evaluates transitive membership: a group's assignments count as its members'.
	Groups []Membership
}

// Membership is one group a principal belongs to.
type Membership struct {
	GroupID string
	// Path names the nesting for explanations, outermost first: Path[0] is this group, the last
	// element the group the principal is a direct member of. Display names, or ids.
	Path []string
}

// holder returns whether the query's principal holds assignments made to principalID (its own,
// or a group's it belongs to), and the membership when through a group.
func (q *Query) holder(principalID string) (bool, *Membership) {
	if equalFoldASCII(principalID, q.PrincipalID) {
		return true, nil
	}
	for i := range q.Groups {
		if equalFoldASCII(principalID, q.Groups[i].GroupID) {
			return true, &q.Groups[i]
		}
	}
	return false, nil
}

// ViaWords says through which groups an assignment is held: "group A ⊃ B" ("" for the
// principal's own).
func (m *Membership) ViaWords() string {
	if m == nil {
		return ""
	}
	var b strings.Builder
	b.Grow(m.viaLen())
	m.writeVia(&b)
	return b.String()
}

// viaLen is the length of ViaWords.
func (m *Membership) viaLen() int {
	if len(m.Path) == 0 {
		return len("group ") + len(m.GroupID)
	}
	n := len("group ") + len(" ⊃ ")*(len(m.Path)-1)
	for _, p := range m.Path {
		n += len(p)
	}
	return n
}

// writeVia writes ViaWords into b: a decision through a group words it without the two
// allocations of joining the path first.
func (m *Membership) writeVia(b *strings.Builder) {
	b.WriteString("group ")
	if len(m.Path) == 0 {
		b.WriteString(m.GroupID)
		return
	}
	for i, p := range m.Path {
		if i > 0 {
			b.WriteString(" ⊃ ")
		}
		b.WriteString(p)
	}
}

// Decision is the answer to a Query.
type Decision struct {
	Allowed bool
	// GrantedBy is the assignment that grants the action, and RoleName its role's name. When
	// several do, the one at the most specific scope wins, then the lowest assignment id.
	GrantedBy *Assignment
	RoleName  string
	// Reason says why, in words a user can act on.
	Reason string
}

// Decide evaluates q against assignments, of which only those of q.PrincipalID (or of one of
// q.Groups) whose scope covers q.Scope count. Access is the union of what their roles grant. roles resolves role definition
// GUIDs; nil means the built-in roles only.
func Decide(q Query, roles RoleLookup, assignments []Assignment) Decision {
	d := evaluate(q, roles, assignments)
	return d.decision()
}

// Allows is Decide(q, roles, assignments).Allowed without the decision's words: for callers that
// only need the verdict on a hot path (every vault GET), where building the reason and copying the
// granting assignment would cost more than the evaluation itself. It evaluates exactly as Decide
// does (same decider), so the two never disagree.
func Allows(q Query, roles RoleLookup, assignments []Assignment) bool {
	d := evaluate(q, roles, assignments)
	return d.invalid == "" && d.found
}

// evaluate runs q over assignments: Decide and Allows read the same decider.
func evaluate(q Query, roles RoleLookup, assignments []Assignment) decider {
	if roles == nil {
		roles = builtinLookupFn
	}
	d := newDecider(q, roles)
	if d.invalid != "" {
		return d
	}
	for i := range assignments {
		a := &assignments[i]
		if ok, _ := q.holder(a.PrincipalID); !ok {
			continue
		}
		d.total++
		if ScopeCovers(a.Scope, q.Scope) {
			d.consider(a)
		}
	}
	return d
}

// decider accumulates the covering assignments of one principal for one query.
type decider struct {
	q       Query
	roles   RoleLookup
	invalid string

	total    int // the principal's assignments
	covering int // of those, the ones whose scope covers the target

	best      Assignment
	bestRole  string
	bestDepth int
	found     bool

	// The example named in a denial for each kind of near miss: the one with the lowest id, so
	// that the reason does not depend on the order assignments are seen in.
	condID, condExample       string // would grant but for a condition
	unknownID, unknownExample string // refers to a role definition the lookup does not know
}

func newDecider(q Query, roles RoleLookup) decider {
	d := decider{q: q, roles: roles}
	switch {
	case strings.TrimSpace(q.PrincipalID) == "":
		d.invalid = "no principal id in the query"
	case strings.TrimSpace(q.Action) == "":
		d.invalid = "no action in the query"
	}
	return d
}

// consider takes one of the principal's assignments whose scope covers the target.
func (d *decider) consider(a *Assignment) {
	d.covering++
	role, ok := d.roles(RoleDefinitionGUID(a.RoleDefinitionID))
	if !ok {
		if d.unknownExample == "" || compareFoldASCII(a.ID, d.unknownID) < 0 {
			d.unknownID = a.ID
			d.unknownExample = "assignment " + a.ID + " refers to role definition " + a.RoleDefinitionID + ", which does not exist"
		}
		return
	}
	grants, conditional := roleGrants(&role, d.q.Action, d.q.DataAction)
	if grants && a.Condition != "" {
		grants, conditional = false, true
	}
	if !grants {
		if conditional && (d.condExample == "" || compareFoldASCII(a.ID, d.condID) < 0) {
			d.condID = a.ID
			d.condExample = "assignment " + a.ID + " (" + role.RoleName + ") would grant it but has a condition, which mint does not evaluate yet"
		}
		return
	}
	depth := scopeDepth(a.Scope)
	if !d.found || depth > d.bestDepth || (depth == d.bestDepth && compareFoldASCII(a.ID, d.best.ID) < 0) {
		d.best, d.bestRole, d.bestDepth, d.found = *a, role.RoleName, depth, true
	}
}

func (d *decider) decision() Decision {
	if d.invalid != "" {
		return Decision{Reason: d.invalid}
	}
	var b strings.Builder
	if d.found {
		granted := d.best
		scope := cleanScope(granted.Scope)
		_, via := d.q.holder(granted.PrincipalID)
		n := 64 + len(d.bestRole) + len(d.q.PrincipalID) + len(scope) + len(granted.ID) + len(d.q.Action)
		if via != nil {
			n += 48 + via.viaLen()
		}
		b.Grow(n)
		b.WriteString("role ")
		writeQuoted(&b, d.bestRole)
		if via != nil {
			b.WriteString(" assigned to ")
			via.writeVia(&b)
			b.WriteString(", of which principal ")
			b.WriteString(d.q.PrincipalID)
			b.WriteString(" is a member,")
		} else {
			b.WriteString(" assigned to principal ")
			b.WriteString(d.q.PrincipalID)
		}
		b.WriteString(" at ")
		b.WriteString(scope)
		b.WriteString(" (assignment ")
		b.WriteString(granted.ID)
		b.WriteString(") grants ")
		b.WriteString(d.q.Action)
		return Decision{Allowed: true, GrantedBy: &granted, RoleName: d.bestRole, Reason: b.String()}
	}
	scope := cleanScope(d.q.Scope)
	b.Grow(128 + len(d.q.PrincipalID) + len(d.q.Action) + len(scope) + len(d.condExample) + len(d.unknownExample))
	writeDeniedSentence(&b, &d.q, scope)
	switch {
	case d.total == 0:
		b.WriteString("; it has no role assignments")
	case d.covering == 0:
		b.WriteString("; none of its ")
		b.WriteString(strconv.Itoa(d.total))
		b.WriteString(" role assignment(s) is at or above this scope")
	default:
		b.WriteString("; its ")
		b.WriteString(strconv.Itoa(d.covering))
		b.WriteString(" role assignment(s) at or above this scope do not grant it")
	}
	if d.condExample != "" {
		b.WriteString("; ")
		b.WriteString(d.condExample)
	}
	if d.unknownExample != "" {
		b.WriteString("; ")
		b.WriteString(d.unknownExample)
	}
	return Decision{Reason: b.String()}
}

// writeDeniedSentence writes the sentence every denial starts with (mint's own, beyond Azure): "principal <id>
// has no role granting <action> at <scope>".
func writeDeniedSentence(b *strings.Builder, q *Query, scope string) {
	b.WriteString("principal ")
	b.WriteString(q.PrincipalID)
	b.WriteString(" has no role granting ")
	b.WriteString(q.Action)
	b.WriteString(" at ")
	b.WriteString(scope)
}

// writeQuoted writes s as %q would, without fmt's allocations in the common case.
func writeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b.WriteString(strconv.Quote(s))
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// roleGrants reports whether the role grants action through a block without a condition, and
// whether a block with a condition would have granted it.
func roleGrants(r *RoleDefinition, action string, dataAction bool) (grants, conditional bool) {
	for i := range r.Permissions {
		p := &r.Permissions[i]
		if !permissionGrants(p, action, dataAction) {
			continue
		}
		if p.Condition != "" {
			conditional = true
			continue
		}
		return true, false
	}
	return false, conditional
}
