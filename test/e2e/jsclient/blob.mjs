// An ordinary Azure Storage program for JavaScript: it creates a container, uploads a blob and
// reads it back with @azure/storage-blob and ManagedIdentityCredential from @azure/identity, and
// knows nothing about mint. test/e2e/azurite_test.go runs it under `mint run --proxy` against
// Azurite (the Azure Storage emulator), both at Azurite's own URL and at
// https://<account>.blob.core.windows.net through mint's proxy (--forward-storage).
//
//   node blob.mjs --account-url <url> --container <name> --blob <name> --content <text> [--client-id <id>]
//
// It prints one JSON line: {"event":"blob","value":<content read back>,"claims":{…}} (the claims
// of the token the SDK got, observed, not used), or {"event":"error",…} and exit status 1.
import { parseArgs } from "node:util";
import { ManagedIdentityCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";

const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const { values: args } = parseArgs({
  options: {
    "account-url": { type: "string" },
    container: { type: "string" },
    blob: { type: "string" },
    content: { type: "string", default: "" },
    "client-id": { type: "string" },
  },
});
if (!args["account-url"] || !args.container || !args.blob) {
  process.stderr.write("usage: node blob.mjs --account-url <url> --container <name> --blob <name> --content <text> [--client-id <id>]\n");
  process.exit(2);
}

const mi = args["client-id"] ? new ManagedIdentityCredential({ clientId: args["client-id"] }) : new ManagedIdentityCredential();
let claims;
const credential = {
  async getToken(scopes, options) {
    const token = await mi.getToken(scopes, options);
    claims = JSON.parse(Buffer.from(token.token.split(".")[1], "base64url").toString());
    return token;
  },
};

try {
  const service = new BlobServiceClient(args["account-url"], credential);
  const container = service.getContainerClient(args.container);
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient(args.blob);
  await blob.upload(args.content, Buffer.byteLength(args.content));
  const data = await blob.downloadToBuffer();
  print({ event: "blob", value: data.toString(), claims });
} catch (e) {
  print({ event: "error", name: e?.name, statusCode: e?.statusCode, code: e?.code, message: e?.message });
  process.exit(1);
}
