"""An ordinary Azure SDK for Python management program (Debian's python3-azure): it signs in with
azure.identity's ClientSecretCredential (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)
and reads Key Vault's deleted vaults with azure.mgmt.keyvault.KeyVaultManagementClient at
https://management.azure.com, which HTTPS_PROXY (mint's Azure-name proxy) and REQUESTS_CA_BUNDLE
(mint's CA) make mint. It knows nothing about mint.

    python3 deletedvaults.py <vault name> <location>

It prints one JSON object: the deleted vaults' names, the one named, and whether the name is
available.
"""
import json
import os
import sys

from azure.identity import ClientSecretCredential
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import VaultCheckNameAvailabilityParameters

credential = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"])
client = KeyVaultManagementClient(credential, os.environ["AZURE_SUBSCRIPTION_ID"])
name, location = sys.argv[1], sys.argv[2]
deleted = client.vaults.get_deleted(name, location)
available = client.vaults.check_name_availability(VaultCheckNameAvailabilityParameters(name=name))
print(json.dumps({
    "deleted": sorted(v.name for v in client.vaults.list_deleted()),
    "vaultId": deleted.properties.vault_id,
    "nameAvailable": available.name_available,
    "reason": str(available.reason),
}))
