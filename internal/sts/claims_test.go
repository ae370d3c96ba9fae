package sts

import (
	"encoding/base64"
	"reflect"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

func TestClaimsFor(t *testing.T) {
	tenant := store.Tenant{ID: testTenantID}
	client := store.ServicePrincipal{ObjectID: appObjectID, AppID: appClientID}
	arm := store.ServicePrincipal{AppID: armAppID, IdentifierURIs: []string{"https://management.azure.com/"}}
	api := store.ServicePrincipal{AppID: apiAppID, AccessTokenVersion: 2}
	iat := testNow.Unix()
	base := ClaimsInput{BaseURL: testBaseURL, Tenant: tenant, Client: client, Resource: arm, Audience: "https://management.azure.com",
		CredentialKind: CredentialCertificate, IssuedAt: testNow, Lifetime: time.Hour, TokenID: "uti-1", AIO: "aio-1"}
	rh := refreshHint(testTenantID, armAppID)
	iss1 := "https://sts.windows.net/" + testTenantID + "/"
	tests := []struct {
		name string
		in   func(ClaimsInput) ClaimsInput
		want Claims
	}{
		{"v1 certificate", func(in ClaimsInput) ClaimsInput { return in }, Claims{
			"aud": "https://management.azure.com", "iss": iss1, "idp": iss1, "iat": iat, "nbf": iat, "exp": iat + 3600,
			"aio": "aio-1", "appid": appClientID, "appidacr": "2", "idtyp": "app", "oid": appObjectID, "sub": appObjectID,
			"rh": rh, "tid": testTenantID, "uti": "uti-1", "ver": "1.0"}},
		{"v1 secret with roles and tenant creation time", func(in ClaimsInput) ClaimsInput {
			in.CredentialKind, in.Roles, in.Tenant.CreatedAt = CredentialSecret, []string{"r"}, testTenantCreated
			return in
		}, Claims{
			"aud": "https://management.azure.com", "iss": iss1, "idp": iss1, "iat": iat, "nbf": iat, "exp": iat + 3600,
			"aio": "aio-1", "appid": appClientID, "appidacr": "1", "idtyp": "app", "oid": appObjectID, "sub": appObjectID,
			"rh": rh, "tid": testTenantID, "uti": "uti-1", "ver": "1.0", "roles": []string{"r"}, "xms_tcdt": testTenantCreated.Unix()}},
		{"v2 resource", func(in ClaimsInput) ClaimsInput { in.Resource, in.Audience = api, "api://x"; return in }, Claims{
			"aud": apiAppID, "iss": "https://login.microsoftonline.com/" + testTenantID + "/v2.0", "iat": iat, "nbf": iat, "exp": iat + 3600,
			"aio": "aio-1", "azp": appClientID, "azpacr": "2", "idtyp": "app", "oid": appObjectID, "sub": appObjectID,
			"rh": refreshHint(testTenantID, apiAppID), "tid": testTenantID, "uti": "uti-1", "ver": "2.0"}},
		{"managed identity", func(in ClaimsInput) ClaimsInput {
			in.CredentialKind, in.Lifetime = CredentialManagedIdentity, 24*time.Hour
			in.ManagedIdentity = &ManagedIdentityClaims{MIResourceID: "/sub/mi", AzResourceID: "/sub/vm"}
			return in
		}, Claims{
			"aud": "https://management.azure.com", "iss": iss1, "idp": iss1, "iat": iat, "nbf": iat, "exp": iat + 86400,
			"aio": "aio-1", "appid": appClientID, "appidacr": "2", "idtyp": "app", "oid": appObjectID, "sub": appObjectID,
			"rh": rh, "tid": testTenantID, "uti": "uti-1", "ver": "1.0", "xms_mirid": "/sub/mi", "xms_az_rid": "/sub/vm"}},
		{"system-assigned: no xms_az_rid", func(in ClaimsInput) ClaimsInput {
			in.CredentialKind = CredentialManagedIdentity
			in.ManagedIdentity = &ManagedIdentityClaims{MIResourceID: "/sub/vm"}
			return in
		}, Claims{
			"aud": "https://management.azure.com", "iss": iss1, "idp": iss1, "iat": iat, "nbf": iat, "exp": iat + 3600,
			"aio": "aio-1", "appid": appClientID, "appidacr": "2", "idtyp": "app", "oid": appObjectID, "sub": appObjectID,
			"rh": rh, "tid": testTenantID, "uti": "uti-1", "ver": "1.0", "xms_mirid": "/sub/vm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in(base)
			got := ClaimsFor(in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
			if again := ClaimsFor(in); !reflect.DeepEqual(got, again) {
				t.Error("ClaimsFor is not deterministic")
			}
		})
	}
}

func TestRefreshHintLayout(t *testing.T) {
	// The rh of a real ARM token for tenant 90a38eda-... (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
	const real = "0.AFEA2o6jkAZA1U2STGylXKzBTUZIf3kAutdPukPawfj2MBPQAAA."
	if got := refreshHint("90a38eda-4006-4dd5-924c-6ca55cacc14d", armAppID); got != real {
		t.Errorf("rh %s, want %s", got, real)
	}
	if got := refreshHint("not-a-guid", "x"); len(got) != len(real) {
		t.Errorf("rh for non-GUID ids %s", got)
	}
}

func TestNewTokenIdentifiers(t *testing.T) {
	a, aio := NewTokenIdentifiers()
	b, _ := NewTokenIdentifiers()
	if a == b {
		t.Error("uti repeats")
	}
	if raw, err := base64.RawURLEncoding.DecodeString(a); err != nil || len(raw) != 16 {
		t.Errorf("uti %q", a)
	}
	if raw, err := base64.StdEncoding.DecodeString(aio); err != nil || len(raw) != 24 {
		t.Errorf("aio %q", aio)
	}
}

func TestCredentialKind(t *testing.T) {
	for k, want := range map[CredentialKind][2]string{
		CredentialSecret:          {"1", "client_secret"},
		CredentialCertificate:     {"2", "client_certificate"},
		CredentialFederated:       {"2", "federated"},
		CredentialManagedIdentity: {"2", "managed_identity"},
	} {
		if k.ACR() != want[0] || k.Grant() != want[1] {
			t.Errorf("%d: %s %s", k, k.ACR(), k.Grant())
		}
	}
}
