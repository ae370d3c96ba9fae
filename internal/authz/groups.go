package authz

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

// MemberOfStore is what transitive group membership needs.
type MemberOfStore interface {
	ListMemberOf(ctx context.Context, memberID string) ([]store.GroupMember, error)
}

// MaxTransitiveGroups bounds how many groups one principal's expansion visits, so that a
// pathological directory cannot make a single authorization walk without end.
const MaxTransitiveGroups = 2048

// TransitiveGroups lists every group principalID belongs to, directly or through nested groups,
// breadth first (nearest groups first), each once: cycles, which Entra allows, end the walk.
// Each membership's Path holds group ids, outermost first (see rbac.Membership).
//
// A store that can (store.Store's ListMemberOfAny) is asked once per level of nesting for the
// memberships of the whole level, rather than once per group: 50 nested groups in a few reads,
// not 51. The result is the same as asking one group at a time.
func TransitiveGroups(ctx context.Context, st MemberOfStore, principalID string) ([]rbac.Membership, error) {
	principalID = strings.ToLower(principalID)
	seen := map[string]bool{principalID: true}
	var out []rbac.Membership
	// Each queue entry is a principal or group whose own groups are still to be listed, with the
	// path that reached it (inner-most last).
	type step struct {
		id   string
		path []string // group ids from the one found first (nearest the principal) outwards
	}
	batch, batched := st.(memberOfAnyStore)
	level := []step{{id: principalID}}
	for len(level) > 0 && len(out) < MaxTransitiveGroups {
		var byMember map[string][]store.GroupMember
		if batched {
			var err error
			if byMember, err = memberOfLevel(ctx, batch, level, func(s step) string { return s.id }); err != nil {
				return nil, err
			}
		}
		var next []step
		for _, cur := range level {
			if len(out) >= MaxTransitiveGroups {
				break
			}
			var ms []store.GroupMember
			if batched {
				ms = byMember[cur.id]
			} else {
				var err error
				if ms, err = st.ListMemberOf(ctx, cur.id); err != nil {
					return nil, fmt.Errorf("groups of %s: %w", cur.id, err)
				}
			}
			for _, m := range ms {
				gid := strings.ToLower(m.GroupID)
				if seen[gid] {
					continue
				}
				seen[gid] = true
				inner := append(append([]string(nil), cur.path...), gid)
				outer := make([]string, len(inner))
				for i := range inner {
					outer[i] = inner[len(inner)-1-i]
				}
				out = append(out, rbac.Membership{GroupID: gid, Path: outer})
				next = append(next, step{id: gid, path: inner})
			}
		}
		level = next
	}
	return out, nil
}

// memberOfAnyStore reads the memberships of many members at once (store.Store has it).
type memberOfAnyStore interface {
	ListMemberOfAny(ctx context.Context, memberIDs []string) ([]store.GroupMember, error)
}

// memberOfLevel reads the direct memberships of a level's members, store.MaxBatchIDs at a time,
// by lower-cased member id.
func memberOfLevel[T any](ctx context.Context, st memberOfAnyStore, level []T, id func(T) string) (map[string][]store.GroupMember, error) {
	out := make(map[string][]store.GroupMember, len(level))
	for start := 0; start < len(level); start += store.MaxBatchIDs {
		ids := make([]string, 0, min(len(level)-start, store.MaxBatchIDs))
		for _, s := range level[start:min(len(level), start+store.MaxBatchIDs)] {
			ids = append(ids, id(s))
		}
		ms, err := st.ListMemberOfAny(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("groups of %d members: %w", len(ids), err)
		}
		for _, m := range ms {
			k := strings.ToLower(m.MemberID)
			out[k] = append(out[k], m)
		}
	}
	return out, nil
}

// GroupStore is what naming groups in an explanation needs.
type GroupStore interface {
	GetGroup(ctx context.Context, objectID string) (store.Group, error)
}

// nameGroups replaces the group ids in each membership's path by display names (the id where a
// group has gone), for explanations a person reads.
func nameGroups(ctx context.Context, st GroupStore, ms []rbac.Membership) ([]rbac.Membership, error) {
	names := map[string]string{}
	out := make([]rbac.Membership, len(ms))
	for i, m := range ms {
		path := make([]string, len(m.Path))
		for j, id := range m.Path {
			name, ok := names[id]
			if !ok {
				g, err := st.GetGroup(ctx, id)
				switch {
				case err == nil:
					name = fmt.Sprintf("%q (%s)", g.DisplayName, id)
				case errors.Is(err, store.ErrNotFound):
					name = id
				default:
					return nil, fmt.Errorf("group %s: %w", id, err)
				}
				names[id] = name
			}
			path[j] = name
		}
		out[i] = rbac.Membership{GroupID: m.GroupID, Path: path}
	}
	return out, nil
}
