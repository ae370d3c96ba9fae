package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// A person signs in to mint as to Entra: MSAL (the library inside azidentity and az) as the
// Azure CLI's first-party public client, with the device code flow or a user name and password
// (ROPC). The profile keeps MSAL's token cache — the refresh token and the current access
// tokens, never the password — and later commands get access tokens from it silently: MSAL
// redeems the refresh token when an access token is missing or expired and keeps the new refresh
// token mint answers with (mint rotates them), which the profile then saves.

// personClientID is the Azure CLI's app id: a first-party public client every tenant has.
const personClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// personScope is what a person's sign-in asks for first, as az does: the management endpoint.
const personScope = "https://management.azure.com//.default"

// profileCache is MSAL's cache accessor over a profile: Replace loads the profile's cache,
// Export puts MSAL's back and, when the profile is kept already, saves it (a refresh rotated the
// refresh token).
type profileCache struct {
	p    *profile
	save bool
}

func (c *profileCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	if len(c.p.Credential.TokenCache) == 0 {
		return nil
	}
	return u.Unmarshal(c.p.Credential.TokenCache)
}

func (c *profileCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if string(data) == string(c.p.Credential.TokenCache) {
		return nil
	}
	c.p.Credential.TokenCache = json.RawMessage(data)
	if c.save {
		if _, err := c.p.save(); err != nil {
			return fmt.Errorf("keep the renewed sign-in in the profile: %w", err)
		}
	}
	return nil
}

// newPersonClient is MSAL's public client for p's server and tenant ("organizations" before the
// first sign-in names the tenant).
func newPersonClient(p *profile, hc *http.Client, saveOnRefresh bool) (public.Client, error) {
	tenant := p.TenantID
	if tenant == "" {
		tenant = "organizations"
	}
	return public.New(personClientID,
		public.WithAuthority(p.Endpoint+"/"+tenant),
		public.WithHTTPClient(hc),
		public.WithCache(&profileCache{p: p, save: saveOnRefresh}),
		// mint is not one of Entra's hosts: there is no instance to discover at
		// login.microsoftonline.com (azidentity's DisableInstanceDiscovery, as for the service
		// principal's credential).
		public.WithInstanceDiscovery(false))
}

// signInPerson signs a person in with a user name and password, or with a device code whose
// prompt goes to prompt, and fills p's credential (the token cache, the account) and tenant.
func signInPerson(ctx context.Context, p *profile, hc *http.Client, username, password string, prompt io.Writer) (public.AuthResult, error) {
	client, err := newPersonClient(p, hc, false)
	if err != nil {
		return public.AuthResult{}, err
	}
	var res public.AuthResult
	if username != "" {
		//lint:ignore SA1019 ROPC is what `az login -u -p` uses too; Entra discourages it, mint supports it.
		res, err = client.AcquireTokenByUsernamePassword(ctx, []string{personScope}, username, password)
	} else {
		var dc public.DeviceCode
		if dc, err = client.AcquireTokenByDeviceCode(ctx, []string{personScope}); err == nil {
			fmt.Fprintln(prompt, dc.Result.Message)
			res, err = dc.AuthenticationResult(ctx)
		}
	}
	if err != nil {
		return res, signInRefused(p.Endpoint, err)
	}
	p.TenantID = res.Account.Realm
	p.Credential.Type = credentialPerson
	p.Credential.ClientID = personClientID
	p.Credential.Username = res.Account.PreferredUsername
	p.Credential.HomeAccountID = res.Account.HomeAccountID
	// The cache MSAL exported (p.Credential.TokenCache) is filed by the server's host and the
	// token's tenant, which later clients (authority <endpoint>/<tenant>) look up.
	return res, nil
}

// personCredential is a signed-in person's azcore credential: silent tokens from the profile's
// cache, refreshed by MSAL when needed.
type personCredential struct {
	client  public.Client
	account public.Account
	who     string
}

func newPersonCredential(ctx context.Context, p *profile, hc *http.Client, saveOnRefresh bool) (*personCredential, error) {
	client, err := newPersonClient(p, hc, saveOnRefresh)
	if err != nil {
		return nil, err
	}
	accounts, err := client.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range accounts {
		if strings.EqualFold(a.HomeAccountID, p.Credential.HomeAccountID) {
			return &personCredential{client: client, account: a, who: p.Credential.Username}, nil
		}
	}
	return nil, fmt.Errorf("the profile holds no sign-in for %s: sign in again with mint login", p.Credential.Username)
}

func (c *personCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	res, err := c.client.AcquireTokenSilent(ctx, o.Scopes, public.WithSilentAccount(c.account))
	if err != nil {
		return azcore.AccessToken{}, errors.Join(fmt.Errorf("%s's sign-in has expired or was revoked: sign in again with mint login", c.who), err)
	}
	return azcore.AccessToken{Token: res.AccessToken, ExpiresOn: res.ExpiresOn}, nil
}

// entraErrorRE finds Entra's own sentence ("AADSTS50126: Error validating credentials ...") in
// the sign-in library's error, which quotes the whole HTTP exchange.
var entraErrorRE = regexp.MustCompile(`"error_description":\s*"(AADSTS\d+: [^"\\]*)`)

// signInRefused says why the server refused a sign-in in Entra's words, without the HTTP call
// the library quotes; the library's error stays in the chain (explainReach reads it).
func signInRefused(endpoint string, err error) error {
	if m := entraErrorRE.FindStringSubmatch(err.Error()); m != nil {
		return &refusedError{msg: fmt.Sprintf("sign-in at %s refused: %s", endpoint, strings.TrimSpace(m[1])), err: err}
	}
	return fmt.Errorf("sign-in at %s refused: %w", endpoint, err)
}

type refusedError struct {
	msg string
	err error
}

func (e *refusedError) Error() string { return e.msg }
func (e *refusedError) Unwrap() error { return e.err }
