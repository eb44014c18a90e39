"""The network guard that every chapter kernel starts with.

`make test` executes each chapter twice in fresh kernels: once to write the
notebook, once under nbval, which compares every printed output with the first
run. Both kernels start with tests/book/offline/profile_default/startup, tested here.
"""

import os
import subprocess
import sys
from pathlib import Path

IPYTHONDIR = Path(__file__).parent / "offline"


def run_in_guarded_ipython(code):
    environment = dict(os.environ, IPYTHONDIR=str(IPYTHONDIR))
    return subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        check=False,  # the tests read the return code and the output
        timeout=60,
    )


def test_outside_addresses_are_refused():
    result = run_in_guarded_ipython(
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
        "except OSError as error:\n"
        "    print('refused:', error)\n"
    )
    assert "refused: network access is not allowed in a chapter" in result.stdout


def test_loopback_stays_open():
    result = run_in_guarded_ipython(
        "import socket\n"
        "server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen()\n"
        "client = socket.create_connection(server.getsockname(), timeout=5)\n"
        "print('connected', client.getpeername()[0])\n"
    )
    assert "connected 127.0.0.1" in result.stdout
