package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Purger deletes old log entries in bounded batches (store.SignIns and store.ActivityLog).
type Purger interface {
	PurgeSignIns(ctx context.Context, before time.Time, limit int) (int, error)
	PurgeActivity(ctx context.Context, before time.Time, limit int) (int, error)
}

// Retention is how long the logs are kept. Entra keeps sign-ins 30 days and the activity log 90
// (https://learn.microsoft.com/entra/identity/monitoring-health/reference-reports-data-retention,
// https://learn.microsoft.com/azure/azure-monitor/essentials/activity-log); zero keeps forever.
type Retention struct {
	SignIns  time.Duration
	Activity time.Duration
}

// DefaultRetention is Entra's and Azure Monitor's.
var DefaultRetention = Retention{SignIns: 30 * 24 * time.Hour, Activity: 90 * 24 * time.Hour}

// purgeBatch is the rows one statement deletes: a short lock, even on SQLite's single writer.
const purgeBatch = 1000

// Purge deletes the entries older than the retention, batch by batch, and says how many. Several
// servers purging one database at once is harmless: each batch deletes what is still there.
func Purge(ctx context.Context, p Purger, r Retention, now time.Time) (signIns, activity int, err error) {
	if r.SignIns > 0 {
		if signIns, err = purgeAll(ctx, p.PurgeSignIns, now.Add(-r.SignIns)); err != nil {
			return signIns, 0, err
		}
	}
	if r.Activity > 0 {
		activity, err = purgeAll(ctx, p.PurgeActivity, now.Add(-r.Activity))
	}
	return signIns, activity, err
}

func purgeAll(ctx context.Context, purge func(context.Context, time.Time, int) (int, error), before time.Time) (int, error) {
	total := 0
	for {
		n, err := purge(ctx, before, purgeBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("purge entries before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		if n < purgeBatch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// RunPurge purges at once and then every interval until ctx ends, logging what it deleted.
func RunPurge(ctx context.Context, p Purger, r Retention, interval time.Duration, clock func() time.Time, log *slog.Logger) {
	if r.SignIns <= 0 && r.Activity <= 0 {
		return
	}
	if clock == nil {
		clock = time.Now
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		signIns, activity, err := Purge(ctx, p, r, clock())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("log retention purge failed; will retry", "err", err, "sign_ins_deleted", signIns, "activity_deleted", activity)
		case signIns > 0 || activity > 0:
			log.Info("log retention purge", "sign_ins_deleted", signIns, "activity_deleted", activity)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
