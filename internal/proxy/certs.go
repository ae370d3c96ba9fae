package proxy

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"
)

// CertIssuer issues TLS server certificates; *keys.CA is one.
type CertIssuer interface {
	IssueServerCert(dnsNames []string, ips []net.IP, ttl time.Duration) (tls.Certificate, error)
}

// certCache holds one leaf certificate per host name, issued on first use and again when less
// than a tenth of its validity remains. It is bounded: when full, expired entries go first, then
// the one that expires soonest.
type certCache struct {
	ca    CertIssuer
	ttl   time.Duration
	max   int
	clock func() time.Time

	mu      sync.Mutex
	entries map[string]certEntry
}

type certEntry struct {
	cert     *tls.Certificate
	renewAt  time.Time
	notAfter time.Time
}

func newCertCache(ca CertIssuer, ttl time.Duration, max int, clock func() time.Time) *certCache {
	return &certCache{ca: ca, ttl: ttl, max: max, clock: clock, entries: map[string]certEntry{}}
}

// get returns the certificate for exactly host. Issuing holds the lock: an ECDSA P-256 leaf
// takes well under a millisecond, and holding it means concurrent first tunnels to one name
// share one certificate.
func (c *certCache) get(host string) (*tls.Certificate, error) {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[host]; ok && now.Before(e.renewAt) {
		return e.cert, nil
	}
	cert, err := c.ca.IssueServerCert([]string{host}, nil, c.ttl)
	if err != nil {
		return nil, fmt.Errorf("issue a certificate for %s: %w", host, err)
	}
	notAfter := now.Add(c.ttl)
	if cert.Leaf != nil {
		notAfter = cert.Leaf.NotAfter
	}
	if _, ok := c.entries[host]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[host] = certEntry{cert: &cert, renewAt: notAfter.Add(-c.ttl / 10), notAfter: notAfter}
	return &cert, nil
}

func (c *certCache) evict(now time.Time) {
	var soonest string
	for h, e := range c.entries {
		if !now.Before(e.notAfter) {
			delete(c.entries, h)
			continue
		}
		if soonest == "" || e.notAfter.Before(c.entries[soonest].notAfter) {
			soonest = h
		}
	}
	if len(c.entries) >= c.max && soonest != "" {
		delete(c.entries, soonest)
	}
}

func (c *certCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
