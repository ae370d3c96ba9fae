package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Examples section of each command's --help, az's habit: what a person types,
// with the names the README's quickstart uses (a group "app", an identity "web-id", a container
// app "web", a vault "kv1"). Every line that runs mint is parsed against the command tree by
// TestHelpExamplesParse, so an example cannot name a flag that does not exist.
var examples = map[string]string{
	"mint dev": `# Start mint with its state in ~/.mint (kept across restarts), then load its environment
mint dev --data-dir ~/.mint
. ~/.mint/env

# Another copy beside it: free ports instead of 8443-8445, state in a fresh temp directory
mint dev --addr 127.0.0.1:0 --agent-addr 127.0.0.1:0 --proxy-addr 127.0.0.1:0`,
	"mint env": `# Load a running mint dev's environment into this shell
eval "$(mint env --data-dir ~/.mint)"
mint env --data-dir ~/.mint --shell fish | source`,
	"mint run": `# Run a program as a container app: it gets the app's managed identities
APP=$(mint resource show --type Microsoft.App/containerApps -g app -n web --query id -o tsv)
mint run --resource "$APP" -- ./app

# ... and mint's Azure-name proxy, so https://kv1.vault.azure.net reaches mint
mint run --proxy --resource "$APP" -- secret-reader -vault kv1 -secret db-password

# As a VM would see it (IMDS) instead of App Service's endpoint
mint run --dialect imds --proxy --resource "$APP" -- ./app`,
	"mint login": `# A person, with a code typed at the server's /devicelogin page
mint login --endpoint https://mint.example:8443 --ca-file ca.pem --use-device-code

# A service principal with a certificate
mint login --endpoint https://mint.example:8443 --ca-file ca.pem --tenant "$TENANT_ID" --service-principal -u "$CLIENT_ID" --certificate sp.pem`,
	"mint init": `mint init --data-dir /var/lib/mint --store postgres://mint@db/mint`,
	"mint server": `mint server --data-dir /var/lib/mint --store postgres://mint@db/mint --addr 0.0.0.0:8443 --public-url https://mint.example:8443

# First start: also print the admin's environment (and write it to <data-dir>/env, mode 0600)
mint server --data-dir /var/lib/mint --store postgres://mint@db/mint --print-admin-secret`,
	"mint agent": `# First start on a host: join with a token from 'mint node join-token create'
mint agent --data-dir /var/lib/mint-agent --server https://mint.example:8443 --join-token "$JOIN" --ca-file ca.pem

# Later starts need only the data directory
mint agent --data-dir /var/lib/mint-agent`,
	"mint keys rotate": `mint keys rotate --data-dir ~/.mint`,
	"mint account show": `# Which subscription and tenant, and who am I?
mint account show -o table
mint account show --query user.name -o tsv`,
	"mint account list": `mint account list -o table`,

	"mint group create": `mint group create -n app
mint group create -n app -l westeurope --tags env=dev`,
	"mint group list":   `mint group list -o table`,
	"mint group show":   `mint group show -n app`,
	"mint group delete": `mint group delete -n app --yes`,

	"mint identity create": `mint identity create -g app -n web-id
mint identity create -g app -n web-id -o table`,
	"mint identity show": `mint identity show -g app -n web-id
# The client id, as DefaultAzureCredential's AZURE_CLIENT_ID wants it
mint identity show -g app -n web-id --query clientId -o tsv`,
	"mint identity list": `mint identity list -o table
mint identity list -g app --query "[].clientId" -o tsv`,
	"mint identity delete":         `mint identity delete -g app -n web-id`,
	"mint identity list-resources": `mint identity list-resources -g app -n web-id -o table`,
	"mint identity federated-credential create": `# Trust GitHub Actions runs of one branch
mint identity federated-credential create -g app --identity-name web-id -n github-main --issuer https://token.actions.githubusercontent.com --subject repo:org/app:ref:refs/heads/main`,

	"mint resource create": `# A container app with a system-assigned identity
mint resource create --type Microsoft.App/containerApps -g app -n web --system-assigned

# ... and with a user-assigned one attached
mint resource create --type Microsoft.App/containerApps -g app -n web --assign-identity [system] web-id`,
	"mint resource show": `mint resource show --type Microsoft.App/containerApps -g app -n web
mint resource show --type Microsoft.App/containerApps -g app -n web --query identity.principalId -o tsv`,
	"mint resource list":   `mint resource list -g app -o table`,
	"mint resource delete": `mint resource delete --type Microsoft.App/containerApps -g app -n web`,
	"mint resource identity assign": `# Attach a user-assigned identity (az containerapp identity assign --user-assigned web-id)
mint resource identity assign --type Microsoft.App/containerApps -g app -n web --identities web-id

# Turn the system-assigned identity on
mint resource identity assign --type Microsoft.App/containerApps -g app -n web --system-assigned`,
	"mint resource identity remove": `mint resource identity remove --type Microsoft.App/containerApps -g app -n web --identities web-id`,
	"mint resource identity show":   `mint resource identity show --type Microsoft.App/containerApps -g app -n web`,

	"mint keyvault create": `mint keyvault create -n kv1 -g app`,
	"mint keyvault show": `mint keyvault show -n kv1 -g app
VAULT=$(mint keyvault show -n kv1 -g app --query id -o tsv)`,
	"mint keyvault list": `mint keyvault list -o table`,
	"mint keyvault secret set": `# Writing takes a data role, even for the subscription's Owner: "Key Vault Secrets Officer"
mint keyvault secret set --vault-name kv1 -n db-password --file password.txt
printf %s "$PASSWORD" | mint keyvault secret set --vault-name kv1 -n db-password --file -`,
	"mint keyvault secret show": `mint keyvault secret show --vault-name kv1 -n db-password --query value -o tsv
# By id, as mint prints it, or as a program saw it at Azure's name
mint keyvault secret show --id https://kv1.vault.azure.net/secrets/db-password`,
	"mint keyvault secret list": `mint keyvault secret list --vault-name kv1 -o table`,
	"mint keyvault secret delete": `mint keyvault secret delete --vault-name kv1 -n db-password
mint keyvault secret recover --vault-name kv1 -n db-password`,

	"mint role assignment create": `# Let a managed identity read a vault's secrets
PRINCIPAL_ID=$(mint identity show -g app -n web-id --query principalId -o tsv)
VAULT=$(mint keyvault show -n kv1 -g app --query id -o tsv)
mint role assignment create --assignee "$PRINCIPAL_ID" --role "Key Vault Secrets User" --scope "$VAULT"

# A person, by sign-in name, on a whole resource group
mint role assignment create --assignee dev@mint.localhost --role Reader -g app`,
	"mint role assignment delete": `mint role assignment delete --assignee "$PRINCIPAL_ID" --role "Key Vault Secrets User" --scope "$VAULT"`,
	"mint role assignment list": `mint role assignment list --all -o table
mint role assignment list --assignee "$PRINCIPAL_ID" --all -o table`,
	"mint role definition list": `mint role definition list -o table
mint role definition list --query "[?roleName=='Key Vault Secrets User'].permissions" -o json`,
	"mint role check": `# Why can (or can't) the identity read a secret of kv1?
mint role check --assignee "$PRINCIPAL_ID" --data-action --action Microsoft.KeyVault/vaults/secrets/getSecret/action --scope "$VAULT"`,

	"mint signin-log list": `mint signin-log list -o table
mint signin-log list --app-id "$CLIENT_ID" --since 15m -o table`,
	"mint activity-log list": `mint activity-log list -g app --max-events 10 -o table
mint activity-log list --status Failed -o table`,

	"mint ad user create": `mint ad user create --display-name "Ada Lovelace" --user-principal-name ada@mint.localhost --password "$PASSWORD"`,
	"mint ad user list":   `mint ad user list -o table`,
	"mint ad user update": `# Disable a person: her sessions and refresh tokens stop working
mint ad user update --id ada@mint.localhost --account-enabled false`,
	"mint ad group create": `mint ad group create --display-name "Vault readers" --mail-nickname vault-readers`,
	"mint ad group member add": `# Members may be users, groups, service principals and managed identities
mint ad group member add --group "Vault readers" --member-id "$PRINCIPAL_ID"`,
	"mint ad group member check": `mint ad group member check --group "Vault readers" --member-id "$PRINCIPAL_ID"`,
	"mint ad app create": `mint ad app create --display-name orders-api --identifier-uris api://orders --app-role Orders.Read
# A public client for the device code and browser sign-ins
mint ad app create --display-name tool --public-client-redirect-uris http://localhost --is-fallback-public-client true`,
	"mint ad app credential reset": `# A new client secret, shown once
mint ad app credential reset --id "$APP_ID"`,
	"mint ad sp list": `mint ad sp list -o table`,
	"mint ad sp show": `mint ad sp show --id "$CLIENT_ID"`,

	"mint node join-token create": `# A token that lets one host's agent join, to host the resources of group app
mint node join-token create --scope /subscriptions/$SUBSCRIPTION_ID/resourceGroups/app --ttl 1h --query joinToken -o tsv`,
}

// addExamples sets the Examples section of every command examples has one for.
func addExamples(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		if ex, ok := examples[cmd.CommandPath()]; ok {
			lines := strings.Split(ex, "\n")
			for i, l := range lines {
				if l != "" {
					lines[i] = "  " + l // cobra prints Example as it is: indent it as the flags are
				}
			}
			cmd.Example = strings.Join(lines, "\n")
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
