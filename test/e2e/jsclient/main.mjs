// An ordinary Azure SDK for JavaScript program: it reads a Key Vault secret from
// https://<vault>.vault.azure.net with @azure/identity and @azure/keyvault-secrets, or only gets
// a token, and knows nothing about mint. test/e2e/jsclient_test.go runs it
//   - under `mint run --proxy`, which gives it IDENTITY_ENDPOINT / IDENTITY_HEADER (the App
//     Service managed-identity dialect), HTTPS_PROXY / HTTP_PROXY / NO_PROXY (mint's Azure-name
//     proxy) and NODE_EXTRA_CA_CERTS (mint's CA);
//   - with only the proxy variables and NODE_EXTRA_CA_CERTS `mint dev` printed, as a VM's program
//     (IMDS at http://169.254.169.254, which mint's proxy answers);
//   - with AZURE_FEDERATED_TOKEN_FILE / AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_AUTHORITY_HOST,
//     as a Kubernetes pod or CI job using workload identity federation.
//
//   node main.mjs (--vault <name> --secret <name> | --scope <scope>)
//                 [--credential managed|default|workload] [--client-id <id>]
//
// It prints one JSON object per line: {"event":"token",...} for each token the SDK asked for (the
// claims it got, observed, not used), then {"event":"secret",...} (or nothing more with --scope)
// or {"event":"error",...} (and exit status 1).
import { parseArgs } from "node:util";
import { AzureCliCredential, DefaultAzureCredential, DeviceCodeCredential, ManagedIdentityCredential, WorkloadIdentityCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";

const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");

function fail(e) {
  print({
    event: "error",
    name: e?.name,
    statusCode: e?.statusCode,
    code: e?.code,
    // @azure/keyvault-secrets puts Key Vault's error body in details; Key Vault answers a
    // missing data-plane role with code Forbidden and innererror ForbiddenByRbac.
    innerCode: e?.details?.error?.innerError?.code,
    message: e?.message,
  });
  process.exit(1);
}

const usage = "usage: node main.mjs (--vault <name> --secret <name> | --scope <scope>) [--credential managed|default|workload] [--client-id <id>]\n";
const { values: args } = parseArgs({
  options: {
    vault: { type: "string" },
    secret: { type: "string" },
    scope: { type: "string" },
    credential: { type: "string", default: "default" },
    "client-id": { type: "string" },
  },
});
if (!(args.scope || (args.vault && args.secret)) || !["managed", "default", "workload", "cli", "devicecode"].includes(args.credential)) {
  process.stderr.write(usage);
  process.exit(2);
}

let credential;
try {
  if (args.credential === "managed") {
    credential = args["client-id"] ? new ManagedIdentityCredential({ clientId: args["client-id"] }) : new ManagedIdentityCredential();
  } else if (args.credential === "cli") {
    // The developer's own sign-in: `az account get-access-token` of the az on PATH.
    credential = new AzureCliCredential();
  } else if (args.credential === "devicecode") {
    // A person signs in with a device code: AZURE_TENANT_ID and AZURE_AUTHORITY_HOST from the
    // environment, the Azure CLI's client id (the default); the prompt is printed as an event.
    credential = new DeviceCodeCredential({
      tenantId: process.env.AZURE_TENANT_ID,
      userPromptCallback: (info) => print({ event: "devicecode", message: info.message, userCode: info.userCode, verificationUri: info.verificationUri }),
    });
  } else if (args.credential === "workload") {
    // Everything from the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE
    // and AZURE_AUTHORITY_HOST, with the SDK's default options (instance discovery included).
    credential = new WorkloadIdentityCredential();
  } else {
    // DefaultAzureCredential takes a user-assigned identity's client id from AZURE_CLIENT_ID.
    credential = new DefaultAzureCredential();
  }
} catch (e) {
  fail(e);
}

// Observe the tokens the SDK gets (the credential does the HTTP; this only decodes the claims).
const observed = {
  async getToken(scopes, options) {
    const token = await credential.getToken(scopes, options);
    if (token) {
      const claims = JSON.parse(Buffer.from(token.token.split(".")[1], "base64url").toString("utf8"));
      print({ event: "token", credential: credential.constructor.name, scopes: [scopes].flat(), claims });
    }
    return token;
  },
};

try {
  if (args.scope) {
    await observed.getToken(args.scope);
  } else {
    const client = new SecretClient(`https://${args.vault}.vault.azure.net`, observed);
    const secret = await client.getSecret(args.secret);
    print({ event: "secret", name: secret.name, value: secret.value, id: secret.properties.id, vaultUrl: secret.properties.vaultUrl });
  }
} catch (e) {
  fail(e);
}
