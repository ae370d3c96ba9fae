package sts

import (
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// A user-assigned identity's federated exchange yields that identity's managed-identity token
// (xms_mirid, no xms_az_rid, the managed-identity lifetime), and a reused token is logged under
// the federated grant, not the broker's.
func TestFederatedManagedIdentityToken(t *testing.T) {
	testKeys(t)
	f := newFixture(t, func(c *Config) { c.Federated = fakeFederated{} })
	assertion := func() string {
		return signAssertion(t, jose.RS256, otherKey, nil, map[string]any{"iss": "https://issuer.example", "sub": "system:serviceaccount:ns:sa",
			"aud": "api://AzureADTokenExchange", "exp": f.now.Add(time.Hour).Unix(), "iat": f.now.Unix()})
	}
	for i := range 2 {
		form := assertionForm(assertion())
		form.Set("client_id", miClientID)
		w := f.post(v2TokenPath, form)
		if w.Code != 200 {
			t.Fatalf("exchange %d: %d %s", i, w.Code, w.Body)
		}
		_, c := decodeJWT(t, accessToken(t, w))
		if c["appid"] != miClientID || c["appidacr"] != "2" || c["oid"] != miObjectID ||
			c["xms_mirid"] != "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1" {
			t.Errorf("claims %v", c)
		}
		if _, ok := c["xms_az_rid"]; ok {
			t.Errorf("xms_az_rid %v on a federated token", c["xms_az_rid"])
		}
		exp, _ := c["exp"].(json.Number).Int64()
		iat, _ := c["iat"].(json.Number).Int64()
		if life := time.Duration(exp-iat) * time.Second; life != 24*time.Hour {
			t.Errorf("lifetime %v s", life)
		}
		if rec := f.rec.last(t); rec.Grant != "federated" || rec.Result != "success" {
			t.Errorf("exchange %d: sign-in %+v", i, rec)
		}
	}
}
