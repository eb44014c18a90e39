"""IPython start-up file: chapters may not reach the network.

The Makefile points IPYTHONDIR here when it executes chapters (``make book``,
``make test``, ``make notebooks``), so every kernel runs this first: a
connection to any address outside the loopback range raises ``OSError``.
"""

import socket

_connect = socket.socket.connect
_LOOPBACK = ("127.", "::1", "localhost")


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(
        _LOOPBACK
    ):
        raise OSError(f"network access is not allowed in a chapter: {address}")
    return _connect(self, address)


socket.socket.connect = _loopback_only
