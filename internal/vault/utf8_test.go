package vault

import (
	"strings"
	"testing"
)

// Invalid UTF-8 in a JSON body is refused, not stored with U+FFFD in place of the bad bytes (a
// secret value changed behind the caller's back).
func TestInvalidUTF8BodyIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("officer", officerRole), nil)
	r := e.do("PUT", "", "/secrets/bin", tok, "{\"value\":\"a\xffb\"}")
	if code, _ := r.errorCodes(t); r.status != 400 || code != "BadParameter" || !strings.Contains(string(r.body), "UTF-8") {
		t.Fatalf("status %d code %s: %s", r.status, code, r.body)
	}
	if r := e.do("GET", "", "/secrets/bin", tok, nil); r.status != 404 {
		t.Errorf("the secret was stored: %d %s", r.status, r.body)
	}
}

// A property written twice, exactly or in another letter case, is refused: encoding/json keeps
// the last one, so the value stored could differ from the one a proxy or a log line saw.
func TestRepeatedPropertyIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token(e.app("officer", officerRole), nil)
	for _, in := range []string{`{"value":"a","value":"b"}`, `{"value":"a","Value":"b"}`, `{"value":"a","tags":{"t":"1","t":"2"}}`,
		// A lone surrogate would be stored as U+FFFD: a secret other than the one sent.
		`{"value":"a\ud800b"}`} {
		r := e.do("PUT", "", "/secrets/twice", tok, in)
		if code, _ := r.errorCodes(t); r.status != 400 || code != "BadParameter" || !strings.Contains(string(r.body), "more than once") && !strings.Contains(string(r.body), "letter case") && !strings.Contains(string(r.body), "surrogate") {
			t.Errorf("%s: status %d code %s: %s", in, r.status, code, r.body)
		}
	}
	if r := e.do("GET", "", "/secrets/twice", tok, nil); r.status != 404 {
		t.Errorf("the secret was stored: %d %s", r.status, r.body)
	}
}
