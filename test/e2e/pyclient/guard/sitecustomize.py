"""Loaded by Python at start-up when this directory is on PYTHONPATH (the e2e tests put it
there): it ends the program before it connects anywhere but 127.0.0.1, so that no test can reach
the real IMDS address or the internet, whatever the SDK decides to do."""

import os
import socket
import sys

_connect = socket.socket.connect


def _guarded(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if host not in ("127.0.0.1", "::1", "localhost"):
            sys.stderr.write("mint-e2e-guard: refused a connection to %r\n" % (address,))
            sys.stderr.flush()
            os._exit(99)
    return _connect(self, address)


socket.socket.connect = _guarded
