package graph

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Invalid UTF-8 in a JSON body is refused with Graph's error, not stored with U+FFFD in place of
// the bad bytes.
func TestDecodeRefusesInvalidUTF8(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1.0/applications", strings.NewReader("{\"displayName\":\"a\xffb\"}"))
	w := httptest.NewRecorder()
	var body struct{ DisplayName string }
	if decode(w, r, &body, false) {
		t.Fatalf("decoded %q", body.DisplayName)
	}
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"code":"BadRequest"`) || !strings.Contains(w.Body.String(), "UTF-8") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}
