package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// The revocation feed. Each write that can revoke tokens (see store.Revocation) calls
// recordRevocations as the last statement of its transaction: the counter's row lock is then
// held only from there to the commit, and is the last lock the transaction takes, so it cannot
// take part in a deadlock with the other locks of the control plane.

// recordRevocations appends revs (duplicates and empty ones dropped) to the feed in tx.
func recordRevocations(ctx context.Context, tx Tx, revs []store.Revocation) error {
	seen := map[[2]string]bool{}
	var keep []store.Revocation
	for _, r := range revs {
		k := [2]string{column.ScopeKey(r.ResourceID), column.Key(r.PrincipalID)}
		if (r.ResourceID == "" && r.PrincipalID == "") || seen[k] {
			continue
		}
		seen[k] = true
		keep = append(keep, r)
	}
	if len(keep) == 0 {
		return nil
	}
	var last int64
	if err := tx.QueryRow(ctx, `UPDATE revocation_seq SET seq = seq + $1 WHERE id = 1 RETURNING seq`, len(keep)).Scan(&last); err != nil {
		return fmt.Errorf("revocation sequence: %w", err)
	}
	first := last - int64(len(keep)) + 1
	now := time.Now().UTC().Truncate(time.Microsecond)
	return insertRows(ctx, tx, `INSERT INTO revocations (seq, resource_id, principal_id, created_at)`, 4, len(keep), func(i int) []any {
		return []any{first + int64(i), keep[i].ResourceID, keep[i].PrincipalID, now}
	})
}

// resourceRevocations are the feed entries of deleted resources: each resource's tokens, and
// its own principal's (a user-assigned identity's, or a system-assigned identity's).
func resourceRevocations(rs []store.Resource) []store.Revocation {
	revs := make([]store.Revocation, 0, len(rs))
	for _, r := range rs {
		revs = append(revs, store.Revocation{ResourceID: r.ID, PrincipalID: r.PrincipalID})
	}
	return revs
}

func principalRevocations(ids []string) []store.Revocation {
	revs := make([]store.Revocation, 0, len(ids))
	for _, id := range ids {
		revs = append(revs, store.Revocation{PrincipalID: id})
	}
	return revs
}

func scanRevocation(row scanner) (store.Revocation, error) {
	var r store.Revocation
	err := row.Scan(&r.Seq, &r.ResourceID, &r.PrincipalID, tm(&r.CreatedAt))
	return r, err
}

func (s *Store) ListRevocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	if limit <= 0 {
		limit = 1000
	}
	rs, err := list(ctx, s, scanRevocation, `SELECT seq, resource_id, principal_id, created_at FROM revocations
		WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list revocations after %d: %w", after, err)
	}
	return rs, nil
}

func (s *Store) RevocationBounds(ctx context.Context) (first, last int64, err error) {
	err = s.read.QueryRow(ctx, `SELECT (SELECT seq FROM revocation_seq WHERE id = 1),
		COALESCE((SELECT MIN(seq) FROM revocations), 0)`).Scan(&last, &first)
	if err != nil {
		return 0, 0, fmt.Errorf("revocation bounds: %w", s.err(ctx, err))
	}
	if first == 0 {
		first = last + 1
	}
	return first, last, nil
}

func (s *Store) PurgeRevocations(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.exec(ctx, `DELETE FROM revocations WHERE created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge revocations before %s: %w", before, err)
	}
	return n, nil
}

// Nodes that lose the broker role through a group or a custom role. A node agent signs in as an
// application service principal and may hold the broker role through groups (transitively), so a
// change that takes a role away from a group (a membership removed, the group deleted, its
// assignment removed) or changes what a role grants names, in the feed, every application below
// the principals concerned: their agents drop what they cached and ask the broker again, which
// decides with the roles as they now stand. Which of them held the broker role through that path
// is not worked out (that is RBAC's rule, above the store): an agent whose node still holds it
// loses one upstream call per token, where missing one would serve a revoked token. Managed
// identities and users are not named: a workload's access removed through a group does not
// revoke its tokens, as in Azure (RBAC is decided at the target).
//
// On PostgreSQL every group walked is locked FOR SHARE before its members are read, and
// AddGroupMember locks the group it adds to (FOR NO KEY UPDATE): a member added below a group
// while the group loses its role is either seen by the walk or added after the change commits.

// holderRevocations are the feed entries for principals that may have lost a role: those of
// them that are applications (a node that held it directly) and every application below the
// groups among them.
func (s *Store) holderRevocations(ctx context.Context, tx Tx, ids []string) ([]store.Revocation, error) {
	apps, err := s.applicationsBelow(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("applications among and below the principals that lost a role: %w", err)
	}
	return principalRevocations(apps), nil
}

// applicationsBelow returns the application service principals among ids and among the
// transitive members of the groups among ids (object id keys, in no particular order).
func (s *Store) applicationsBelow(ctx context.Context, tx Tx, ids []string) ([]string, error) {
	seen := map[string]bool{}
	var frontier, candidates []string
	for _, id := range ids {
		if k := column.Key(id); k != "" && !seen[k] {
			seen[k] = true
			frontier = append(frontier, k)
			candidates = append(candidates, k)
		}
	}
	type member struct{ id, typ string }
	for len(frontier) > 0 {
		var next []string
		for batch := range slices.Chunk(frontier, 500) {
			if s.d.RowLocks {
				var w where
				if _, err := all(ctx, tx, func(row scanner) (string, error) {
					var id string
					return id, row.Scan(&id)
				}, `SELECT object_id FROM groups WHERE object_id IN `+w.in(batch)+` ORDER BY object_id`+s.lock("SHARE"), w.args...); err != nil {
					return nil, err
				}
			}
			var w where
			ms, err := all(ctx, tx, func(row scanner) (member, error) {
				var m member
				return m, row.Scan(&m.id, &m.typ)
			}, `SELECT member_id, member_type FROM group_members WHERE group_id IN `+w.in(batch), w.args...)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				if seen[m.id] {
					continue
				}
				switch store.MemberType(m.typ) {
				case store.MemberGroup:
					seen[m.id] = true
					next = append(next, m.id)
				case store.MemberServicePrincipal:
					seen[m.id] = true
					candidates = append(candidates, m.id)
				}
			}
		}
		frontier = next
	}
	var apps []string
	for batch := range slices.Chunk(candidates, 500) {
		var w where
		found, err := all(ctx, tx, func(row scanner) (string, error) {
			var id string
			return id, row.Scan(&id)
		}, `SELECT object_id FROM principals WHERE kind = `+w.p(string(store.KindApplication))+` AND object_id IN `+w.in(batch), w.args...)
		if err != nil {
			return nil, err
		}
		apps = append(apps, found...)
	}
	return apps, nil
}
