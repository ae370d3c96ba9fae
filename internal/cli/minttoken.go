package cli

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/spf13/cobra"
)

// newBenchTokenCmd is the workload of `mint bench`'s "mint run to first token" figure: it gets
// one token with an unmodified azidentity.ManagedIdentityCredential (the environment `mint run`
// gives it selects the App Service source), prints when it arrived and exits. Hidden: it is a
// measuring tool, not a verb.
func newBenchTokenCmd() *cobra.Command {
	var scope, clientID string
	cmd := &cobra.Command{
		Use:    "bench-token --scope <scope>",
		Short:  "Get one managed-identity token with azidentity and print when it arrived (mint bench's workload)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scope == "" {
				return errors.New("--scope is required")
			}
			opts := &azidentity.ManagedIdentityCredentialOptions{}
			if clientID != "" {
				opts.ID = azidentity.ClientID(clientID)
			}
			cred, err := azidentity.NewManagedIdentityCredential(opts)
			if err != nil {
				return err
			}
			tok, err := cred.GetToken(cmd.Context(), policy.TokenRequestOptions{Scopes: []string{scope}})
			if err != nil {
				return err
			}
			at := time.Now().UnixNano()
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"at": at, "length": len(tok.Token), "expiresOn": tok.ExpiresOn})
		},
	}
	cmd.Flags().StringVar(&scope, "scope", "", "scope to ask for, e.g. https://management.azure.com/.default")
	cmd.Flags().StringVar(&clientID, "client-id", "", "a user-assigned identity's client id (default: the system-assigned identity)")
	return cmd
}
