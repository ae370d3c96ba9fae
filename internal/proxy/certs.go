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

// ServerNameCertificates are the certificates a mint server presents for Azure's names: a node's
// proxy passes its workloads' TLS through to the server (passthrough.go), so the server answers
// a ClientHello for login.microsoftonline.com, management.azure.com, graph.microsoft.com or
// <vault>.vault.azure.net with a leaf for exactly that name from the installation's CA, as mint
// dev's proxy does. The server holds the CA's key already (it certifies the nodes' proxy keys).
type ServerNameCertificates struct {
	names *Names
	cache *certCache
}

// NewServerNameCertificates issues with ca, for DefaultNames and DefaultVaults, certificates of
// ttl, keeping at most max of them.
func NewServerNameCertificates(ca CertIssuer, ttl time.Duration, max int) *ServerNameCertificates {
	return &ServerNameCertificates{names: NewNames(DefaultNames, DefaultVaults), cache: newCertCache(ca, ttl, max, time.Now)}
}

// For returns the certificate for serverName (a ClientHello's, as sent) when it is one of
// Azure's names the server answers; nil, nil when it is not (the caller presents its own).
func (c *ServerNameCertificates) For(serverName string) (*tls.Certificate, error) {
	host := normalizeHost(serverName)
	if host == "" || !c.names.Serves(host) {
		return nil, nil
	}
	return c.cache.get(host)
}

// Serves reports whether serverName is one of the names For certifies.
func (c *ServerNameCertificates) Serves(serverName string) bool {
	host := normalizeHost(serverName)
	return host != "" && c.names.Serves(host)
}
