package bearer

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

type keySource map[string]*rsa.PublicKey

func (k keySource) PublicKey(kid string) (*rsa.PublicKey, bool) { p, ok := k[kid]; return p, ok }

func TestValidate(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Unix(1_800_000_000, 0)
	const base, tid = "https://127.0.0.1:8443", "t1"
	sign := func(k *rsa.PrivateKey, kid string, alg jose.SignatureAlgorithm, claims map[string]any) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := func(mut func(map[string]any)) map[string]any {
		c := map[string]any{"aud": "https://vault.azure.net", "iss": "https://sts.windows.net/" + tid + "/", "tid": tid, "oid": "o1", "appid": "a1",
			"exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "iat": now.Unix(), "roles": []string{"R"}}
		if mut != nil {
			mut(c)
		}
		return c
	}
	v := &Validator{Keys: keySource{"k1": &key.PublicKey}, IssuerBase: base, Audiences: []string{"https://vault.azure.net/"}, Clock: func() time.Time { return now }}
	cases := []struct {
		name, token, wantErr string
	}{
		{"valid v1", sign(key, "k1", jose.RS256, good(nil)), ""},
		{"valid v2 issuer", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["iss"] = "https://login.microsoftonline.com/" + tid + "/v2.0" })), ""},
		{"former v1 issuer", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["iss"] = base + "/" + tid + "/" })), ""},
		{"former v2 issuer", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["iss"] = base + "/" + tid + "/v2.0" })), ""},
		{"v2 issuer on the v1 host", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["iss"] = "https://sts.windows.net/" + tid + "/v2.0" })), "issuer"},
		{"Entra issuer of another tenant", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["iss"] = "https://sts.windows.net/t2/" })), "issuer"},
		{"audience with trailing slash", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["aud"] = "https://VAULT.azure.net/" })), ""},
		{"unknown kid", sign(key, "k2", jose.RS256, good(nil)), "signing key"},
		{"wrong key", sign(other, "k1", jose.RS256, good(nil)), "signature"},
		{"wrong alg", sign(key, "k1", jose.PS256, good(nil)), "RS256"},
		{"expired", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Minute).Unix() })), "expired"},
		{"within skew", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), ""},
		{"not yet valid", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Minute).Unix() })), "not valid before"},
		{"foreign issuer", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["iss"] = "https://evil/" + tid + "/" })), "issuer"},
		{"issuer of another tenant", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["iss"] = base + "/t2/" })), "issuer"},
		{"wrong audience", sign(key, "k1", jose.RS256, good(func(c map[string]any) { c["aud"] = "https://management.azure.com/" })), "audience"},
		{"garbage", "not.a.token", "malformed"},
		{"huge", strings.Repeat("a", 20000), "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Validate(tc.token)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.ClientID() != "a1" || c.ObjectID != "o1" || !c.HasRole("r") {
					t.Errorf("claims = %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestFromRequest(t *testing.T) {
	for _, tc := range []struct {
		header, token string
		missing, bad  bool
	}{
		{"", "", true, false},
		{"Bearer abc", "abc", false, false},
		{"bearer  abc ", "abc", false, false},
		{"Basic abc", "", false, true},
		{"Bearer", "", false, true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		tok, err := FromRequest(r)
		if tok != tc.token || IsMissing(err) != tc.missing || (err != nil && !tc.missing) != tc.bad {
			t.Errorf("%q: token %q err %v", tc.header, tok, err)
		}
	}
}

func FuzzValidate(f *testing.F) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	v := &Validator{Keys: keySource{"k1": &key.PublicKey}, IssuerBase: "https://x", Audiences: []string{"a"}}
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.AAAA")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := v.Validate(tok); err == nil {
			t.Fatal("a forged token validated")
		}
	})
}
