package cli

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/mint-id/mint/internal/agent"
	"github.com/mint-id/mint/internal/federation"
)

// federatedTokenFlags are `mint run`'s workload identity federation flags: the agent gives the
// program a token about its resource (mint's own issuer, subject mint:resource:<resource id>),
// which mint run writes to a file and keeps fresh, and the program uses it through
// WorkloadIdentityCredential, as a Kubernetes pod uses its projected service-account token. The
// identity (or application) trusts it through a federated identity credential with that issuer
// and subject.
type federatedTokenFlags struct {
	file     string
	audience string
	clientID string
}

func (f *federatedTokenFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.file, "federated-token-file", "", "write a federated token about the resource to this file, keep it fresh while the program runs, and "+
		"set AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST for WorkloadIdentityCredential (the agent obtains it as the node: no credential of yours is used)")
	fs.StringVar(&f.audience, "federated-audience", federation.DefaultAudience, "the aud claim of the federated token")
	fs.StringVar(&f.clientID, "client-id", "", "client id of the user-assigned identity or application whose federated credential trusts the token (AZURE_CLIENT_ID); required with --federated-token-file")
}

// options are agent.Run's; nil when the flag is unset.
func (f *federatedTokenFlags) options() (*agent.FederatedTokenOptions, error) {
	if f.file == "" {
		return nil, nil
	}
	if f.clientID == "" {
		return nil, errors.New("--client-id is required with --federated-token-file: the client id of the user-assigned identity or application whose federated identity credential trusts the token")
	}
	return &agent.FederatedTokenOptions{File: f.file, Audience: f.audience, ClientID: f.clientID}, nil
}
