"""One live workflow run per clone.

The default workflow profile turns Snakemake's own lock off (`nolock`), so that a killed run leaves nothing to
unlock. This lock takes its place: the Snakemake process holds an exclusive `flock` on `.snakemake/distill-run.lock`
for as long as it lives. The kernel drops the lock when the process ends however it ends (a crash, SIGKILL, a power
cut), so a lock whose owner is gone is never in the way: the next run takes it over. A second run started while the
first is alive is refused before it runs a job, with the first one's process id and command. A dry run (`-n`) never
waits for it and is never refused: it only reads.

A run that starts jobs records itself in the file (`claim`) and clears the record when it ends (`release`), so a
record found by the next run is that of a run that was killed: the next run says so and resumes its jobs.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_FILE = Path(".snakemake") / "distill-run.lock"

_held: dict[str, int] = {}  # path -> the open descriptor that holds its lock (for the life of the process)


class RunLocked(RuntimeError):
    """Another live run holds the clone's lock."""


def acquire(path: str | Path = LOCK_FILE) -> tuple[bool, str | None]:
    """Take the lock for this process if it is free: (taken, note). The note says a run that ended without
    finishing (killed) left the lock, now taken over; None otherwise. Not taken: another live run holds it."""
    path = Path(path)
    if str(path) in _held:
        return True, None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False, None
    previous = _parse(os.read(fd, 4096))
    note = None
    if previous:
        note = (f"note: the run started {previous.get('started', '?')} (process {previous.get('pid', '?')}) ended "
                "without finishing; its jobs resume now")
    _held[str(path)] = fd
    return True, note


def claim(path: str | Path = LOCK_FILE) -> None:
    """The run that holds the lock is about to start jobs: record who it is (for a second run's message)."""
    fd = _held[str(Path(path))]
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
             "command": " ".join(["snakemake", *sys.argv[1:]])}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(owner).encode(), 0)


def release(path: str | Path = LOCK_FILE) -> None:
    """A run that ends (finished or failed, not killed) clears its record and drops the lock."""
    fd = _held.pop(str(Path(path)), None)
    if fd is not None:
        os.ftruncate(fd, 0)
        os.close(fd)


def owner(path: str | Path = LOCK_FILE) -> dict:
    """The record of the run that holds the lock (empty if unreadable)."""
    try:
        return _parse(Path(path).read_bytes())
    except OSError:
        return {}


def refusal(path: str | Path = LOCK_FILE) -> str:
    """The message a second live run gets."""
    who = owner(path)
    if not who:  # a process that holds the lock but starts no jobs (a dry run), or one that is starting
        return ("another Snakemake process is reading this workflow in this clone (a dry run, or a run about to "
                "start its jobs); run this command again when it has ended")
    return (f"another run of this workflow is live in this clone (process {who.get('pid', '?')} on "
            f"{who.get('host', '?')}, started {who.get('started', '?')}: {who.get('command', '?')}). Two runs in one "
            "clone would build the same files; wait for it to finish, or stop it (a run that is killed leaves no lock "
            "behind), then run this command again. Its progress: .snakemake/log/")


def _parse(data: bytes) -> dict:
    try:
        record = json.loads(data.decode() or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return record if isinstance(record, dict) else {}
