package sts

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseAuthorizeRequest(f *testing.F) {
	f.Add(strings.TrimPrefix(authorizeQuery(nil), "/organizations/oauth2/v2.0/authorize?"), true)
	f.Add("client_id=04b07795-8ddb-461a-bbee-02f9e1bf7b46&redirect_uri=http%3A%2F%2Flocalhost&response_type=code&resource=https%3A%2F%2Fmanagement.core.windows.net%2F", false)
	f.Add("client_id=x&redirect_uri=javascript:alert(1)&state=%00&prompt=none&code_challenge=short", true)
	f.Fuzz(func(t *testing.T, query string, v2 bool) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		v := V1
		if v2 {
			v = V2
		}
		req, pageErr, redirectErr := ParseAuthorizeRequest(v, q)
		for _, e := range []*Error{pageErr, redirectErr} {
			if e != nil {
				checkClientError(t, e)
			}
		}
		if pageErr == nil && redirectErr == nil && (req.ResponseType != "code" || req.ClientID == "" || req.RedirectURI == "") {
			t.Fatalf("accepted an incomplete request %+v", req)
		}
		if pageErr == nil && redirectErr == nil {
			// What is accepted survives the sealed (JSON) sign-in context unchanged.
			for _, s := range []string{req.State, req.Scope, req.Nonce, req.LoginHint, req.Prompt, req.ResponseMode, req.CodeChallenge, req.Resource} {
				if !utf8.ValidString(s) {
					t.Fatalf("accepted %q, which is not UTF-8", s)
				}
			}
		}
		_ = RedirectURIRegistered(req.RedirectURI, PublicClients[0].RedirectURIs)
	})
}

func FuzzParseUserTokenRequest(f *testing.F) {
	f.Add(ropc(armScope, aliceUPN, alicePass).Encode(), "", true)
	f.Add("grant_type=refresh_token&client_id=04b07795-8ddb-461a-bbee-02f9e1bf7b46&refresh_token=1.abc&scope=a%2F.default+b%2F.default", "", true)
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=x&code=x&client_id=a", "", false)
	f.Add("grant_type=authorization_code&code=x&code=y&client_id=a&redirect_uri=http%3A%2F%2Flocalhost", "Basic Og==", true)
	f.Fuzz(func(t *testing.T, body, authorization string, v2 bool) {
		req := httptest.NewRequest(http.MethodPost, "/t/oauth2/token", strings.NewReader(body))
		v := V1
		if v2 {
			v = V2
		}
		form, e := ReadForm(req, 4096)
		if e != nil {
			checkClientError(t, e)
			return
		}
		tr, e := ParseUserTokenRequest(v, form, authorization)
		if e != nil {
			checkClientError(t, e)
			return
		}
		if tr.ClientID == "" || !isUserGrant(tr.GrantType) || strings.Contains(tr.String(), tr.Password+"x") && tr.Password != "" {
			t.Fatalf("accepted %v", tr)
		}
	})
}

// FuzzSealedValues feeds arbitrary refresh tokens, codes and cookies to the opener.
func FuzzSealedValues(f *testing.F) {
	s := newSealer(make([]byte, 32))
	good, _ := s.seal(purposeSession, session{Accounts: []sessionAccount{{UserID: aliceID, AuthTime: 1}}, Expiry: 2})
	f.Add(good)
	f.Add("")
	f.Add("AQ")
	f.Add(strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, v string) {
		var sess session
		// Only what was sealed opens (seeds sealed by another fuzz worker hold the same session).
		if err := s.open(purposeSession, v, &sess); err == nil && (len(sess.Accounts) != 1 || sess.Accounts[0].UserID != aliceID || sess.Expiry != 2) {
			t.Fatalf("opened a value that was never sealed: %q", v)
		}
		if err := s.open(purposeSession, v, &sess); err == nil && base64.RawURLEncoding.EncodeToString(mustDecode(v)) != v {
			t.Fatalf("%q opened, but is not how it was sealed", v)
		}
		var g refreshGrant
		if s.open(purposeRefreshToken, v, &g) == nil {
			t.Fatalf("a session opened as a refresh token")
		}
	})
}

func mustDecode(v string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		panic(err)
	}
	return b
}

// A sealed value (refresh token, code, cookie) opens only as it was written: not padded, not
// with CR or LF in it (which the decoder skips), not with other trailing bits.
func TestSealedValuesHaveOneSpelling(t *testing.T) {
	s := newSealer(make([]byte, 32))
	var good string
	for good == "" || len(good)%4 == 0 { // a length with trailing bits in its last character
		v, err := s.seal(purposeSession, session{Expiry: int64(len(good))})
		if err != nil {
			t.Fatal(err)
		}
		good = v
	}
	var sess session
	if err := s.open(purposeSession, good, &sess); err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	for _, bad := range []string{good + "=", good + "==", good[:9] + "\r\n" + good[9:], good[:len(good)-1] + string(alphabet[last^1])} {
		if err := s.open(purposeSession, bad, &sess); err == nil {
			t.Errorf("%q opened", bad)
		}
	}
}

func FuzzUserCodeAndRedirect(f *testing.F) {
	f.Add("bcdf-ghj kl", "http://localhost:8400/cb")
	f.Add("", "http://127.0.0.1")
	f.Add(strings.Repeat("Z", 100), "https://x:99999999999999999999/")
	f.Fuzz(func(t *testing.T, code, uri string) {
		if n := NormalizeUserCode(code); strings.ContainsAny(n, " -") {
			t.Fatalf("normalized %q to %q", code, n)
		}
		if RedirectURIRegistered(uri, PublicClients[0].RedirectURIs) {
			scheme, host, _, _, ok := splitURI(uri)
			if !ok || (scheme != "https" && !strings.EqualFold(host, "localhost") && host != "127.0.0.1") {
				t.Fatalf("registered %q", uri)
			}
		}
	})
}
