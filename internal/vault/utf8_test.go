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
