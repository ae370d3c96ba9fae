package metrics

import "github.com/prometheus/client_golang/prometheus"

// RevocationFeedStats is what the server's revocation feed reports (nodes.Feed.Stats, adapted
// by the caller so this package imports no server package).
type RevocationFeedStats struct {
	Cursor, Seen, Polls, Errors int64
}

// RevocationFeed exports a server's revocation feed, read at scrape time: the highest entry it
// has seen (compare replicas: they should agree within a poll), the entries it has read, the
// node agents' polls it answered, and its failed reads of the store.
func (m *Metrics) RevocationFeed(stats func() RevocationFeedStats) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mint_revocation_feed_cursor",
			Help: "The highest revocation feed entry this server has read from the store."},
			func() float64 { return float64(stats().Cursor) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mint_revocation_feed_entries_total",
			Help: "Revocation feed entries this server has read from the store (each is pushed to the node agents)."},
			func() float64 { return float64(stats().Seen) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mint_revocation_feed_polls_total",
			Help: "Node agents' long polls of the revocation feed answered by this server."},
			func() float64 { return float64(stats().Polls) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mint_revocation_feed_errors_total",
			Help: "Failed reads of the revocation feed from the store; while they fail, agents keep their cached tokens."},
			func() float64 { return float64(stats().Errors) }),
	)
}
