// Command miclient is the workload the e2e tests run under `mint run` (or with an IMDS proxy):
// it gets one token with the real azidentity credential named by -credential and prints its
// claims as JSON, or the error on stderr with exit status 1. With -vault it instead reads a
// secret with the real azsecrets client (-watch: again and again, one line per attempt). It is an
// ordinary program: it knows nothing of mint, only the environment the managed-identity
// endpoints give it; the only test accommodation is name resolution (*.vault.localhost dials
// 127.0.0.1), which the issue allows.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func main() {
	credential := flag.String("credential", "managed", "managed or default")
	scope := flag.String("scope", "https://vault.azure.net/.default", "scope to ask for")
	clientID := flag.String("client-id", "", "user-assigned identity by client id")
	objectID := flag.String("object-id", "", "user-assigned identity by object (principal) id")
	resourceID := flag.String("resource-id", "", "user-assigned identity by ARM id")
	unset := flag.String("unset", "", "comma-separated variables to remove before constructing the credential (selects another dialect)")
	times := flag.Int("times", 1, "get the token this many times")
	vaultURL := flag.String("vault", "", "read a secret from this vault URL instead of printing claims")
	secretName := flag.String("secret", "", "the secret to read with -vault")
	watch := flag.Duration("watch", 0, "with -vault: read every 100 ms for this long, printing OK or the error code per line")
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
	if *vaultURL != "" {
		readSecret(cred, *vaultURL, *secretName, *watch)
		return
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

// readSecret reads a secret with azsecrets; names under .localhost resolve to 127.0.0.1.
func readSecret(cred azcore.TokenCredential, vaultURL, name string, watch time.Duration) {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && strings.HasSuffix(host, ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	client, err := azsecrets.NewClient(vaultURL, cred, &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: transport}}})
	if err != nil {
		fail(err)
	}
	get := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := client.GetSecret(ctx, name, "", nil)
		if err != nil {
			return "", err
		}
		return *resp.Value, nil
	}
	if watch == 0 {
		v, err := get()
		if err != nil {
			fail(err)
		}
		fmt.Println(v)
		return
	}
	for end := time.Now().Add(watch); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		_, err := get()
		var re *azcore.ResponseError
		switch {
		case err == nil:
			fmt.Printf("%d OK\n", time.Now().UnixMilli())
		case errors.As(err, &re):
			fmt.Printf("%d %d %s\n", time.Now().UnixMilli(), re.StatusCode, re.ErrorCode)
		default:
			fmt.Printf("%d ERR %v\n", time.Now().UnixMilli(), strings.ReplaceAll(err.Error(), "\n", " "))
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
