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
	queue := []step{{id: principalID}}
	for len(queue) > 0 && len(out) < MaxTransitiveGroups {
		cur := queue[0]
		queue = queue[1:]
		ms, err := st.ListMemberOf(ctx, cur.id)
		if err != nil {
			return nil, fmt.Errorf("groups of %s: %w", cur.id, err)
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
			queue = append(queue, step{id: gid, path: inner})
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
