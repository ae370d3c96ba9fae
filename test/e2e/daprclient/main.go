// Command daprclient loads Dapr's real Azure Key Vault secret store component
// (secretstores.azure.keyvault from github.com/dapr/components-contrib, unmodified) the way the
// Dapr sidecar does — its constructor, then Init with the component's metadata — and asks it for
// secrets. It knows nothing of mint: the component authenticates with Dapr's own Azure auth chain
// (common/authentication/azure, on azidentity) and reaches https://<vaultName>.vault.azure.net;
// the environment `mint run --proxy --resource <app id>` gives it (IDENTITY_ENDPOINT /
// IDENTITY_HEADER, HTTPS_PROXY, SSL_CERT_FILE) is all that brings it to mint.
//
//	daprclient -metadata vaultName=kv1 [-metadata azureClientId=<client id>] -get db-password [-version-id V] [-bulk]
//
// Each -metadata is one entry of the component's spec.metadata. It prints one JSON line per step
// on stdout: {"op":"init"}, {"op":"get","name":N,"data":{...}}, {"op":"bulk","data":{...}}, with
// "error" (the component's error text) instead of "data" when the step failed, and then exits
// with status 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dapr/components-contrib/secretstores"
	"github.com/dapr/components-contrib/secretstores/azure/keyvault"
	"github.com/dapr/kit/logger"
)

type line struct {
	Op    string `json:"op"`
	Name  string `json:"name,omitempty"`
	Data  any    `json:"data,omitempty"`
	Error string `json:"error,omitempty"`
}

func main() {
	props := map[string]string{}
	var gets []string
	flag.Func("metadata", "a component metadata entry, name=value (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want name=value")
		}
		props[name] = value
		return nil
	})
	flag.Func("get", "GetSecret this secret (repeatable)", func(s string) error { gets = append(gets, s); return nil })
	versionID := flag.String("version-id", "", "with -get: the secret version (the request's version_id metadata)")
	bulk := flag.Bool("bulk", false, "BulkGetSecret: every enabled secret of the vault")
	flag.Parse()
	if len(props) == 0 || (len(gets) == 0 && !*bulk) {
		fmt.Fprintln(os.Stderr, "usage: daprclient -metadata vaultName=<vault> [-metadata name=value ...] [-get <secret> [-version-id <version>]] [-bulk]")
		os.Exit(2)
	}

	// The component logs through dapr/kit's logger; keep stdout for the JSON lines.
	log := logger.NewLogger("dapr.contrib.secretstores.azure.keyvault")
	log.SetOutput(os.Stderr)
	store := keyvault.NewAzureKeyvaultSecretStore(log)
	defer store.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := json.NewEncoder(os.Stdout)
	failed := false
	emit := func(l line, err error) {
		if err != nil {
			l.Data, l.Error, failed = nil, err.Error(), true
		}
		out.Encode(l)
	}

	var md secretstores.Metadata
	md.Name = "azurekeyvault"
	md.Properties = props
	if err := store.Init(ctx, md); err != nil {
		emit(line{Op: "init"}, err)
		os.Exit(1)
	}
	emit(line{Op: "init"}, nil)
	for _, name := range gets {
		req := secretstores.GetSecretRequest{Name: name, Metadata: map[string]string{}}
		if *versionID != "" {
			req.Metadata[keyvault.VersionID] = *versionID
		}
		resp, err := store.GetSecret(ctx, req)
		emit(line{Op: "get", Name: name, Data: resp.Data}, err)
	}
	if *bulk {
		resp, err := store.BulkGetSecret(ctx, secretstores.BulkGetSecretRequest{Metadata: map[string]string{}})
		emit(line{Op: "bulk", Data: resp.Data}, err)
	}
	if failed {
		os.Exit(1)
	}
}
