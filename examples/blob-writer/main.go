// Command blob-writer is an unmodified Azure Storage program: azblob with
// ManagedIdentityCredential, as an application reading and writing blobs does. It creates a
// container, uploads a blob, reads it back and prints the content and the token's claims as
// JSON. The README's Storage recipe and mint's end-to-end tests run it under `mint run` against
// Azurite.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
)

// recorded passes GetToken through and keeps the last token's claims for the output.
type recorded struct {
	azcore.TokenCredential
	claims map[string]any
}

func (r *recorded) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := r.TokenCredential.GetToken(ctx, o)
	if err == nil {
		parts := strings.Split(tok.Token, ".")
		if len(parts) == 3 {
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(payload, &r.claims)
		}
	}
	return tok, err
}

func main() {
	account := flag.String("account-url", "", "the storage account's blob endpoint, e.g. https://127.0.0.1:10000/devstoreaccount1")
	container := flag.String("container", "", "container to create")
	blob := flag.String("blob", "", "blob to write and read back")
	content := flag.String("content", "", "the blob's content")
	clientID := flag.String("client-id", "", "user-assigned identity's client id (default: system-assigned)")
	flag.Parse()
	if *account == "" || *container == "" || *blob == "" {
		fmt.Fprintln(os.Stderr, "usage: blob-writer -account-url URL -container C -blob B -content TEXT [-client-id ID]")
		os.Exit(2)
	}
	var opts azidentity.ManagedIdentityCredentialOptions
	if *clientID != "" {
		opts.ID = azidentity.ClientID(*clientID)
	}
	mi, err := azidentity.NewManagedIdentityCredential(&opts)
	if err != nil {
		fail(err)
	}
	cred := &recorded{TokenCredential: mi}
	client, err := azblob.NewClient(*account, cred, nil)
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := client.CreateContainer(ctx, *container, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		fail(err)
	}
	if _, err := client.UploadBuffer(ctx, *container, *blob, []byte(*content), nil); err != nil {
		fail(err)
	}
	resp, err := client.DownloadStream(ctx, *container, *blob, nil)
	if err != nil {
		fail(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(map[string]any{"content": string(data), "claims": cred.claims})
	fmt.Println(string(out))
}

func fail(err error) {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		fmt.Fprintf(os.Stderr, "blob-writer: %d %s: %v\n", re.StatusCode, re.ErrorCode, err)
	} else {
		fmt.Fprintf(os.Stderr, "blob-writer: %v\n", err)
	}
	os.Exit(1)
}
