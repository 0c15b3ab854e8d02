"""Warm starts: each `distill` command run as a fork of one process that has already imported torch and the suite.

A `distill` command spends about 3 seconds importing torch, the suite and its libraries before it does any work; a
smoke workflow of a hundred short jobs spends most of its time there. With DISTILL_WARM_SOCKET naming the socket of
a running server (`python -m distill.warm_server --socket PATH`), `distill ...` (the console script, or `python -m
distill ...`) hands its arguments, working folder, environment and standard streams to the server, which forks a
child that runs the command as this process would have, and returns the child's exit status; a signal this process
receives goes to the child, and the child stops when this process dies (a killed Snakemake job leaves nothing
running). Without the variable, or when no server answers, the command runs here as usual: the same command, the
same result, only slower to start. A worker of a torchrun launch always runs here (its process is the one torchrun
watches).

The test suite starts a server for its session (tests/conftest.py); a user can do the same for a smoke or mini
workflow on a laptop.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys

SOCKET_VARIABLE = "DISTILL_WARM_SOCKET"
TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID")
SIGNALS = {signal.SIGTERM: b"T", signal.SIGINT: b"I", signal.SIGHUP: b"H"}  # forwarded to the child, one byte each
STATUS = struct.Struct("!i")


def server_socket() -> str | None:
    """The server to hand commands to, or None: none named, or this process is a torchrun worker."""
    path = os.environ.get(SOCKET_VARIABLE)
    if not path or any(v in os.environ for v in TORCHRUN_VARIABLES):
        return None
    return path


def run_in_server(path: str, argv: list[str]) -> int | None:
    """The command's exit status from a fork of the server at `path`; None when no server answers there (the
    caller runs the command itself)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        return None
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    sys.stdout.flush()
    sys.stderr.flush()
    socket.send_fds(conn, [STATUS.pack(len(request))], [0, 1, 2])
    conn.sendall(request)
    forwarded = []

    def forward(sig, _frame):
        forwarded.append(sig)
        conn.send(SIGNALS[sig])

    for sig in SIGNALS:
        signal.signal(sig, forward)
    got = b""
    while len(got) < STATUS.size:
        try:
            part = conn.recv(STATUS.size - len(got))
        except InterruptedError:
            continue
        if not part:  # the child died of a signal: the one forwarded to it, as a fresh process would have
            if forwarded:
                signal.signal(forwarded[-1], signal.SIG_DFL)
                os.kill(os.getpid(), forwarded[-1])
            print("error: the warm process running this command ended without an exit status (killed)",
                  file=sys.stderr)
            return 1
        got += part
    return STATUS.unpack(got)[0]


def main() -> int:
    """The `distill` command (the console script and `python -m distill`): a warm start when a server answers, else
    the command line in this process."""
    path = server_socket()
    status = run_in_server(path, sys.argv[1:]) if path else None
    if status is not None:
        return status
    from distill.cli import main as run_here  # only now: this import is what a warm start saves

    return run_here()
