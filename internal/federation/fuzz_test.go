package federation

import (
	"encoding/json"
	"testing"
)

func FuzzParseStaticKeys(f *testing.F) {
	f.Add(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`)
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`)
	f.Add(`{"keys":[]}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, raw string) {
		set, err := ParseStaticKeys(json.RawMessage(raw))
		if err == nil && len(usableKeys(set.Keys)) != len(set.Keys) {
			t.Fatalf("accepted a key set with unusable keys: %s", raw)
		}
	})
}

func FuzzCacheMaxAge(f *testing.F) {
	f.Add("public, max-age=3600")
	f.Add("no-store")
	f.Add(`max-age="60", must-revalidate`)
	f.Fuzz(func(t *testing.T, h string) {
		if d := cacheMaxAge(h); d < -1 || d > maxKeyTTL {
			t.Fatalf("cacheMaxAge(%q) = %v", h, d)
		}
	})
}

func FuzzMatch(f *testing.F) {
	f.Add("https://i", "s", "api://AzureADTokenExchange", "https://i/", "s", "api://AzureADTokenExchange")
	f.Fuzz(func(t *testing.T, ci, cs, ca, pi, ps, pa string) {
		creds := []Credential{{Name: "c", Issuer: ci, Subject: cs, Audiences: []string{ca}}}
		got, why := Match(creds, Presented{Issuer: pi, Subject: ps, Audience: []string{pa}})
		exact := ci == pi && cs == ps && ca == pa
		if (got != nil) != exact || (got == nil && why == "") {
			t.Fatalf("Match = %v, %q; exact %v", got, why, exact)
		}
	})
}
