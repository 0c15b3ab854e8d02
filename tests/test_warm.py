"""Warm starts (distill/warm.py): a command run as a fork of the warm server writes what a fresh process writes,
exits with its status and message, and stops with its caller; with no server answering, the command runs fresh."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from distill.warm import SOCKET_VARIABLE
from conftest import ROOT

TEACHER = ["train-teacher", "--profile", "smoke", "--parameterization", "x", "--weighting", "snr", "--seed", "0",
           "--no-progress", "--threads", "1"]


def _env(warm: bool, path: str | None = None):
    env = {k: v for k, v in os.environ.items() if k != SOCKET_VARIABLE}
    if warm:
        env[SOCKET_VARIABLE] = path or os.environ[SOCKET_VARIABLE]
    return env


def _server_up(timeout: float = 120) -> None:
    """Wait until the session's server answers (it imports for some seconds after the session starts)."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(os.environ[SOCKET_VARIABLE])
                return
            except OSError:
                time.sleep(0.5)
    pytest.fail("the session's warm server never answered")


@pytest.fixture
def warm_server():
    if SOCKET_VARIABLE not in os.environ:
        pytest.skip("no warm server in this session (tests/conftest.py starts one)")
    _server_up()


def test_a_warm_command_writes_what_a_fresh_one_writes(tmp_path, warm_server):
    runs = {}
    for warm in (True, False):
        out = tmp_path / ("warm" if warm else "fresh")
        done = subprocess.run([sys.executable, "-m", "distill", *TEACHER, "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, env=_env(warm))
        assert done.returncode == 0, done.stderr
        runs[warm] = ((out / "model.safetensors").read_bytes(), done.stdout.splitlines()[-1])
    assert runs[True] == runs[False]
    bad = [sys.executable, "-m", "distill", "sample", "--model", str(tmp_path / "none.safetensors"), "--out",
           str(tmp_path / "s.npz")]
    statuses = {warm: subprocess.run(bad, cwd=ROOT, capture_output=True, text=True, env=_env(warm))
                for warm in (True, False)}
    assert statuses[True].returncode == statuses[False].returncode == 1
    assert statuses[True].stderr == statuses[False].stderr and "error:" in statuses[True].stderr


def _processes_in(folder) -> list[int]:
    """The processes whose working folder is `folder` (a warm child works in its caller's)."""
    found = []
    for proc in os.listdir("/proc"):
        try:
            if proc.isdigit() and os.readlink(f"/proc/{proc}/cwd") == str(folder):
                found.append(int(proc))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads processes' working folders from /proc")
def test_a_warm_command_stops_with_its_caller(tmp_path, warm_server):
    """SIGTERM is passed on (the caller ends as a fresh process would: killed by it); SIGKILL of the caller leaves
    no child running."""
    long = ["train-teacher", "--params", str(ROOT / "params.yaml"), "--profile", "mini", "--parameterization", "x",
            "--weighting", "snr", "--seed", "0", "--no-progress", "--threads", "1", "--out", "run"]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        here = tmp_path / sig.name
        here.mkdir()
        caller = subprocess.Popen([sys.executable, "-m", "distill", *long], cwd=here, env=_env(True),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(_processes_in(here)) < 2 and time.monotonic() < deadline:  # the caller and its warm child
            time.sleep(0.1)
        assert len(_processes_in(here)) == 2, "no warm child started"
        caller.send_signal(sig)
        caller.wait(timeout=30)
        assert caller.returncode == -sig
        deadline = time.monotonic() + 10
        while _processes_in(here) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _processes_in(here), f"a warm child outlived its caller ({sig.name})"


def test_with_no_server_answering_the_command_runs_fresh(tmp_path):
    done = subprocess.run([sys.executable, "-m", "distill", *TEACHER, "--out", str(tmp_path / "t")], cwd=ROOT,
                          capture_output=True, text=True, env=_env(True, str(tmp_path / "no-server.sock")))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "t" / "model.safetensors").is_file()
