package store

import (
	"context"
	"time"
)

// Revocation records, in a change feed every server polls, that tokens issued for a pairing may
// no longer stand: those of a resource (ResourceID: the resource a workload runs as, or a
// user-assigned identity), those of a principal (PrincipalID: a managed identity's, or a node's
// own), or both. The store writes one in the same transaction as the change that causes it (an
// identity detached or disabled, a resource or identity deleted, a principal deleted, a role
// assignment removed), so that a change that committed is always in the feed and a feed entry
// always names a change that committed.
type Revocation struct {
	Seq         int64 // strictly increasing in commit order, starting at 1
	ResourceID  string
	PrincipalID string
	CreatedAt   time.Time
}

type Revocations interface {
	// ListRevocations returns the revocations with Seq > after in Seq order, at most limit
	// (0: 1000). Sequence numbers are handed out in commit order (one writer at a time takes the
	// next ones), so a reader that saw Seq n never later sees a new entry below n.
	ListRevocations(ctx context.Context, after int64, limit int) ([]Revocation, error)
	// RevocationBounds returns the highest Seq handed out (0 if none) and the lowest Seq still
	// kept (last+1 when none is kept): a reader whose cursor is below first-1 missed entries.
	RevocationBounds(ctx context.Context) (first, last int64, err error)
	// PurgeRevocations deletes the entries created before before and returns how many.
	PurgeRevocations(ctx context.Context, before time.Time) (int64, error)
}
