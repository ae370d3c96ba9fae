package graph

import (
	"io"
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

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// A body the client never finished (Expect: 100-continue and then silence, until the server's
// read timeout) is Graph's 400, not a 413 telling the client its body was too large; a body over
// the limit, chunked or not, is still 413.
func TestDecodeTellsCutShortFromTooLarge(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1.0/groups", failingBody{})
	w := httptest.NewRecorder()
	var body struct{ DisplayName string }
	if decode(w, r, &body, false) || w.Code != 400 || !strings.Contains(w.Body.String(), "could not be read completely") {
		t.Errorf("cut short: %d %s", w.Code, w.Body)
	}
	r = httptest.NewRequest(http.MethodPost, "/v1.0/groups", strings.NewReader(`{"displayName":"`+strings.Repeat("a", 100)+`"}`))
	w = httptest.NewRecorder()
	r.Body = http.MaxBytesReader(w, r.Body, 10)
	if decode(w, r, &body, false) || w.Code != 413 {
		t.Errorf("too large: %d %s", w.Code, w.Body)
	}
}
