package identityblock

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Request is a parsed identity block from a PUT or PATCH body.
type Request struct {
	Type Type
	// UserAssigned lists the userAssignedIdentities entries in the order sent, keys as sent.
	UserAssigned []Entry
	// HasUserAssigned reports that userAssignedIdentities was sent as an object (possibly {}),
	// as opposed to absent or null.
	HasUserAssigned bool
}

// Entry is one userAssignedIdentities key. Remove is set when its value was null, which on PATCH
// detaches the identity; any object value ({} or the read-only principalId/clientId echoed back
// from a GET) attaches or keeps it.
type Entry struct {
	ID     string
	Remove bool
}

// ParseRequest parses the JSON of an identity block, e.g.
// {"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"<id>":{},"<id2>":null}}.
// Property names match case-insensitively, read-only properties (principalId, tenantId) and
// unknown ones are ignored. Keys are not checked here; Apply does that.
func ParseRequest(data []byte) (Request, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return Request{}, invalidContent("The identity property must be a JSON object")
	}
	var raw struct {
		Type                   json.RawMessage `json:"type"`
		UserAssignedIdentities json.RawMessage `json:"userAssignedIdentities"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Request{}, invalidContent(err.Error())
	}

	var req Request
	typ := bytes.TrimSpace(raw.Type)
	if len(typ) == 0 || string(typ) == "null" {
		return Request{}, missingType()
	}
	var s string
	if err := json.Unmarshal(typ, &s); err != nil {
		return Request{}, invalidContent("The identity type must be a string. Path 'identity.type'")
	}
	t, err := ParseType(s)
	if err != nil {
		return Request{}, err
	}
	req.Type = t

	ua := bytes.TrimSpace(raw.UserAssignedIdentities)
	if len(ua) == 0 || string(ua) == "null" {
		return req, nil
	}
	if ua[0] != '{' {
		return Request{}, invalidContent("userAssignedIdentities must be a JSON object keyed by user assigned identity id. Path 'identity.userAssignedIdentities'")
	}
	entries, err := parseEntries(ua)
	if err != nil {
		return Request{}, err
	}
	req.UserAssigned = entries
	req.HasUserAssigned = true
	return req, nil
}

// parseEntries walks the object's tokens so that request order and every duplicate key survive
// (a map would lose both).
func parseEntries(obj []byte) ([]Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, invalidContent(err.Error())
	}
	entries := []Entry{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidContent(err.Error())
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, invalidContent(err.Error())
		}
		v = bytes.TrimSpace(v)
		switch {
		case string(v) == "null":
			entries = append(entries, Entry{ID: key, Remove: true})
		case len(v) > 0 && v[0] == '{':
			entries = append(entries, Entry{ID: key})
		default:
			return nil, invalidContent("The value for user assigned identity '" + key + "' must be an object or null. Path 'identity.userAssignedIdentities'")
		}
	}
	return entries, nil
}

// UnmarshalJSON lets a body type embed the block directly (`Identity *identityblock.Request
// json:"identity"`); errors are the *Error of ParseRequest. null leaves the request unchanged.
func (r *Request) UnmarshalJSON(data []byte) error {
	if strings.TrimSpace(string(data)) == "null" {
		return nil
	}
	req, err := ParseRequest(data)
	if err != nil {
		return err
	}
	*r = req
	return nil
}
