"""The workflow's one-live-run lock (distill/workflow/lock.py), process by process: a live holder refuses a second
run (naming itself once it has claimed the run, or as a dry run before), a holder killed with SIGKILL leaves a lock
the next process takes over with a note, and a run that ends clears its record. (The same through Snakemake:
tests/test_recovery.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distill.workflow import lock

HOLD = """
import sys, time
from distill.workflow import lock
taken, _ = lock.acquire(sys.argv[1])
assert taken
if sys.argv[2] == "claim":
    lock.claim(sys.argv[1])
print("held", flush=True)
time.sleep(60)
"""


def _holder(path: Path, claim: bool) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), "claim" if claim else "read"],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.parametrize("claim,named", [(True, "(process {pid} on"),
                                          (False, "a dry run, or a run about to start its jobs")])
def test_a_live_holder_refuses_a_second_run_and_is_named(tmp_path, claim, named):
    """Claimed: the run that holds the lock names itself. Not claimed yet: a dry run, or a run still reading."""
    path = tmp_path / "run.lock"
    holder = _holder(path, claim)
    try:
        assert lock.acquire(path) == (False, None)
        assert named.format(pid=holder.pid) in lock.refusal(path)
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_run_leaves_a_lock_the_next_takes_over_and_a_finished_one_leaves_none(tmp_path):
    path = tmp_path / "run.lock"
    holder = _holder(path, claim=True)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 10
    while True:  # the kernel drops the lock with the process
        taken, note = lock.acquire(path)
        if taken or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert taken and f"(process {holder.pid}) ended without finishing" in note
    lock.claim(path)
    lock.release(path)
    assert path.read_text() == ""
    assert lock.acquire(path) == (True, None)  # a run that ended leaves no record
    lock.release(path)
