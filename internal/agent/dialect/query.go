package dialect

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// The query (or form) parameters the dialects read. Everything else is ignored, as Azure does.
const (
	pAPIVersion = iota
	pResource
	pClientID       // client_id
	pClientIDLegacy // clientid (Azure ML / App Service 2017-09-01)
	pObjectID       // object_id
	pPrincipalID    // principal_id (App Service's name for object_id)
	pMsiResID       // msi_res_id (IMDS, Arc)
	pMiResID        // mi_res_id (App Service)
	numParams
)

var paramNames = [numParams]string{"api-version", "resource", "client_id", "clientid", "object_id", "principal_id", "msi_res_id", "mi_res_id"}

// maxParams bounds the number of parameters a request may carry, which also bounds the cost of
// IMDS's duplicate check.
const maxParams = 64

type query struct {
	v   [numParams]string
	set [numParams]bool
}

type queryProblem uint8

const (
	queryOK queryProblem = iota
	queryBadEscape
	queryDuplicate
	queryTooMany
	queryNotUTF8
)

// parseQuery reads raw (a URL query or an x-www-form-urlencoded body). A known parameter given
// twice is refused by every dialect (the request is ambiguous); with strict, as IMDS does, any
// parameter name given twice is refused. The name of the duplicate is returned for the message.
func parseQuery(raw string, strict bool) (q query, problem queryProblem, dup string) {
	var seen []string // strict only: names of unknown parameters seen so far
	n := 0
	for raw != "" {
		var pair string
		if i := strings.IndexByte(raw, '&'); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			pair, raw = raw, ""
		}
		if pair == "" {
			continue
		}
		n++
		if n > maxParams {
			return q, queryTooMany, ""
		}
		key, value := pair, ""
		if i := strings.IndexByte(pair, '='); i >= 0 {
			key, value = pair[:i], pair[i+1:]
		}
		key, ok := unescape(key)
		if !ok {
			return q, queryBadEscape, ""
		}
		idx := -1
		for i, name := range paramNames {
			if key == name {
				idx = i
				break
			}
		}
		if idx < 0 {
			if strict {
				for _, s := range seen {
					if s == key {
						return q, queryDuplicate, key
					}
				}
				seen = append(seen, key)
			}
			continue
		}
		if q.set[idx] {
			return q, queryDuplicate, key
		}
		value, ok = unescape(value)
		if !ok {
			return q, queryBadEscape, ""
		}
		// Refused here: the token service refuses it too, which the agent would otherwise
		// report as the node being forbidden.
		if !utf8.ValidString(value) {
			return q, queryNotUTF8, key
		}
		q.v[idx], q.set[idx] = value, true
	}
	return q, queryOK, ""
}

// unescape decodes a query component ('+' is a space). The common case, nothing to decode,
// returns s itself without allocating.
func unescape(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	u, err := url.QueryUnescape(s)
	return u, err == nil
}

// selector collects the identity selector. Two different selectors (or two spellings of one with
// different values) are a conflict; empty values count as absent (Go's Azure ML client always
// sends clientid, empty for the default identity).
func (q *query) selector() (Selector, bool) {
	var s Selector
	var ok bool
	if s.ClientID, ok = pick(q.v[pClientID], q.v[pClientIDLegacy]); !ok {
		return s, false
	}
	if s.ObjectID, ok = pick(q.v[pObjectID], q.v[pPrincipalID]); !ok {
		return s, false
	}
	if s.ResourceID, ok = pick(q.v[pMsiResID], q.v[pMiResID]); !ok {
		return s, false
	}
	kinds := 0
	for _, v := range [...]string{s.ClientID, s.ObjectID, s.ResourceID} {
		if v != "" {
			kinds++
		}
	}
	return s, kinds <= 1
}

func pick(a, b string) (string, bool) {
	switch {
	case a == "":
		return b, true
	case b == "" || strings.EqualFold(a, b):
		return a, true
	}
	return "", false
}
