package sts

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mint-id/mint/internal/nodewire"
)

func TestParseTokenRequest(t *testing.T) {
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	tests := []struct {
		name    string
		v       Version
		form    string
		auth    string
		want    TokenRequest
		errCode int
	}{
		{name: "MSAL Go secret", v: V2,
			form: "client_id=app1&client_secret=s3cr3t&grant_type=client_credentials&scope=https%3A%2F%2Fvault.azure.net%2F.default+openid+offline_access+profile",
			want: TokenRequest{Endpoint: V2, GrantType: "client_credentials", ClientID: "app1", ClientSecret: "s3cr3t",
				Scope: "https://vault.azure.net/.default", Resource: "https://vault.azure.net"}},
		{name: "v1 resource", v: V1, form: "grant_type=client_credentials&client_id=app1&client_secret=x&resource=https%3A%2F%2Fmanagement.azure.com%2F",
			want: TokenRequest{Endpoint: V1, GrantType: "client_credentials", ClientID: "app1", ClientSecret: "x", Resource: "https://management.azure.com/"}},
		{name: "basic", v: V2, form: "grant_type=client_credentials&scope=api%3A%2F%2Fx%2F.default", auth: basic("app1", "p:w+d"),
			want: TokenRequest{Endpoint: V2, GrantType: "client_credentials", ClientID: "app1", ClientSecret: "p:w+d", BasicAuth: true,
				Scope: "api://x/.default", Resource: "api://x"}},
		{name: "basic with matching client_id", v: V2, form: "grant_type=client_credentials&client_id=APP1&scope=api%3A%2F%2Fx%2F.default", auth: basic("app1", "s"),
			want: TokenRequest{Endpoint: V2, GrantType: "client_credentials", ClientID: "app1", ClientSecret: "s", BasicAuth: true,
				Scope: "api://x/.default", Resource: "api://x"}},
		{name: "bearer header ignored", v: V2, form: "grant_type=client_credentials&client_id=a&client_secret=s&scope=api%3A%2F%2Fx%2F.default", auth: "Bearer abc",
			want: TokenRequest{Endpoint: V2, GrantType: "client_credentials", ClientID: "a", ClientSecret: "s", Scope: "api://x/.default", Resource: "api://x"}},
		{name: "assertion trimmed", v: V2,
			form: "grant_type=client_credentials&client_id=a&client_assertion=%20h.p.s%0A&client_assertion_type=" + url.QueryEscape(nodewire.AssertionTypeJWTBearer) + "&scope=api%3A%2F%2Fx%2F.default",
			want: TokenRequest{Endpoint: V2, GrantType: "client_credentials", ClientID: "a", ClientAssertion: "h.p.s", Scope: "api://x/.default", Resource: "api://x"}},
		{name: "missing grant", v: V2, form: "client_id=a", errCode: 900144},
		{name: "bad grant", v: V2, form: "grant_type=authorization_code&client_id=a", errCode: 70003},
		{name: "basic mismatch", v: V2, form: "grant_type=client_credentials&client_id=other&scope=a%2F.default", auth: basic("app1", "s"), errCode: 9002313},
		{name: "basic no colon", v: V2, form: "grant_type=client_credentials&scope=a%2F.default", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("app1")), errCode: 9002313},
		{name: "whitespace-only assertion", v: V2, form: "grant_type=client_credentials&client_id=a&client_assertion=%20%0A&client_assertion_type=" + url.QueryEscape(nodewire.AssertionTypeJWTBearer) + "&scope=a%2F.default", errCode: 900144},
		{name: "duplicate scope", v: V2, form: "grant_type=client_credentials&client_id=a&scope=a%2F.default&scope=b%2F.default", errCode: 9002313},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			got, e := ParseTokenRequest(tt.v, form, tt.auth)
			if tt.errCode != 0 {
				if e == nil || e.Code != tt.errCode || e.Status >= 500 {
					t.Fatalf("error %v, want code %d", e, tt.errCode)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if got != tt.want {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestResourceFromScope(t *testing.T) {
	tests := []struct {
		scope, wantScope, wantResource string
		errCode                        int
	}{
		{"https://management.azure.com//.default", "https://management.azure.com//.default", "https://management.azure.com/", 0},
		{"api://x/.default", "api://x/.default", "api://x", 0},
		{"openid api://x/.DEFAULT profile", "api://x/.DEFAULT", "api://x", 0},
		{"OpenID Email", "", "", 1002012},
		{"api://x/read", "", "", 1002012},
		{".default", "", "", 1002012},
		{"/.default", "", "", 1002012},
		{"a/.default b/.default", "", "", 70011},
	}
	for _, tt := range tests {
		s, r, e := resourceFromScope(tt.scope)
		if tt.errCode != 0 {
			if e == nil || e.Code != tt.errCode || e.Err != "invalid_scope" {
				t.Errorf("%q: error %v, want %d", tt.scope, e, tt.errCode)
			}
			continue
		}
		if e != nil || s != tt.wantScope || r != tt.wantResource {
			t.Errorf("%q: %q %q %v", tt.scope, s, r, e)
		}
	}
}

func TestReadForm(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		errCode           int
	}{
		{"form", "application/x-www-form-urlencoded", "a=b", 0},
		{"form with charset, odd case", "Application/X-WWW-Form-URLEncoded ; charset=UTF-8", "a=b", 0},
		{"no content type", "", "a=b", 0},
		{"json", "application/json", `{"a":"b"}`, 90014},
		{"multipart", "multipart/form-data; boundary=x", "--x--", 90014},
		{"bad escape", "application/x-www-form-urlencoded", "a=%g1", 90014},
		{"semicolon", "application/x-www-form-urlencoded", "a=b;c=d", 90014},
		{"invalid UTF-8 once decoded", "application/x-www-form-urlencoded", "a=b&client_secret=x%FFy", 90014},
	} {
		req := httptest.NewRequest(http.MethodPost, "/t/oauth2/v2.0/token", strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		form, e := ReadForm(req, 1024)
		switch {
		case tc.errCode == 0 && (e != nil || form.Get("a") != "b"):
			t.Errorf("%s: %v %v", tc.name, form, e)
		case tc.errCode != 0 && (e == nil || e.Code != tc.errCode || e.Status != 400):
			t.Errorf("%s: error %v, want %d", tc.name, e, tc.errCode)
		}
	}
}
