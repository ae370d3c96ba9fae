package sts

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
)

// AppendJSON appends the claims as a JSON object, byte for byte what json.Marshal writes for
// them (keys sorted; strings, integers, booleans and string lists written directly, any other
// value and any string that would need escaping by encoding/json itself). It is the signer's
// fast path (keys.Manager.Sign uses it when the claims have it): marshalling the map through
// reflection was a tenth of a token's CPU beside its signature.
func (c Claims) AppendJSON(b []byte) ([]byte, error) {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSONString(b, k); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = appendJSONValue(b, c[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return appendJSONString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONString(b, s); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, out...), nil
}

// appendJSONString writes s quoted; a string with anything encoding/json escapes (control
// characters, quotes, backslashes, <, >, &, non-ASCII) goes through encoding/json.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			return append(b, out...), nil
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

// claimSink is where a claim set is built: a Claims map, or a claimList.
type claimSink interface {
	setString(key, v string)
	setInt(key string, v int64)
	setList(key string, v []string)
	setValue(key string, v any) // anything else encoding/json writes
}

func (c Claims) setString(key, v string)        { c[key] = v }
func (c Claims) setInt(key string, v int64)     { c[key] = v }
func (c Claims) setList(key string, v []string) { c[key] = v }
func (c Claims) setValue(key string, v any)     { c[key] = v }

// maxListClaims is more than any claim set the STS builds: the largest, a v1 user token with
// wids and the groups overage pointer, has 24 (TestUserAccessClaimListIsTheMap builds it). The
// number of claims depends on the code, never on a request.
const maxListClaims = 28

// claimList is a claim set kept in an array rather than a map, for the signer (AppendJSON): a
// person's access token as a map cost ~30 allocations (the map, and every string and integer
// boxed into an interface) on each refresh-token redemption. Setting a key again replaces it,
// as in a map.
type claimList struct {
	n   int
	kvs [maxListClaims]claimValue
}

type claimValue struct {
	key  string
	kind byte // 's' string, 'i' integer, 'l' string list, 'v' any other value
	s    string
	i    int64
	l    []string
	v    any
}

// claimLists keeps claimLists between tokens: at ~2.5 kB each, one per token would be most of
// what a redemption allocates, by size.
var claimLists = sync.Pool{New: func() any { return new(claimList) }}

// release empties c and returns it to the pool; c must not be used after.
func (c *claimList) release() {
	clear(c.kvs[:c.n])
	c.n = 0
	claimLists.Put(c)
}

func (c *claimList) add(v claimValue) {
	if c.n == len(c.kvs) {
		panic("sts: more claims than a claimList holds")
	}
	c.kvs[c.n] = v
	c.n++
}

func (c *claimList) setString(key, v string)        { c.add(claimValue{key: key, kind: 's', s: v}) }
func (c *claimList) setInt(key string, v int64)     { c.add(claimValue{key: key, kind: 'i', i: v}) }
func (c *claimList) setList(key string, v []string) { c.add(claimValue{key: key, kind: 'l', l: v}) }
func (c *claimList) setValue(key string, v any)     { c.add(claimValue{key: key, kind: 'v', v: v}) }

// AppendJSON writes the claims exactly as json.Marshal writes the same claims in a Claims map:
// keys sorted, the last value set for a key.
func (c *claimList) AppendJSON(b []byte) ([]byte, error) {
	// Sort indexes by key, stably (insertion sort: a few dozen keys), so that of two values of
	// one key the later one comes last.
	var order [maxListClaims]uint8
	for i := range c.n {
		j := i
		for ; j > 0 && c.kvs[order[j-1]].key > c.kvs[i].key; j-- {
			order[j] = order[j-1]
		}
		order[j] = uint8(i)
	}
	b = append(b, '{')
	first := true
	for k := range c.n {
		kv := &c.kvs[order[k]]
		if k+1 < c.n && c.kvs[order[k+1]].key == kv.key {
			continue // replaced by a later value
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		var err error
		if b, err = appendJSONString(b, kv.key); err != nil {
			return nil, err
		}
		b = append(b, ':')
		switch kv.kind {
		case 's':
			b, err = appendJSONString(b, kv.s)
		case 'i':
			b = strconv.AppendInt(b, kv.i, 10)
		case 'l':
			b, err = appendJSONValue(b, kv.l)
		default:
			b, err = appendJSONValue(b, kv.v)
		}
		if err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// claims returns the list as a Claims map (for tests and callers that read claims by name).
func (c *claimList) claims() Claims {
	m := make(Claims, c.n)
	for _, kv := range c.kvs[:c.n] {
		switch kv.kind {
		case 's':
			m[kv.key] = kv.s
		case 'i':
			m[kv.key] = kv.i
		case 'l':
			m[kv.key] = kv.l
		default:
			m[kv.key] = kv.v
		}
	}
	return m
}

// MarshalJSON is AppendJSON, for encoding/json.
func (c *claimList) MarshalJSON() ([]byte, error) { return c.AppendJSON(nil) }
