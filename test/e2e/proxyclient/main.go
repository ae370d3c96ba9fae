// Command proxyclient stands in for an unmodified program that only knows Azure's own host
// names: it uses the real SDK clients with their defaults (the public cloud, the default
// authority login.microsoftonline.com with instance discovery, management.azure.com,
// https://<vault>.vault.azure.net). It knows nothing of mint; the environment (HTTPS_PROXY,
// HTTP_PROXY, NO_PROXY, SSL_CERT_FILE and the credential's own variables) is all that brings it
// to mint. It prints one JSON object on stdout, or the error on stderr with exit status 1.
//
// Modes:
//
//	-mode arm                      ClientSecretCredential from AZURE_TENANT_ID / AZURE_CLIENT_ID /
//	                               AZURE_CLIENT_SECRET, then armresources lists the resource groups
//	                               of AZURE_SUBSCRIPTION_ID: {"resourceGroups":[...],"claims":{...}}
//	-mode token  -credential C     one token for -scope: {"claims":{...}}
//	-mode secret -credential C     azsecrets reads -name from -vault: {"value":"...","id":"..."}
//	-mode watch  -credential C     one credential, one armmsi client and one Graph pipeline kept
//	                               for the program's life: lists the user-assigned identities of
//	                               -group in -subscription and GETs Graph's /v1.0/servicePrincipals,
//	                               at start and again for each line read on stdin, printing one
//	                               line per round: {"arm":"200","graph":"403 Authorization_RequestDenied"}
//	                               (the SDK's own token cache decides when to ask for a new token)
//
// C is secret (ClientSecretCredential), default (DefaultAzureCredential) or managed
// (ManagedIdentityCredential).
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func main() {
	mode := flag.String("mode", "arm", "arm, token or secret")
	credential := flag.String("credential", "secret", "secret, default or managed")
	scope := flag.String("scope", "https://management.core.windows.net//.default", "scope (mode token)")
	vaultURL := flag.String("vault", "", "vault URL, e.g. https://kv1.vault.azure.net (mode secret)")
	name := flag.String("name", "", "secret name (mode secret)")
	subscription := flag.String("subscription", "", "subscription (mode watch)")
	group := flag.String("group", "", "resource group (mode watch)")
	flag.StringVar(&managedClientID, "client-id", "", "user-assigned identity's client id (credential managed)")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cred, err := newCredential(*credential)
	if err != nil {
		fail(err)
	}
	out := map[string]any{}
	switch *mode {
	case "watch":
		watch(cred, *subscription, *group)
		return
	case "arm":
		claims, err := tokenClaims(ctx, cred, "https://management.core.windows.net//.default")
		if err != nil {
			fail(err)
		}
		groups, err := armresources.NewResourceGroupsClient(os.Getenv("AZURE_SUBSCRIPTION_ID"), cred, nil)
		if err != nil {
			fail(err)
		}
		names := []string{}
		for pager := groups.NewListPager(nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				fail(err)
			}
			for _, g := range page.Value {
				names = append(names, *g.Name)
			}
		}
		out["resourceGroups"], out["claims"] = names, claims
	case "token":
		claims, err := tokenClaims(ctx, cred, *scope)
		if err != nil {
			fail(err)
		}
		out["claims"] = claims
	case "secret":
		client, err := azsecrets.NewClient(*vaultURL, cred, nil)
		if err != nil {
			fail(err)
		}
		resp, err := client.GetSecret(ctx, *name, "", nil)
		if err != nil {
			fail(err)
		}
		out["value"], out["id"] = *resp.Value, string(*resp.ID)
	default:
		fail(fmt.Errorf("unknown -mode %q", *mode))
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func newCredential(kind string) (azcore.TokenCredential, error) {
	switch kind {
	case "secret":
		// The defaults: authority https://login.microsoftonline.com/, instance discovery on.
		return azidentity.NewClientSecretCredential(os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"), os.Getenv("AZURE_CLIENT_SECRET"), nil)
	case "default":
		return azidentity.NewDefaultAzureCredential(nil)
	case "managed":
		opts := &azidentity.ManagedIdentityCredentialOptions{}
		if managedClientID != "" {
			opts.ID = azidentity.ClientID(managedClientID)
		}
		return azidentity.NewManagedIdentityCredential(opts)
	}
	return nil, fmt.Errorf("unknown -credential %q", kind)
}

func tokenClaims(ctx context.Context, cred azcore.TokenCredential, scope string) (map[string]any, error) {
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		return nil, err
	}
	parts := strings.Split(tok.Token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(payload, &claims)
}

var managedClientID string

// watch is -mode watch.
func watch(cred azcore.TokenCredential, subscription, group string) {
	identities, err := armmsi.NewUserAssignedIdentitiesClient(subscription, cred, nil)
	if err != nil {
		fail(err)
	}
	graph := runtime.NewPipeline("proxyclient", "v1.0.0", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{"https://graph.microsoft.com/.default"}, nil)}}, nil)
	outcome := func(status int, err error) string {
		var re *azcore.ResponseError
		switch {
		case errors.As(err, &re):
			return fmt.Sprintf("%d %s", re.StatusCode, re.ErrorCode)
		case err != nil:
			return "ERR " + strings.ReplaceAll(err.Error(), "\n", " ")
		}
		return fmt.Sprint(status)
	}
	in := bufio.NewScanner(os.Stdin)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		round := map[string]string{}
		_, err := identities.NewListByResourceGroupPager(group, nil).NextPage(ctx)
		round["arm"] = outcome(http.StatusOK, err)
		status := 0
		req, err := runtime.NewRequest(ctx, http.MethodGet, "https://graph.microsoft.com/v1.0/servicePrincipals")
		if err == nil {
			var resp *http.Response
			if resp, err = graph.Do(req); err == nil {
				status = resp.StatusCode
				if !runtime.HasStatusCode(resp, http.StatusOK) {
					err = runtime.NewResponseError(resp)
				}
				resp.Body.Close()
			}
		}
		round["graph"] = outcome(status, err)
		cancel()
		json.NewEncoder(os.Stdout).Encode(round)
		if !in.Scan() {
			return
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
