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

// A property written twice, exactly or in another letter case, is refused as Graph's OData reader
// refuses a repeated property: encoding/json would keep the last one (and match "DisplayName" to
// displayName), so a body could carry one value past a check and store another.
func TestDecodeRefusesRepeatedProperties(t *testing.T) {
	for _, in := range []string{
		`{"displayName":"a","displayName":"b"}`,
		`{"displayName":"a","DisplayName":"b"}`,
		`{"web":{"redirectUris":[],"REDIRECTURIS":["https://x"]}}`,
	} {
		r := httptest.NewRequest(http.MethodPost, "/v1.0/applications", strings.NewReader(in))
		w := httptest.NewRecorder()
		var body struct{ DisplayName string }
		if decode(w, r, &body, false) {
			t.Errorf("%s: decoded %q", in, body.DisplayName)
			continue
		}
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"code":"BadRequest"`) || !strings.Contains(w.Body.String(), "displayName") && !strings.Contains(w.Body.String(), "redirectUris") {
			t.Errorf("%s: %d %s", in, w.Code, w.Body)
		}
	}
}
