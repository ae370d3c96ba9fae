"""An unmodified Azure program for Python: azure-identity and azure-keyvault-secrets, as Debian
bookworm ships them (python3-azure). It reads one secret from https://<vault>.vault.azure.net,
or gets one token, with the credential named on the command line, exactly as an application
would build it. It prints one JSON line per token the credential hands out (with the token's
claims, decoded without verification, so that the tests can see whose token it was), then one
line with the secret or the error, and exits 1 on an error.
"""

import argparse
import base64
import json
import os
import sys

from azure.core.exceptions import HttpResponseError
from azure.identity import (ClientSecretCredential, DefaultAzureCredential,
                            ManagedIdentityCredential)
from azure.keyvault.secrets import SecretClient


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def emit(**event):
    print(json.dumps(event), flush=True)


class Recorded:
    """Passes get_token through and reports what it handed out."""

    def __init__(self, credential, name):
        self.credential, self.name = credential, name

    def get_token(self, *scopes, **kwargs):
        token = self.credential.get_token(*scopes, **kwargs)
        emit(event="token", credential=self.name, scopes=list(scopes), claims=claims(token.token),
             expiresOn=token.expires_on)
        return token


def credential(args):
    config = dict(kv.split("=", 1) for kv in args.identity_config)
    if args.credential == "managed":
        kwargs = {}
        if args.client_id:
            kwargs["client_id"] = args.client_id
        if config:
            kwargs["identity_config"] = config
        return Recorded(ManagedIdentityCredential(**kwargs), "ManagedIdentityCredential")
    if args.credential == "default":
        return Recorded(DefaultAzureCredential(), "DefaultAzureCredential")
    # AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; the authority comes from AZURE_AUTHORITY_HOST.
    return Recorded(ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"],
                                           os.environ["AZURE_CLIENT_SECRET"]), "ClientSecretCredential")


def main():
    p = argparse.ArgumentParser(prog="pyclient")
    p.add_argument("--credential", choices=["managed", "default", "secret"], default="default")
    p.add_argument("--client-id")
    p.add_argument("--identity-config", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--vault")
    p.add_argument("--secret")
    p.add_argument("--scope")
    args = p.parse_args()
    cred = credential(args)
    try:
        if args.scope:
            cred.get_token(args.scope)
            return 0
        client = SecretClient("https://%s.vault.azure.net" % args.vault, cred)
        s = client.get_secret(args.secret)
        emit(event="secret", name=s.name, value=s.value, id=s.id, vaultUrl=client.vault_url)
        return 0
    except HttpResponseError as e:  # ClientAuthenticationError is one too
        inner = (e.error.innererror or {}).get("code") if e.error else None
        emit(event="error", name=type(e).__name__, statusCode=e.status_code,
             code=e.error.code if e.error else None, innerCode=inner, message=e.message)
    except Exception as e:  # CredentialUnavailableError and anything else the SDK raises
        emit(event="error", name=type(e).__name__, message=str(e))
    return 1


if __name__ == "__main__":
    sys.exit(main())
