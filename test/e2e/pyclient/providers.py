"""An ordinary Azure SDK for Python management program (Debian's python3-azure): it signs in
with azure.identity's ClientSecretCredential (AZURE_TENANT_ID, AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET) and reads resource provider metadata with
azure.mgmt.resource.ResourceManagementClient at https://management.azure.com, which HTTPS_PROXY
(mint's Azure-name proxy) and REQUESTS_CA_BUNDLE (mint's CA) make mint. It knows nothing about
mint.

    python3 providers.py <namespace>

It prints one JSON object: {"namespace", "registrationState", "resourceTypes": {type: [apiVersions]}}
"""
import json
import os
import sys

from azure.identity import ClientSecretCredential
from azure.mgmt.resource import ResourceManagementClient

credential = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"])
client = ResourceManagementClient(credential, os.environ["AZURE_SUBSCRIPTION_ID"])
provider = client.providers.get(sys.argv[1])
registered = client.providers.register(sys.argv[1])
print(json.dumps({
    "namespace": provider.namespace,
    "registrationState": provider.registration_state,
    "registeredState": registered.registration_state,
    "resourceTypes": {rt.resource_type: rt.api_versions for rt in provider.resource_types},
    "providers": sorted(p.namespace for p in client.providers.list()),
}))
