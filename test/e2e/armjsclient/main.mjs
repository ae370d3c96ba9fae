// An ordinary Azure SDK for JavaScript management program: it calls Azure Resource Manager with
// @azure/arm-authorization and @azure/arm-resources, signed in by @azure/identity's
// EnvironmentCredential (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET), and knows
// nothing about mint. test/e2e/armjsclient_test.go runs it with mint's Azure-name proxy
// (HTTPS_PROXY, NO_PROXY) and CA (NODE_EXTRA_CA_CERTS), so it talks to
// https://login.microsoftonline.com and https://management.azure.com as it would in Azure.
//
// Ids and scopes are passed in the SDKs' documented form ("/subscriptions/..."), which the SDKs
// join to their endpoint as "https://management.azure.com//subscriptions/...".
//
//   node main.mjs <op> [--id <id>] [--scope <scope>] [--role-definition-id <id>]
//                 [--principal-id <id>] [--namespace <ns>] [--api-version <v>]
//
// ops: role-assignment-create-by-id, role-assignment-get-by-id, role-assignment-delete-by-id,
// role-definitions-list, resource-get-by-id, provider-get, provider-register, providers-list.
// It prints one JSON object: {"event":"result","value":...} or {"event":"error",...} (exit 1).
import { parseArgs } from "node:util";
import { EnvironmentCredential } from "@azure/identity";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ResourceManagementClient } from "@azure/arm-resources";

const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");

function fail(e) {
  print({ event: "error", name: e?.name, statusCode: e?.statusCode, code: e?.code, message: e?.message });
  process.exit(1);
}

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    id: { type: "string" },
    scope: { type: "string" },
    "role-definition-id": { type: "string" },
    "principal-id": { type: "string" },
    namespace: { type: "string" },
    "api-version": { type: "string" },
  },
});
const op = positionals[0];
const subscriptionId = process.env.AZURE_SUBSCRIPTION_ID;

try {
  const credential = new EnvironmentCredential();
  const authz = new AuthorizationManagementClient(credential, subscriptionId);
  const resources = new ResourceManagementClient(credential, subscriptionId);
  let value;
  switch (op) {
    case "role-assignment-create-by-id":
      value = await authz.roleAssignments.createById(args.id, {
        roleDefinitionId: args["role-definition-id"],
        principalId: args["principal-id"],
        principalType: "ServicePrincipal",
      });
      break;
    case "role-assignment-get-by-id":
      value = await authz.roleAssignments.getById(args.id);
      break;
    case "role-assignment-delete-by-id":
      value = (await authz.roleAssignments.deleteById(args.id)) ?? null;
      break;
    case "role-definitions-list":
      value = [];
      for await (const rd of authz.roleDefinitions.list(args.scope)) {
        value.push({ id: rd.id, roleName: rd.roleName });
      }
      break;
    case "resource-get-by-id":
      value = await resources.resources.getById(args.id, args["api-version"]);
      break;
    case "provider-get":
      value = await resources.providers.get(args.namespace);
      break;
    case "provider-register":
      value = await resources.providers.register(args.namespace);
      break;
    case "providers-list":
      value = [];
      for await (const p of resources.providers.list()) {
        value.push(p);
      }
      break;
    default:
      process.stderr.write(`unknown op ${op}\n`);
      process.exit(2);
  }
  print({ event: "result", value });
} catch (e) {
  fail(e);
}
