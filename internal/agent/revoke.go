package agent

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Revocation pushed by the server. The agent serves a cached token until it expires, which
// Azure's agents do too; mint's server tells its agents at once when what a token was issued for
// no longer stands (an identity detached or deleted, a resource deleted, the node's broker role
// removed), and the agent drops the cached tokens concerned, so the next request asks the broker
// again, which decides with the rule the server applies everywhere. Which tokens an entry
// concerns is matched loosely (every identity of a resource, every audience of a principal):
// dropping too much costs one upstream call, keeping too much would serve a revoked token.

// Revoke drops the cached tokens of workloads running as resourceID (any identity, any
// audience) and those issued to the principal principalID (the token's oid), and returns how
// many it dropped. Either may be empty. A request waiting for an upstream call that began before
// keeps its answer; any later request asks upstream again.
func (a *Agent) Revoke(resourceID, principalID string) int {
	resourceKey := string(appendLower(nil, strings.TrimRight(resourceID, "/")))
	n := a.cache.drop(func(e *entry) bool {
		if resourceID != "" && string(appendLower(nil, strings.TrimRight(e.req.ResourceID, "/"))) == resourceKey {
			return true
		}
		if principalID == "" {
			return false
		}
		st := e.st.Load()
		return st != nil && strings.EqualFold(st.oid, principalID)
	})
	if n > 0 {
		a.log.Info("cached tokens revoked", "resourceId", resourceID, "principalId", principalID, "count", n)
	}
	return n
}

// RevokeAll drops every cached token (the node lost its broker role, or missed revocations) and
// returns how many it dropped.
func (a *Agent) RevokeAll() int {
	n := a.cache.drop(func(*entry) bool { return true })
	if n > 0 {
		a.log.Info("every cached token revoked", "count", n)
	}
	return n
}

// drop removes the entries keep says to and counts those that held a token. An entry with an
// upstream call in flight is removed too: its waiters get the call's answer, and the next
// request makes a new entry and a new call.
func (c *cache) drop(match func(*entry) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, e := range c.m {
		if match(e) {
			if e.st.Load() != nil {
				n++
			}
			delete(c.m, k)
		}
	}
	return n
}

// tokenOID reads the oid claim of a JWT the agent got from its own server over TLS, to match
// revocations by principal; it verifies nothing (the agent only compares it) and returns "" for
// anything it cannot read.
func tokenOID(jwt string) string {
	_, rest, ok := strings.Cut(jwt, ".")
	if !ok {
		return ""
	}
	payload, _, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ""
	}
	var c struct {
		OID string `json:"oid"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return ""
	}
	return c.OID
}
