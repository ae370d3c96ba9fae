// Command miclient is the workload the e2e tests run under `mint run` (or with an IMDS proxy):
// it gets one token with the real azidentity credential named by -credential and prints its
// claims as JSON, or the error on stderr with exit status 1. It is an ordinary program: it knows
// nothing of mint, only the environment the managed-identity endpoints give it.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func main() {
	credential := flag.String("credential", "managed", "managed or default")
	scope := flag.String("scope", "https://vault.azure.net/.default", "scope to ask for")
	clientID := flag.String("client-id", "", "user-assigned identity by client id")
	objectID := flag.String("object-id", "", "user-assigned identity by object (principal) id")
	resourceID := flag.String("resource-id", "", "user-assigned identity by ARM id")
	unset := flag.String("unset", "", "comma-separated variables to remove before constructing the credential (selects another dialect)")
	times := flag.Int("times", 1, "get the token this many times")
	flag.Parse()
	for _, v := range strings.Split(*unset, ",") {
		if v != "" {
			os.Unsetenv(v)
		}
	}
	var cred azcore.TokenCredential
	var err error
	switch *credential {
	case "managed":
		opts := &azidentity.ManagedIdentityCredentialOptions{}
		switch {
		case *clientID != "":
			opts.ID = azidentity.ClientID(*clientID)
		case *objectID != "":
			opts.ID = azidentity.ObjectID(*objectID)
		case *resourceID != "":
			opts.ID = azidentity.ResourceID(*resourceID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(opts)
	case "default":
		cred, err = azidentity.NewDefaultAzureCredential(nil)
	default:
		err = fmt.Errorf("unknown -credential %q", *credential)
	}
	if err != nil {
		fail(err)
	}
	var tok azcore.AccessToken
	for i := 0; i < *times; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		tok, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{*scope}})
		cancel()
		if err != nil {
			fail(err)
		}
	}
	parts := strings.Split(tok.Token, ".")
	if len(parts) != 3 {
		fail(fmt.Errorf("the token is not a JWT"))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		fail(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		fail(err)
	}
	claims["_expiresOn"] = tok.ExpiresOn.Unix()
	json.NewEncoder(os.Stdout).Encode(claims)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
