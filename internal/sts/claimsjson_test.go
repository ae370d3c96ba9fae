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
