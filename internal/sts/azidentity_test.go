package sts

import (
	"context"
	"crypto/x509"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// TestAzidentityCompatibility drives the real azidentity (MSAL Go) credentials against the STS:
// OIDC discovery, then the token endpoint, with a client secret and with a certificate.
func TestAzidentityCompatibility(t *testing.T) {
	f := newFixture(t)
	ts := httptest.NewTLSServer(f.srv.Handler())
	defer ts.Close()
	// The issuer must be on the authority's host, and the certificate assertion is dated by the real clock.
	f.srv = New(Config{BaseURL: ts.URL}, f.dir, f.signer, f.rec, f.assertions)
	ts.Config.Handler = f.srv.Handler()

	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: ts.URL + "/"},
		Transport: ts.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
	ctx := context.Background()
	scopes := policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}}

	secretCred, err := azidentity.NewClientSecretCredential(testDomain, appClientID, appSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := secretCred.GetToken(ctx, scopes)
	if err != nil {
		t.Fatalf("client secret: %v", err)
	}
	if _, c := decodeJWT(t, tok.Token); c["aud"] != "https://vault.azure.net" || c["appidacr"] != "1" {
		t.Errorf("claims %v", c)
	}

	cert, _ := x509.ParseCertificate(clientCertDER)
	certCred, err := azidentity.NewClientCertificateCredential(testTenantID, appClientID, []*x509.Certificate{cert}, clientKey,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err = certCred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com//.default"}})
	if err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	if _, c := decodeJWT(t, tok.Token); c["aud"] != "https://management.azure.com/" || c["appidacr"] != "2" {
		t.Errorf("claims %v", c)
	}

	badCred, _ := azidentity.NewClientSecretCredential(testTenantID, appClientID, "wrong",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	_, err = badCred.GetToken(ctx, scopes)
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("wrong secret: %v", err)
	}
}
