package sts

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzParseTokenRequest(f *testing.F) {
	f.Add("client_id=app1&client_secret=s3cr3t&grant_type=client_credentials&scope=https%3A%2F%2Fvault.azure.net%2F.default+openid+offline_access+profile",
		"application/x-www-form-urlencoded; charset=utf-8", "", true)
	f.Add("grant_type=client_credentials&client_id=a&resource=https%3A%2F%2Fmanagement.azure.com%2F", "", "Basic YXBwMTpzZWNyZXQ=", false)
	f.Add("grant_type=client_credentials&client_id=a&client_assertion=x.y.z&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&scope=%2F.default",
		"application/x-www-form-urlencoded", "", true)
	f.Add("a=%zz;b", "application/json", "basic !!", true)
	f.Add("scope=a%2F.default+b%2F.default&grant_type=client_credentials&client_id=x&client_id=y", "", "Basic Og==", true)
	f.Fuzz(func(t *testing.T, body, contentType, authorization string, v2 bool) {
		req := httptest.NewRequest(http.MethodPost, "/t/oauth2/token", strings.NewReader(body))
		if contentType != "" {
			req.Header["Content-Type"] = []string{contentType}
		}
		v := V1
		if v2 {
			v = V2
		}
		form, e := ReadForm(req, 4096)
		if e != nil {
			checkClientError(t, e)
			return
		}
		tr, e := ParseTokenRequest(v, form, authorization)
		if e != nil {
			checkClientError(t, e)
			return
		}
		if tr.GrantType != GrantClientCredentials || tr.ClientID == "" || tr.Resource == "" ||
			(tr.ClientSecret != "" && tr.ClientAssertion != "") {
			t.Fatalf("accepted an incomplete request: %v", tr)
		}
		if v == V2 && !strings.HasSuffix(strings.ToLower(tr.Scope), "/.default") {
			t.Fatalf("v2 scope %q", tr.Scope)
		}
	})
}

func FuzzParseAssertion(f *testing.F) {
	testKeys(f)
	f.Add(msalGoAssertion(f, testNow, v2Audience))
	f.Add(noneJWT(assertionClaimsAt(testNow, v2Audience)))
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("eyJhbGciOiJQUzI1NiIsIngldCNTMjU2IjpbMV19.eyJhdWQiOjEyM30.AA")
	f.Fuzz(func(t *testing.T, raw string) {
		a, e := ParseAssertion(raw)
		if e != nil {
			checkClientError(t, e)
			return
		}
		if !supportedAlgorithm(a.Algorithm) {
			t.Fatalf("accepted alg %q", a.Algorithm)
		}
		// Verification of whatever parsed must not panic either.
		e = VerifyClientAssertion(a, AssertionCheck{ClientID: appClientID, Now: testNow, AudienceOK: func(string) bool { return true }})
		if e != nil {
			checkClientError(t, e)
		}
	})
}

func checkClientError(t *testing.T, e *Error) {
	t.Helper()
	if e.Status < 400 || e.Status >= 500 || e.Err == "" || e.Description == "" || e.Code == 0 {
		t.Fatalf("bad error %#v", e)
	}
}
