package sts

import (
	"encoding/binary"
	"encoding/json"
)

// A refresh token's plaintext (inside the sealer's AES-GCM) is refreshGrant in a small binary
// form: a redemption opens one and seals the next, and encoding/json's reflection over the
// grant both ways was a fifth of a redemption's own CPU beside the signature. Tokens sealed
// before it hold the grant's JSON, which always starts with '{'; they are still read, for the
// 90 days they live.
//
//	0x02 | flags (1 public, 2 spa) | user | tenant | client | auth time | expiry | amr count | amr...
//
// strings as a uvarint length and the bytes, times as varint Unix seconds.
const (
	refreshGrantBinary = 0x02
	grantFlagPublic    = 1 << 0
	grantFlagSPA       = 1 << 1
	// Bounds a sealed grant never reaches (GUIDs, a few short amr values); anything past them
	// was not written by appendBinary.
	maxGrantString = 256
	maxGrantAMR    = 16
)

// appendBinary appends g's binary form to b.
func (g refreshGrant) appendBinary(b []byte) []byte {
	var flags byte
	if g.Public {
		flags |= grantFlagPublic
	}
	if g.SPA {
		flags |= grantFlagSPA
	}
	b = append(b, refreshGrantBinary, flags)
	b = appendGrantString(b, g.UserID)
	b = appendGrantString(b, g.TenantID)
	b = appendGrantString(b, g.ClientID)
	b = binary.AppendVarint(b, g.AuthTime)
	b = binary.AppendVarint(b, g.Expiry)
	b = binary.AppendUvarint(b, uint64(len(g.AMR)))
	for _, m := range g.AMR {
		b = appendGrantString(b, m)
	}
	return b
}

func appendGrantString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// parseRefreshGrant reads a refresh token's plaintext: the binary form, or the JSON of tokens
// sealed before it. errUnsealed for anything else.
func parseRefreshGrant(plain []byte) (refreshGrant, error) {
	var g refreshGrant
	if len(plain) > 0 && plain[0] == '{' {
		if err := json.Unmarshal(plain, &g); err != nil {
			return refreshGrant{}, errUnsealed
		}
		return g, nil
	}
	r := grantReader{b: plain}
	if r.byte() != refreshGrantBinary {
		return refreshGrant{}, errUnsealed
	}
	flags := r.byte()
	g.Public, g.SPA = flags&grantFlagPublic != 0, flags&grantFlagSPA != 0
	g.UserID, g.TenantID, g.ClientID = r.string(), r.string(), r.string()
	g.AuthTime, g.Expiry = r.varint(), r.varint()
	n := r.uvarint()
	if n > maxGrantAMR {
		return refreshGrant{}, errUnsealed
	}
	g.AMR = make([]string, n)
	for i := range g.AMR {
		g.AMR[i] = r.string()
	}
	if r.bad || len(r.b) != 0 || flags&^(grantFlagPublic|grantFlagSPA) != 0 {
		return refreshGrant{}, errUnsealed
	}
	return g, nil
}

// grantReader reads the binary form; past the first fault every read is zero and bad is set.
type grantReader struct {
	b   []byte
	bad bool
}

func (r *grantReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *grantReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *grantReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *grantReader) string() string {
	n := r.uvarint()
	if n > maxGrantString || n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
