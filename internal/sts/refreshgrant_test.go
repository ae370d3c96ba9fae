package sts

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRefreshGrantBinaryRoundTrip(t *testing.T) {
	for _, g := range []refreshGrant{
		{UserID: aliceID, TenantID: testTenantID, ClientID: azCLI, AuthTime: 1_700_000_000, AMR: []string{"pwd"}, Expiry: 1_707_776_000},
		{UserID: aliceID, TenantID: testTenantID, ClientID: apiAppID, AuthTime: 1, AMR: []string{"pwd", "mfa"}, Expiry: -1, Public: true, SPA: true},
		{AMR: []string{}},
	} {
		b := g.appendBinary(nil)
		got, err := parseRefreshGrant(b)
		if err != nil || !reflect.DeepEqual(got, g) {
			t.Errorf("%+v: read back %+v, %v", g, got, err)
		}
		for i := range b { // every truncation is refused
			if _, err := parseRefreshGrant(b[:i]); err == nil {
				t.Errorf("%+v: truncated to %d bytes was accepted", g, i)
			}
		}
		if _, err := parseRefreshGrant(append(b, 0)); err == nil {
			t.Errorf("%+v: a trailing byte was accepted", g)
		}
	}
}

// Refresh tokens sealed before the binary form hold the grant's JSON; they live 90 days, so a
// redemption still reads them (and answers with a binary one).
func TestRefreshTokenSealedAsJSONStillRedeems(t *testing.T) {
	f, _ := newSignInFixture(t)
	old, err := f.srv.seal.seal(purposeRefreshToken, refreshGrant{UserID: aliceID, TenantID: testTenantID, ClientID: azCLI,
		AuthTime: f.now.Add(-time.Hour).Unix(), AMR: []string{"pwd"}, Expiry: f.now.Add(refreshTokenLifetime).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	tok := decodeTokens(t, f.post("/"+testTenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {azCLI},
		"refresh_token": {refreshTokenPrefix + old}, "scope": {armScope}}))
	if _, at := decodeJWT(t, tok.AccessToken); at["oid"] != aliceID {
		t.Errorf("access token %v", at)
	}
	plain, err := f.srv.seal.openBytes(purposeRefreshToken, strings.TrimPrefix(tok.RefreshToken, refreshTokenPrefix))
	if err != nil || len(plain) == 0 || plain[0] != refreshGrantBinary {
		t.Fatalf("the new refresh token is not in the binary form: %q %v", plain, err)
	}
	if g, err := parseRefreshGrant(plain); err != nil || g.UserID != aliceID || g.ClientID != azCLI || g.AMR[0] != "pwd" {
		t.Errorf("new grant %+v %v", g, err)
	}
}

// The hand-written answer decodes to what encoding/json made of the same values.
func TestUserTokenResponseJSON(t *testing.T) {
	for _, r := range []userTokenResponse{
		{Scope: `https://vault.azure.net/.default "odd" <&> é`, ExpiresIn: 4799, AccessToken: "a.b.c", RefreshToken: "1.xyz", IDToken: "d.e.f", ClientInfo: "eyJ9"},
		{v1: true, Scope: "user_impersonation", ExpiresIn: 4799, ExpiresOn: 1_700_004_799, NotBefore: 1_700_000_000, Resource: "https://management.core.windows.net/", AccessToken: "a.b.c"},
		{Scope: "openid", ExpiresIn: 1, AccessToken: "a.b.c", RefreshToken: "1.r", RefreshTokenExpiresIn: 86400},
	} {
		want := map[string]any{"token_type": "Bearer", "scope": r.Scope, "access_token": r.AccessToken}
		if r.v1 {
			want["expires_in"], want["ext_expires_in"] = "4799", "4799"
			want["expires_on"], want["not_before"], want["resource"] = "1700004799", "1700000000", r.Resource
		} else {
			want["expires_in"], want["ext_expires_in"] = float64(r.ExpiresIn), float64(r.ExpiresIn)
		}
		for k, v := range map[string]string{"refresh_token": r.RefreshToken, "id_token": r.IDToken, "client_info": r.ClientInfo} {
			if v != "" {
				want[k] = v
			}
		}
		if r.RefreshTokenExpiresIn != 0 {
			want["refresh_token_expires_in"] = float64(r.RefreshTokenExpiresIn)
		}
		b := r.appendJSON(nil)
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s\ndecodes to %v (%v)\nwant %v", b, got, err, want)
		}
	}
}

// FuzzParseRefreshGrant: any plaintext is read or refused, never a panic, and what is read
// writes back to the same bytes.
func FuzzParseRefreshGrant(f *testing.F) {
	f.Add(refreshGrant{UserID: aliceID, TenantID: testTenantID, ClientID: azCLI, AuthTime: 1, AMR: []string{"pwd"}, Expiry: 2}.appendBinary(nil))
	f.Add([]byte(`{"u":"x","t":"y","c":"z","a":1,"m":["pwd"],"e":2}`))
	f.Add([]byte{refreshGrantBinary, 3, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseRefreshGrant(b)
		if err != nil || (len(b) > 0 && b[0] == '{') {
			return
		}
		if again := g.appendBinary(nil); string(again) != string(b) {
			// Varints have one shortest form only when written by appendBinary; a longer
			// spelling of the same number is read too, and is not a fault of the reader.
			if g2, err := parseRefreshGrant(again); err != nil || !reflect.DeepEqual(g2, g) {
				t.Fatalf("%x read as %+v, written back as %x, which reads as %+v %v", b, g, again, g2, err)
			}
		}
	})
}
