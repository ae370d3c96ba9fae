package vault

import (
	"context"
	"time"
)

// RunPurger removes, every PurgeInterval until ctx ends, the deleted secrets whose retention
// period has passed (their scheduledPurgeDate), in every vault. Several replicas may run it at
// once: the purge is one idempotent statement.
func (s *Server) RunPurger(ctx context.Context) {
	t := time.NewTicker(s.cfg.PurgeInterval)
	defer t.Stop()
	for {
		s.PurgeDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurgeDue removes the deleted secrets due for purging now and returns how many it removed.
func (s *Server) PurgeDue(ctx context.Context) int {
	n, err := s.st.PurgeDeletedSecrets(ctx, s.now())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("purging deleted secrets failed; will retry", "err", err)
		}
		return 0
	}
	if n > 0 {
		s.secrets.invalidate()
		s.log.Info("purged deleted secrets past their retention period", "count", n)
	}
	// Deleted vaults (the control plane's soft delete) go at their scheduled purge date too.
	if v, err := s.st.PurgeDeletedVaults(ctx, s.now()); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("purging deleted vaults failed; will retry", "err", err)
		}
	} else if v > 0 {
		s.log.Info("purged deleted vaults past their retention period", "count", v)
	}
	return n
}
