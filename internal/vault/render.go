package vault

import (
	"slices"
	"strconv"
	"sync"

	"github.com/mint-id/mint/internal/jsonstr"
)

// A secret GET's answer is written by hand rather than through encoding/json's reflection: the
// GET is the data plane's hot path, and the encoder's reflection and copies were its largest
// cost after TLS. The bytes are exactly encoding/json's for the same SecretBundle (the field
// order of models.go, omitempty, HTML-safe string escaping, sorted tags); render_test.go holds
// the two equal over a table and a fuzz target.

// appendSecretBundle appends the JSON of b to dst, with value in place of b.Value (b.Value is
// not read): the value field is present when withValue, as a non-nil Value would be.
func appendSecretBundle(dst []byte, b *SecretBundle, value []byte, withValue bool) []byte {
	dst = append(dst, '{')
	if withValue {
		dst = append(dst, `"value":`...)
		dst = jsonstr.Append(dst, value)
		dst = append(dst, ',')
	}
	dst = append(dst, `"id":`...)
	dst = jsonstr.Append(dst, b.ID)
	if b.ContentType != "" {
		dst = append(dst, `,"contentType":`...)
		dst = jsonstr.Append(dst, b.ContentType)
	}
	a := &b.Attributes
	dst = append(dst, `,"attributes":{"enabled":`...)
	dst = strconv.AppendBool(dst, a.Enabled)
	if a.NotBefore != nil {
		dst = append(dst, `,"nbf":`...)
		dst = strconv.AppendInt(dst, *a.NotBefore, 10)
	}
	if a.Expires != nil {
		dst = append(dst, `,"exp":`...)
		dst = strconv.AppendInt(dst, *a.Expires, 10)
	}
	dst = append(dst, `,"created":`...)
	dst = strconv.AppendInt(dst, a.Created, 10)
	dst = append(dst, `,"updated":`...)
	dst = strconv.AppendInt(dst, a.Updated, 10)
	dst = append(dst, `,"recoveryLevel":`...)
	dst = jsonstr.Append(dst, a.RecoveryLevel)
	dst = append(dst, `,"recoverableDays":`...)
	dst = strconv.AppendInt(dst, int64(a.RecoverableDays), 10)
	dst = append(dst, '}')
	if len(b.Tags) > 0 {
		keys := make([]string, 0, len(b.Tags))
		for k := range b.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json sorts map keys by their bytes
		dst = append(dst, `,"tags":{`...)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, k)
			dst = append(dst, ':')
			dst = jsonstr.Append(dst, b.Tags[k])
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// secretBuffers hold a GET's plaintext and its rendered answer between requests, so that a GET
// allocates neither. Each is wiped before it goes back, so a pooled buffer never carries another
// request's value.
var secretBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuffer keeps the pool from holding on to the few buffers a large value grew.
const maxPooledBuffer = 64 << 10

func getBuffer() *[]byte { return secretBuffers.Get().(*[]byte) }

// putBuffer wipes used (the buffer as last appended to) and pools it. Only its length needs
// wiping: every use appends from empty, and what lies beyond the length was never written.
func putBuffer(b *[]byte, used []byte) {
	clear(used)
	if cap(used) > maxPooledBuffer {
		return
	}
	*b = used[:0]
	secretBuffers.Put(b)
}
