// Command secret-reader reads one secret from Azure Key Vault and prints its value. It is an
// ordinary Azure program: it knows nothing of mint, uses only azidentity and azsecrets, and
// reaches the vault at https://<vault>.vault.azure.net, the way the managed-identity developer
// guide does. Run it in Azure, or against mint under `mint run --proxy`.
//
//	secret-reader -vault kv1 -secret db-password            # DefaultAzureCredential
//	secret-reader -vault kv1 -secret db-password -managed-identity [-client-id <id>]
//
// The vault and secret names default to $KEY_VAULT_NAME and $SECRET_NAME. On failure it prints
// the SDK's error on stderr and exits with status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func main() {
	vault := flag.String("vault", os.Getenv("KEY_VAULT_NAME"), "key vault name (default $KEY_VAULT_NAME)")
	secret := flag.String("secret", os.Getenv("SECRET_NAME"), "secret name (default $SECRET_NAME)")
	managed := flag.Bool("managed-identity", false, "use ManagedIdentityCredential instead of DefaultAzureCredential")
	clientID := flag.String("client-id", "", "with -managed-identity: client id of the user-assigned identity to use (default: the system-assigned one)")
	flag.Parse()
	if *vault == "" || *secret == "" {
		fmt.Fprintln(os.Stderr, "usage: secret-reader -vault <vault name> -secret <secret name> [-managed-identity [-client-id <id>]]")
		os.Exit(2)
	}

	var cred azcore.TokenCredential
	var err error
	if *managed {
		var opts azidentity.ManagedIdentityCredentialOptions
		if *clientID != "" {
			opts.ID = azidentity.ClientID(*clientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(&opts)
	} else {
		cred, err = azidentity.NewDefaultAzureCredential(nil)
	}
	if err != nil {
		fail(err)
	}
	client, err := azsecrets.NewClient("https://"+*vault+".vault.azure.net", cred, nil)
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := client.GetSecret(ctx, *secret, "", nil)
	if err != nil {
		fail(err)
	}
	fmt.Println(*resp.Value)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
