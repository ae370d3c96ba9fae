// Package jsonbody checks a JSON request body for what encoding/json would resolve silently,
// before an API trusts what it decoded. encoding/json keeps the last of two equal keys and matches
// a struct field's name in any letter case, so {"principalId":"a","PrincipalId":"b"} decodes as
// "b", while a proxy, a log or a policy check that read the same bytes another way could have seen
// "a"; and it turns a lone UTF-16 surrogate escape ("\ud800") into U+FFFD, so a stored value would
// differ from the one sent. Microsoft Graph's OData reader refuses a repeated property outright;
// mint's ARM, Graph and Key Vault endpoints refuse all three, each in its own error shape. It
// validates nothing else: the caller decodes the body itself.
package jsonbody

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
		return fmt.Sprintf("The property '%s'%s appears more than once", e.Key, where)
	}
	return fmt.Sprintf("The properties '%s' and '%s'%s differ only in letter case", e.First, e.Key, where)
}

// SurrogateError is a \u escape of half a UTF-16 surrogate pair without its other half: no
// Unicode character, which encoding/json would store as U+FFFD.
type SurrogateError struct {
	Offset int // of the backslash, in bytes from the start of the document
}

func (e *SurrogateError) Error() string {
	return fmt.Sprintf("The string escape at byte %d is half of a UTF-16 surrogate pair (\\uD800-\\uDFFF) without its other half, which is no character", e.Offset)
}

type frame struct {
	object bool
	path   string
	index  int               // next element of an array
	key    string            // the key whose value comes next, in an object
	hasKey bool              // whether key is set (a key may be "")
	seen   map[string]string // folded key → key as first written
}

// Check returns a *SurrogateError for the first lone surrogate escape in data, a *DuplicateError
// for the first object in data with two keys that are equal or equal but for letter case (Unicode
// simple folding, as encoding/json matches field names), and any syntax error of data. data must
// be one JSON value, optionally surrounded by white space.
func Check(data []byte) error {
	if off, ok := loneSurrogate(data); ok {
		return &SurrogateError{Offset: off}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // 1e400 is valid JSON, though no float64

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

// loneSurrogate finds a \u escape in data that is half of a surrogate pair without the other
// half. Escapes occur only inside strings, so a scan that skips each escape whole is exact.
func loneSurrogate(data []byte) (int, bool) {
	pendingHigh := -1 // offset of a high surrogate escape still waiting for its low half
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			if pendingHigh >= 0 {
				return pendingHigh, true
			}
			continue
		}
		if i+1 >= len(data) {
			break
		}
		if data[i+1] != 'u' {
			if pendingHigh >= 0 {
				return pendingHigh, true
			}
			i++
			continue
		}
		if i+6 > len(data) {
			break // a syntax error, left to the decoder
		}
		v, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		if err != nil {
			break
		}
		switch {
		case v >= 0xD800 && v < 0xDC00:
			if pendingHigh >= 0 {
				return pendingHigh, true
			}
			pendingHigh = i
		case v >= 0xDC00 && v < 0xE000:
			if pendingHigh < 0 {
				return i, true
			}
			pendingHigh = -1
		default:
			if pendingHigh >= 0 {
				return pendingHigh, true
			}
		}
		i += 5
	}
	if pendingHigh >= 0 {
		return pendingHigh, true
	}
	return 0, false
}
