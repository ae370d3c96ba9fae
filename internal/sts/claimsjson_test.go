package sts

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// AppendJSON writes exactly what json.Marshal writes, for the claims mint builds and for values
// and strings that take the slow path.
func TestClaimsAppendJSONIsJSONMarshal(t *testing.T) {
	tenant := store.Tenant{ID: "8b0c2a5e-6a43-4c0c-9a57-6c1b4d8a9f11", CreatedAt: time.Unix(1700000000, 0)}
	client := store.ServicePrincipal{ObjectID: "2f6b9c1e-0d3a-4f6e-8b8a-1c2d3e4f5a6b", AppID: "5d1f8a2c-7e3b-4a9d-b6c5-0e1f2a3b4c5d"}
	resource := store.ServicePrincipal{AppID: "cfa8b339-82a2-471a-a3c9-0fc0be7a4093", IdentifierURIs: []string{"https://vault.azure.net"}}
	uti, aio := NewTokenIdentifiers()
	cases := []Claims{
		ClaimsFor(ClaimsInput{BaseURL: "https://127.0.0.1:8443", Tenant: tenant, Client: client, Resource: resource, Audience: "https://vault.azure.net",
			Roles: []string{"a", "b"}, IssuedAt: time.Unix(1700000100, 0), Lifetime: time.Hour, TokenID: uti, AIO: aio,
			ManagedIdentity: &ManagedIdentityClaims{MIResourceID: "/subscriptions/x/resourceGroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/z"}}),
		UserAccessClaims(UserClaimsInput{BaseURL: "https://127.0.0.1:8443", Tenant: tenant, User: store.User{ObjectID: client.ObjectID, DisplayName: "Ada <Lovelace> & \"co\" é\x01",
			UserPrincipalName: "ada@mint.localhost"}, ClientID: client.AppID, Resource: resource, Audience: "https://vault.azure.net/", Scp: "user_impersonation",
			AMR: []string{"pwd"}, AuthTime: time.Unix(1700000000, 0), Groups: make([]string, 300), IssuedAt: time.Unix(1700000100, 0), Lifetime: time.Hour,
			TokenID: uti, AIO: aio}),
		{"nil list": []string(nil), "empty": []string{}, "int": 7, "neg": int64(-3), "bool": false, "float": 1.5, "map": map[string]string{"k": "v"},
			"bad utf-8": "\xff", "html": "<script>&", "": "empty key"},
	}
	for i, c := range cases {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.AppendJSON(nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s, %v\nwant %s", i, got, err, want)
		}
	}
}

func FuzzClaimsAppendJSON(f *testing.F) {
	f.Add("iss", "https://x/", "roles", "a\"b")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		c := Claims{k1: v1, k2: []string{v2, v1}, "n": int64(len(v1))}
		want, err := json.Marshal(c)
		if err != nil {
			t.Skip()
		}
		got, err := c.AppendJSON(nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %s, %v; want %s", got, err, want)
		}
	})
}

// BenchmarkClaimsJSON is a client-credentials token's claims, through encoding/json and through
// AppendJSON.
func BenchmarkClaimsJSON(b *testing.B) {
	uti, aio := NewTokenIdentifiers()
	c := ClaimsFor(ClaimsInput{BaseURL: "https://127.0.0.1:8443", Tenant: store.Tenant{ID: "8b0c2a5e-6a43-4c0c-9a57-6c1b4d8a9f11", CreatedAt: time.Unix(1700000000, 0)},
		Client:   store.ServicePrincipal{ObjectID: "2f6b9c1e-0d3a-4f6e-8b8a-1c2d3e4f5a6b", AppID: "5d1f8a2c-7e3b-4a9d-b6c5-0e1f2a3b4c5d"},
		Resource: store.ServicePrincipal{AppID: "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"}, Audience: "https://vault.azure.net",
		IssuedAt: time.Unix(1700000100, 0), Lifetime: time.Hour, TokenID: uti, AIO: aio})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.AppendJSON(make([]byte, 0, 1024)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A client-credentials token is exactly one RSA signature: nothing else on the path signs, and
// each token is a new signature (no token is cached on this path).
func TestClientCredentialsSignOnce(t *testing.T) {
	f := newFixture(t)
	for i := range 3 {
		w := f.post(v2TokenPath, secretForm("https://vault.azure.net/.default"))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if got := f.signer.signs.Load(); got != int64(i+1) {
			t.Fatalf("%d signatures after %d tokens", got, i+1)
		}
	}
}

// A person's access token written from a claimList (the token path) is byte for byte the same
// claims as UserAccessClaims' map through encoding/json, in both token versions, with and
// without groups, the overage pointer and wids.
func TestUserAccessClaimListIsTheMap(t *testing.T) {
	tenant := store.Tenant{ID: "8b0c2a5e-6a43-4c0c-9a57-6c1b4d8a9f11"}
	user := store.User{ObjectID: "2f6b9c1e-0d3a-4f6e-8b8a-1c2d3e4f5a6b", DisplayName: "Ada <Lovelace> & \"co\" é\x01", UserPrincipalName: "ada@mint.localhost"}
	v1 := store.ServicePrincipal{AppID: "797f4846-ba00-4fd7-ba43-dac1f8f63013"}
	v2 := store.ServicePrincipal{AppID: "cfa8b339-82a2-471a-a3c9-0fc0be7a4093", AccessTokenVersion: 2}
	if TokenVersion(v2) != V2 || TokenVersion(v1) != V1 {
		t.Fatal("test resources are not one of each version")
	}
	for _, resource := range []store.ServicePrincipal{v1, v2} {
		for _, groups := range [][]string{nil, {}, {"g1", "g2"}, make([]string, 300)} {
			for _, wids := range [][]string{nil, {"62e90394-69f5-4237-9190-012177145e10"}} {
				in := UserClaimsInput{BaseURL: "https://127.0.0.1:8443", Tenant: tenant, User: user, ClientID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
					Resource: resource, Audience: "https://management.azure.com/", Scp: "user_impersonation", AMR: []string{"pwd"},
					Groups: groups, WIDs: wids, IssuedAt: time.Unix(1700000100, 0), Lifetime: time.Hour, TokenID: "uti", AIO: "aio", ClientAuth: "1"}
				want, err := json.Marshal(UserAccessClaims(in))
				if err != nil {
					t.Fatal(err)
				}
				list := userAccessClaims(in)
				got, err := list.AppendJSON(nil)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("v%d, %d groups, wids %v:\n got %s, %v\nwant %s", TokenVersion(resource), len(groups), wids, got, err, want)
				}
				if viaJSON, err := json.Marshal(list); err != nil || !bytes.Equal(viaJSON, want) {
					t.Errorf("json.Marshal of the list: %s, %v", viaJSON, err)
				}
			}
		}
	}
}

// Setting a key of a claimList again replaces its value, as in a map.
func TestClaimListLastValueWins(t *testing.T) {
	var c claimList
	c.setString("b", "1")
	c.setInt("a", 1)
	c.setString("b", "2")
	c.setList("c", []string{"x"})
	c.setInt("a", 2)
	c.setString("b", "3")
	got, err := c.AppendJSON(nil)
	want, _ := json.Marshal(c.claims())
	if err != nil || string(got) != `{"a":2,"b":"3","c":["x"]}` || !bytes.Equal(got, want) {
		t.Fatalf("got %s, %v; the map gives %s", got, err, want)
	}
}
