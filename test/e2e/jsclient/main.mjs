// An ordinary Azure SDK for JavaScript program: it reads a Key Vault secret from
// https://<vault>.vault.azure.net with @azure/identity and @azure/keyvault-secrets, and knows
// nothing about mint. test/e2e/jsclient_test.go runs it under `mint run --proxy`, which gives it
// IDENTITY_ENDPOINT / IDENTITY_HEADER (the App Service managed-identity dialect), HTTPS_PROXY /
// HTTP_PROXY / NO_PROXY (mint's Azure-name proxy) and NODE_EXTRA_CA_CERTS (mint's CA).
//
//   node main.mjs --vault <name> --secret <name> [--credential managed|default] [--client-id <id>]
//
// It prints one JSON object per line: {"event":"token",...} for each token the SDK asked for (the
// claims it got, observed, not used), then {"event":"secret",...} or {"event":"error",...} (and
// exit status 1).
import { parseArgs } from "node:util";
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
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

const { values: args } = parseArgs({
  options: {
    vault: { type: "string" },
    secret: { type: "string" },
    credential: { type: "string", default: "default" },
    "client-id": { type: "string" },
  },
});
if (!args.vault || !args.secret || !["managed", "default"].includes(args.credential)) {
  process.stderr.write("usage: node main.mjs --vault <name> --secret <name> [--credential managed|default] [--client-id <id>]\n");
  process.exit(2);
}

let credential;
if (args.credential === "managed") {
  credential = args["client-id"] ? new ManagedIdentityCredential({ clientId: args["client-id"] }) : new ManagedIdentityCredential();
} else {
  // DefaultAzureCredential takes a user-assigned identity's client id from AZURE_CLIENT_ID.
  credential = new DefaultAzureCredential();
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
  const client = new SecretClient(`https://${args.vault}.vault.azure.net`, observed);
  const secret = await client.getSecret(args.secret);
  print({ event: "secret", name: secret.name, value: secret.value, id: secret.properties.id, vaultUrl: secret.properties.vaultUrl });
} catch (e) {
  fail(e);
}
