// Package jsonkeys checks the object keys of a JSON request body before an API trusts what
// encoding/json decoded from it. encoding/json keeps the last of two equal keys and matches a
// struct field's name in any letter case, so {"principalId":"a","PrincipalId":"b"} decodes as
// "b", while a proxy, a log or a policy check that read the same bytes another way could have
// seen "a". Microsoft Graph's OData reader refuses a repeated property outright; mint's ARM, Graph
// and Key Vault endpoints refuse both forms, each in its own error shape. It is not a validator of
// anything else: the caller decodes the body itself.
package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DuplicateError names a key that appears twice in one object, exactly or in another letter case.
type DuplicateError struct {
	// Path is where the object is, as a JSON path from the document's root ("" for the root,
	// "properties", "value[2].tags").
	Path string
	// Key is the second spelling met; First is the first one (equal to Key for an exact repeat).
	Key, First string
}

func (e *DuplicateError) Error() string {
	where := ""
	if e.Path != "" {
		where = " of '" + e.Path + "'"
	}
	if e.Key == e.First {
		return fmt.Sprintf("the property '%s'%s appears more than once", e.Key, where)
	}
	return fmt.Sprintf("the properties '%s' and '%s'%s differ only in letter case", e.First, e.Key, where)
}

type frame struct {
	object bool
	path   string
	index  int               // next element of an array
	key    string            // the key whose value comes next, in an object
	hasKey bool              // whether key is set (a key may be "")
	seen   map[string]string // folded key → key as first written
}

// Check returns a *DuplicateError for the first object in data with two keys that are equal or
// equal but for letter case (Unicode simple folding, as encoding/json matches field names), and
// any syntax error of data. data must be one JSON value, optionally surrounded by white space.
func Check(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	// valuePath is the path of the value about to start in the innermost container.
	valuePath := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			if f.path == "" {
				return f.key
			}
			return f.path + "." + f.key
		}
		return f.path + "[" + strconv.Itoa(f.index) + "]"
	}
	// valueDone moves the innermost container past the value that just ended.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.hasKey = false
		} else {
			f.index++
		}
	}
	started := false
	for {
		if started && len(stack) == 0 {
			if _, err := dec.Token(); !errors.Is(err, io.EOF) {
				return errors.New("invalid character after top-level value")
			}
			return nil
		}
		started = true
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && !top.hasKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone()
				continue
			}
			key, _ := tok.(string) // the decoder allows only a string or '}' here
			folded := fold(key)
			if first, dup := top.seen[folded]; dup {
				return &DuplicateError{Path: top.path, Key: key, First: first}
			}
			if top.seen == nil {
				top.seen = map[string]string{}
			}
			top.seen[folded] = key
			top.key, top.hasKey = key, true
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, &frame{object: tok == json.Delim('{'), path: valuePath()})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// fold maps a key to one representative of its case-folding class: each rune becomes the
// smallest rune of its unicode.SimpleFold orbit (for ASCII, the upper-case letter), so
// fold(a) == fold(b) exactly when strings.EqualFold(a, b).
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
