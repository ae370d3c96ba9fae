package identityblock

import (
	"strings"

	"github.com/mint-id/mint/internal/armid"
)

// State is the identities a resource has: whether its system-assigned identity is enabled, and
// the IDs of its user-assigned identities (canonical spelling, unique ignoring case, in the order
// they were attached).
type State struct {
	System       bool
	UserAssigned []string
}

// Type returns the identity type State amounts to.
func (s State) Type() Type {
	var t Type
	if s.System {
		t |= SystemAssigned
	}
	if len(s.UserAssigned) > 0 {
		t |= UserAssigned
	}
	return t
}

// Has reports whether id is one of s's user-assigned identities, ignoring case.
func (s State) Has(id string) bool {
	k := key(id)
	for _, u := range s.UserAssigned {
		if key(u) == k {
			return true
		}
	}
	return false
}

// Change is the outcome of Apply: the new State and what the caller must do to get there.
type Change struct {
	New State
	// EnableSystem: create a system-assigned principal (a re-enabled identity is a new principal).
	// DisableSystem: delete it.
	EnableSystem, DisableSystem bool
	// Attach lists user-assigned identities to attach (the caller checks each exists and that the
	// caller may assign it), Detach the ones to detach; both in canonical spelling.
	Attach, Detach []string
}

// Changed reports whether the change does anything.
func (c Change) Changed() bool {
	return c.EnableSystem || c.DisableSystem || len(c.Attach) > 0 || len(c.Detach) > 0
}

// key is the comparison key of a user-assigned identity ID.
func key(id string) string {
	if p, err := armid.Parse(id); err == nil {
		return p.Lower()
	}
	return strings.ToLower(id)
}

// Apply applies req to a resource whose identities are current.
//
// PUT (isPatch false) replaces everything: the result is exactly the request's type and keys.
// PATCH replaces the type but merges the map into the current one: a key with an object value
// attaches (or keeps) that identity, a key with null detaches it, keys not sent are kept. A type
// without UserAssigned drops every user-assigned identity, on PUT and PATCH alike.
//
// Keys are compared ignoring case; when a request names one identity more than once in different
// case, the last value wins. Errors (all *Error, HTTP 400), in the order checked:
// InvalidIdentityId listing every malformed key; BadRequest when keys with object values come
// with type None or SystemAssigned; MissingIdentityIds when the type includes UserAssigned but no
// identity would be left. Keys with null values are accepted with any type, and null for an
// identity that is not attached is a no-op.
func Apply(current State, req Request, isPatch bool) (Change, error) {
	// Collapse request entries: first position, last value.
	type want struct {
		id     string
		remove bool
	}
	var order []string
	wanted := map[string]*want{}
	var bad []string
	seenBad := map[string]bool{}
	for _, e := range req.UserAssigned {
		id, err := armid.ParseUserAssignedIdentityID(e.ID)
		if err != nil {
			if !seenBad[e.ID] {
				seenBad[e.ID] = true
				bad = append(bad, e.ID)
			}
			continue
		}
		k := id.Lower()
		if w, ok := wanted[k]; ok {
			w.id, w.remove = id.String(), e.Remove
			continue
		}
		order = append(order, k)
		wanted[k] = &want{id: id.String(), remove: e.Remove}
	}
	if len(bad) > 0 {
		e := armid.InvalidIdentityIDs(bad)
		return Change{}, &Error{Code: e.Code, Message: e.Message}
	}

	// Current identities, deduplicated defensively.
	var curOrder []string
	cur := map[string]string{}
	for _, id := range current.UserAssigned {
		k := key(id)
		if _, ok := cur[k]; !ok {
			cur[k] = id
			curOrder = append(curOrder, k)
		}
	}

	var next []string
	if !req.Type.HasUser() {
		for _, k := range order {
			if !wanted[k].remove {
				return Change{}, unexpectedUserAssigned()
			}
		}
	} else {
		kept := map[string]bool{}
		if isPatch {
			for _, k := range curOrder {
				if w, ok := wanted[k]; ok && w.remove {
					continue
				}
				kept[k] = true
				next = append(next, cur[k])
			}
		}
		for _, k := range order {
			w := wanted[k]
			if w.remove || kept[k] {
				continue
			}
			kept[k] = true
			if id, ok := cur[k]; ok {
				next = append(next, id) // keep the spelling it was attached with
			} else {
				next = append(next, w.id)
			}
		}
		if len(next) == 0 {
			return Change{}, missingIdentityIDs(req.Type)
		}
	}

	ch := Change{New: State{System: req.Type.HasSystem(), UserAssigned: next}}
	ch.EnableSystem = !current.System && ch.New.System
	ch.DisableSystem = current.System && !ch.New.System
	inNext := map[string]bool{}
	for _, id := range next {
		k := key(id)
		inNext[k] = true
		if _, ok := cur[k]; !ok {
			ch.Attach = append(ch.Attach, id)
		}
	}
	for _, k := range curOrder {
		if !inNext[k] {
			ch.Detach = append(ch.Detach, cur[k])
		}
	}
	return ch, nil
}

// NewIdentity returns the wire identity block for s as the resource provider provider spells it
// (see Canonical), with an empty entry per user-assigned identity for the caller to fill in, as
// it fills PrincipalID and TenantID for a system-assigned identity.
func NewIdentity(s State, provider string) Identity {
	out := Identity{Type: Canonical(s.Type(), provider)}
	if len(s.UserAssigned) > 0 {
		out.UserAssignedIdentities = make(map[string]*UserAssignedIdentity, len(s.UserAssigned))
		for _, id := range s.UserAssigned {
			out.UserAssignedIdentities[id] = &UserAssignedIdentity{}
		}
	}
	return out
}
