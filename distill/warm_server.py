"""The server of warm starts (distill/warm.py): imports torch, the suite, every command's handler and the
text-to-image libraries once, then, for each `python -m distill ...` that connects, forks a child that runs the command
with the caller's arguments, working folder, environment and standard streams.

    python -m distill.warm_server --socket /tmp/distill.sock &
    export DISTILL_WARM_SOCKET=/tmp/distill.sock

The server runs no torch operation itself (its children would inherit a thread pool they cannot use) and never
touches a GPU. Each child watches its caller: a signal the caller forwards is raised in the child, and the child
kills itself when the caller's end of the connection closes (the caller died). With --owner PID the server ends
soon after that process does.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import traceback

import torch  # noqa: F401  (imported once, here: the point of the server)

import distill.metrics.clip_score  # noqa: F401  (the text-to-image libraries: diffusers, transformers)
import distill.nets.diffusers_text  # noqa: F401
import distill.nets.diffusers_unet  # noqa: F401
import distill.nets.diffusers_vae  # noqa: F401
from distill.cli import main
from distill.commands.index import every
from distill.registry import load_registrations
from distill.warm import SIGNALS, STATUS

BY_CODE = {code: sig for sig, code in SIGNALS.items()}


def preload() -> None:
    """Every module a command may import when it runs: the methods' registrations and every handler."""
    load_registrations()
    for command in every().values():
        command.resolve()


def _watch(conn: socket.socket) -> None:
    """In the child: raise each signal the caller forwards; die with the caller."""
    while True:
        try:
            code = conn.recv(1)
        except OSError:
            code = b""
        if not code:
            os.kill(os.getpid(), signal.SIGKILL)
        if code in BY_CODE:
            os.kill(os.getpid(), BY_CODE[code])


def _child(conn: socket.socket, fds: list[int], request: dict) -> None:
    """Run one command as `python -m distill` would, then exit with its status (never returns)."""
    status = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setsid()  # a process group of its own: a command's own subprocesses go with it
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [sys.argv[0], *request["argv"]]
        threading.Thread(target=_watch, args=(conn,), daemon=True).start()
        try:
            status = main(request["argv"]) or 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what would have ended a fresh process: its traceback, status 1
        traceback.print_exc()
        status = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            conn.sendall(STATUS.pack(status))
        finally:
            os._exit(status)


PARENT_CHECK_SECONDS = 5  # how often the server checks that its owner (--owner) is alive
REQUEST_SECONDS = 30  # a caller that connects and sends nothing is dropped after this, so it blocks no other


def _receive(conn: socket.socket) -> tuple[list[int], dict]:
    conn.settimeout(REQUEST_SECONDS)
    head, fds, _, _ = socket.recv_fds(conn, STATUS.size, 3)
    if len(head) != STATUS.size or len(fds) != 3:
        raise ConnectionError("a malformed request")
    size, data = STATUS.unpack(head)[0], b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            raise ConnectionError("the caller left mid-request")
        data += part
    conn.settimeout(None)
    return fds, json.loads(data)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve(path: str, owner: int | None = None) -> None:
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    server.bind(path)
    server.listen(64)
    print(f"distill warm server: listening at {path}", flush=True)
    server.settimeout(PARENT_CHECK_SECONDS)
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            if owner is not None and not _alive(owner):  # its owner is gone (a killed test session): so is it
                server.close()
                os.unlink(path)
                return
            continue
        conn.settimeout(None)
        try:
            fds, request = _receive(conn)
        except (ConnectionError, OSError, ValueError) as exc:
            print(f"distill warm server: request refused ({exc})", file=sys.stderr, flush=True)
            conn.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            server.close()
            _child(conn, fds, request)
        for fd in fds:
            os.close(fd)
        conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m distill.warm_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", required=True, help="the socket path to listen at (DISTILL_WARM_SOCKET)")
    parser.add_argument("--owner", type=int, default=None,
                        help="a process id: the server ends soon after that process does (default: it runs until "
                             "killed)")
    args = parser.parse_args()
    serve(args.socket, args.owner)
