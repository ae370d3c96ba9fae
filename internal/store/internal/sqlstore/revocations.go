package sqlstore

import (
	"context"
	"fmt"
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
