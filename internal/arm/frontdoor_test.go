package arm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/arm/identityblock"
)

func TestStampHeaders(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		reqHeader map[string]string
		wantCorr  string // "" = a fresh GUID
		wantEcho  string
		rateLimit string
	}{
		{name: "fresh ids", method: "GET", rateLimit: "x-ms-ratelimit-remaining-subscription-reads"},
		{name: "correlation echoed", method: "PUT", reqHeader: map[string]string{"x-ms-correlation-request-id": "corr-1", "x-ms-client-request-id": "client-1"}, wantCorr: "corr-1", rateLimit: "x-ms-ratelimit-remaining-subscription-writes"},
		{name: "client request id becomes correlation", method: "DELETE", reqHeader: map[string]string{"x-ms-client-request-id": "client-1"}, wantCorr: "client-1", rateLimit: "x-ms-ratelimit-remaining-subscription-deletes"},
		{name: "client request id returned on request", method: "PATCH", reqHeader: map[string]string{"x-ms-client-request-id": "client-1", "x-ms-return-client-request-id": "true"}, wantCorr: "client-1", wantEcho: "client-1", rateLimit: "x-ms-ratelimit-remaining-subscription-writes"},
		{name: "unsafe correlation id replaced", method: "GET", reqHeader: map[string]string{"x-ms-correlation-request-id": strings.Repeat("a", 200)}, rateLimit: "x-ms-ratelimit-remaining-subscription-reads"},
		{name: "correlation id with spaces replaced", method: "GET", reqHeader: map[string]string{"x-ms-correlation-request-id": "a b"}, rateLimit: "x-ms-ratelimit-remaining-subscription-reads"},
	}
	routing := regexp.MustCompile(`^LOCAL:\d{8}T\d{6}Z:[0-9a-f-]{36}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/subscriptions/s", nil)
			for k, v := range tt.reqHeader {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			reqID, corr := StampHeaders(w, r)
			h := w.Header()
			if _, err := uuid.Parse(reqID); err != nil || h.Get("x-ms-request-id") != reqID {
				t.Errorf("request id %q", reqID)
			}
			if tt.wantCorr != "" && corr != tt.wantCorr {
				t.Errorf("correlation = %q, want %q", corr, tt.wantCorr)
			}
			if tt.wantCorr == "" {
				if _, err := uuid.Parse(corr); err != nil {
					t.Errorf("correlation %q is not a fresh GUID", corr)
				}
			}
			if h.Get("x-ms-correlation-request-id") != corr {
				t.Error("correlation header differs from returned value")
			}
			if got := h.Get("x-ms-client-request-id"); got != tt.wantEcho {
				t.Errorf("client request id echo = %q, want %q", got, tt.wantEcho)
			}
			if !routing.MatchString(h.Get("x-ms-routing-request-id")) {
				t.Errorf("routing id %q", h.Get("x-ms-routing-request-id"))
			}
			for k, v := range map[string]string{"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "-1", "X-Content-Type-Options": "nosniff"} {
				if h.Get(k) != v {
					t.Errorf("%s = %q", k, h.Get(k))
				}
			}
			if h.Get(tt.rateLimit) == "" {
				t.Errorf("%s missing", tt.rateLimit)
			}
			// Idempotent: a second call keeps the ids.
			reqID2, corr2 := StampHeaders(w, r)
			if reqID2 != reqID || corr2 != corr {
				t.Error("StampHeaders changed the ids on a second call")
			}
		})
	}
}

func TestWriteJSONKeepsEarlyCorrelationID(t *testing.T) {
	r := httptest.NewRequest(http.MethodPut, "/x", nil)
	w := httptest.NewRecorder()
	_, corr := StampHeaders(w, r)
	WriteJSON(w, r, http.StatusCreated, map[string]string{"a": "b"})
	if w.Code != 201 || w.Body.String() != `{"a":"b"}` {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("content type %q", w.Header().Get("Content-Type"))
	}
	if w.Header().Get("x-ms-correlation-request-id") != corr {
		t.Error("correlation id changed")
	}
}

func TestWriteJSONUnmarshalable(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	w := httptest.NewRecorder()
	WriteJSON(w, r, 200, map[string]any{"f": func() {}})
	if w.Code != 500 || !strings.Contains(w.Body.String(), "InternalServerError") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestWriteEmptyAndLocation(t *testing.T) {
	r := httptest.NewRequest(http.MethodDelete, "/x", nil)
	w := httptest.NewRecorder()
	WriteEmpty(w, r, http.StatusOK)
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "0" || w.Header().Get("x-ms-request-id") == "" {
		t.Errorf("%d %q %v", w.Code, w.Body, w.Header())
	}
	const id = "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	w = httptest.NewRecorder()
	SetLocation(w, id)
	WriteJSON(w, httptest.NewRequest(http.MethodPut, id, nil), http.StatusCreated, struct{}{})
	if w.Header().Get("Location") != id {
		t.Errorf("Location = %q", w.Header().Get("Location"))
	}
}

func TestRequireAPIVersion(t *testing.T) {
	supported := []string{"2024-11-30", "2025-01-31-preview"}
	tests := []struct {
		query string
		want  string
		code  string
		msg   string
	}{
		{"api-version=2024-11-30", "2024-11-30", "", ""},
		{"api-version=2025-01-31-PREVIEW", "2025-01-31-preview", "", ""},
		{"api%2Dversion=2024-11-30", "2024-11-30", "", ""}, // the JS SDK's encoding
		{"", "", "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."},
		{"api-version=", "", "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."},
		{"api-version=2015-01-01", "", "InvalidApiVersionParameter", "The api-version '2015-01-01' is invalid. The supported versions are '2024-11-30,2025-01-31-preview'."},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/subscriptions/s?"+tt.query, nil)
		got, e := RequireAPIVersion(r, supported)
		if got != tt.want {
			t.Errorf("%q: version %q, want %q", tt.query, got, tt.want)
		}
		if (e == nil) != (tt.code == "") || (e != nil && (e.Code != tt.code || e.Message != tt.msg || e.Status != 400)) {
			t.Errorf("%q: error %+v", tt.query, e)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	type props struct {
		IsolationScope string `json:"isolationScope"`
	}
	type body struct {
		Location   string                 `json:"location"`
		Tags       map[string]string      `json:"tags"`
		Properties props                  `json:"properties"`
		Identity   *identityblock.Request `json:"identity"`
	}
	tests := []struct {
		name string
		in   string
		code string
		msg  string
	}{
		{name: "ok, unknown fields ignored", in: `{"location":"eastus","unknown":1,"properties":{"isolationScope":"None","x":2}}`},
		{name: "empty", in: ``, code: "InvalidRequestContent", msg: "The request content was invalid and could not be deserialized: 'The request content is empty.'."},
		{name: "null", in: " null\n", code: "InvalidRequestContent", msg: "The request content was invalid and could not be deserialized: 'The request content is null: send a JSON object.'."},
		{name: "syntax", in: "{\n\"location\": eastus}", code: "InvalidRequestContent",
			msg: "The request content was invalid and could not be deserialized: 'invalid character 'e' looking for beginning of value. Path '', line 2, position 13.'."},
		{name: "type", in: `{"location":1}`, code: "InvalidRequestContent",
			msg: "The request content was invalid and could not be deserialized: 'Error converting value of type number to string. Path 'location', line 1, position 13.'."},
		{name: "nested type", in: `{"properties":{"isolationScope":true}}`, code: "InvalidRequestContent",
			msg: "The request content was invalid and could not be deserialized: 'Error converting value of type bool to string. Path 'properties.isolationScope', line 1, position 36.'."},
		{name: "invalid UTF-8", in: "{\"location\":\"east\xffus\"}", code: "InvalidRequestContent",
			msg: "The request content was invalid and could not be deserialized: 'The request content is not valid UTF-8.'."},
		// encoding/json would keep the last of two spellings of one property, silently.
		{name: "duplicate key", in: `{"location":"eastus","location":"westus"}`, code: "InvalidRequestContent",
			msg: "The request content was invalid and could not be deserialized: 'The property 'location' appears more than once.'."},
		{name: "case variant", in: `{"properties":{"isolationScope":"None","IsolationScope":"Regional"}}`, code: "InvalidRequestContent",
			msg: "The request content was invalid and could not be deserialized: 'The properties 'isolationScope' and 'IsolationScope' of 'properties' differ only in letter case.'."},
		{name: "lone surrogate", in: `{"tags":{"a":"\ud800"}}`, code: "InvalidRequestContent",
			msg: "The request content was invalid and could not be deserialized: 'The string escape at byte 14 is half of a UTF-16 surrogate pair (\\uD800-\\uDFFF) without its other half, which is no character.'."},
		{name: "a number beyond float64 still passes", in: `{"location":"eastus","properties":{"isolationScope":"None","x":1e400}}`},
		{name: "identity block error passes through", in: `{"identity":{"type":"Bogus"}}`, code: "InvalidIdentityType",
			msg: "The identity type 'Bogus' is invalid. The supported identity types are 'None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPut, "/x", strings.NewReader(tt.in))
			var b body
			e := DecodeJSON(r, &b)
			if tt.code == "" {
				if e != nil {
					t.Fatalf("error %+v", e)
				}
				return
			}
			if e == nil || e.Code != tt.code || e.Message != tt.msg || e.Status != 400 {
				t.Errorf("got %+v\nwant %s %q", e, tt.code, tt.msg)
			}
		})
	}
	big := httptest.NewRequest(http.MethodPut, "/x", strings.NewReader(`{"location":"`+strings.Repeat("a", 5<<20)+`"}`))
	var b body
	if e := DecodeJSON(big, &b); e == nil || e.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %+v", e)
	}
}

func TestPage(t *testing.T) {
	items := make([]int, 250)
	for i := range items {
		items[i] = i
	}
	var all []int
	tok := ""
	pages := 0
	for {
		page, next, e := Page(items, tok, 0)
		if e != nil {
			t.Fatal(e)
		}
		all = append(all, page...)
		pages++
		if next == "" {
			break
		}
		tok = next
	}
	if pages != 3 || len(all) != 250 || all[249] != 249 {
		t.Errorf("pages %d items %d", pages, len(all))
	}
	page, next, _ := Page(items, "", 10)
	if len(page) != 10 || next == "" {
		t.Errorf("top 10: %d %q", len(page), next)
	}
	page, next, _ = Page(items[:3], "", 10)
	if len(page) != 3 || next != "" {
		t.Errorf("single page has a next token")
	}
	page, next, _ = Page([]int{}, "", 0)
	if len(page) != 0 || next != "" {
		t.Error("empty list")
	}
	// A token past the end (items deleted meanwhile) gives an empty last page, not an error.
	_, tok, _ = Page(items, "", 200)
	page, next, e := Page(items[:100], tok, 200)
	if e != nil || len(page) != 0 || next != "" {
		t.Errorf("past-the-end token: %v %v %q", page, e, next)
	}
	// One spelling per token: not CR or LF in it (the decoder skips them), other trailing bits,
	// padding, or the offset written another way ("mint:offset:07", "mint:offset:+7").
	seven := encodeSkipToken(7)
	for _, bad := range []string{"garbage!", "bWludDpvZmZzZXQ6LTE", "eA", seven[:5] + "\r\n" + seven[5:], seven + "=",
		"bWludDpvZmZzZXQ6MDc", "bWludDpvZmZzZXQ6Kzc", "bWludDpvZmZzZXQ6Nx"} {
		if _, _, e := Page(items, bad, 0); e == nil || e.Code != "InvalidSkipToken" || e.Status != 400 {
			t.Errorf("token %q: %+v", bad, e)
		}
	}
}

func TestPageParams(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x?api-version=1&$top=5&$skiptoken=abc", nil)
	tok, top, e := PageParams(r)
	if tok != "abc" || top != 5 || e != nil {
		t.Errorf("%q %d %v", tok, top, e)
	}
	for _, q := range []string{"$top=0", "$top=-1", "$top=x", "$top=1001"} {
		_, _, e := PageParams(httptest.NewRequest(http.MethodGet, "/x?"+q, nil))
		if e == nil || e.Code != "InvalidTopParameter" {
			t.Errorf("%s: %+v", q, e)
		}
	}
}

func TestNextLink(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://evil.example/subscriptions/s/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2024-11-30&%24skiptoken=old&$top=2&$filter=x%20eq%201", nil)
	got := NextLink("https://127.0.0.1:8443/", r, "TOKEN")
	want := "https://127.0.0.1:8443/subscriptions/s/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2024-11-30&$top=2&$filter=x%20eq%201&$skiptoken=TOKEN"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	u, err := url.Parse(got)
	if err != nil || u.Query().Get("$skiptoken") != "TOKEN" || u.Query().Get("api-version") != "2024-11-30" {
		t.Errorf("next link does not parse back: %v", err)
	}
}

func TestWriteListFollowsNextLinks(t *testing.T) {
	items := make([]string, 7)
	for i := range items {
		items[i] = fmt.Sprint("item", i)
	}
	const base = "https://mint.test"
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, e := RequireAPIVersion(r, []string{"2024-11-30"}); e != nil {
			WriteError(w, r, 0, e)
			return
		}
		WriteList(w, r, base, items)
	})
	var got []string
	link := base + "/subscriptions/s/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2024-11-30&$top=3"
	for n := 0; link != ""; n++ {
		if n > 5 {
			t.Fatal("too many pages")
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, link, nil))
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		var page List[string]
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Value...)
		if page.NextLink != "" && !strings.HasPrefix(page.NextLink, base+"/subscriptions/s/providers/") {
			t.Fatalf("nextLink %s", page.NextLink)
		}
		link = page.NextLink
	}
	if strings.Join(got, ",") != strings.Join(items, ",") {
		t.Errorf("got %v", got)
	}

	w := httptest.NewRecorder()
	WriteList(w, httptest.NewRequest(http.MethodGet, "/x?api-version=1", nil), base, []string(nil))
	if w.Body.String() != `{"value":[]}` {
		t.Errorf("empty list = %s", w.Body)
	}
	w = httptest.NewRecorder()
	WriteList(w, httptest.NewRequest(http.MethodGet, "/x?$top=abc", nil), base, items)
	if w.Code != 400 {
		t.Errorf("bad $top = %d", w.Code)
	}
}

func TestHeadWritesNoBody(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, httptest.NewRequest(http.MethodHead, "/x", nil), 200, map[string]int{"a": 1})
	if w.Body.Len() != 0 || w.Header().Get("Content-Length") != "7" {
		t.Errorf("HEAD body %q length %q", w.Body, w.Header().Get("Content-Length"))
	}
}

// FuzzSkipToken: the offset skiptoken is what encodeSkipToken wrote or refused; every offset
// survives a round trip.
func FuzzSkipToken(f *testing.F) {
	f.Add(encodeSkipToken(100), 7)
	f.Add("bWludDpvZmZzZXQ6MDc", 0)
	f.Add("bWludDpvZmZzZXQ6Nx", -1)
	f.Fuzz(func(t *testing.T, tok string, offset int) {
		if n, ok := decodeSkipToken(tok); ok && (n < 0 || encodeSkipToken(n) != tok) {
			t.Fatalf("%q read as %d, which is %q", tok, n, encodeSkipToken(n))
		}
		if offset < 0 {
			return
		}
		if n, ok := decodeSkipToken(encodeSkipToken(offset)); !ok || n != offset {
			t.Fatalf("offset %d came back as %d %v", offset, n, ok)
		}
	})
}
