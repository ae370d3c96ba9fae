"""An ordinary Azure SDK for Python program (Debian's python3-azure): it gets one token with
azure.identity's ManagedIdentityCredential, whichever managed-identity source its environment
selects, and prints the token's claims as JSON (or the error on stderr, exit status 1). It knows
nothing about mint.

    python3 mitoken.py <scope> [<client id>]
"""
import base64
import json
import sys

from azure.identity import ManagedIdentityCredential

scope = sys.argv[1]
client_id = sys.argv[2] if len(sys.argv) > 2 else None
try:
    credential = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    token = credential.get_token(scope)
except Exception as e:  # the test reads the message
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
payload = token.token.split(".")[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))))
