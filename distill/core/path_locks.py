"""Lock files for paths: flock(2) locks kept in the system's temporary folder, keyed by the locked path, so that
nothing is added beside the path itself and a killed process's lock goes with it (one writer per output,
distill/commands/output_lock.py; one writer of the first-fetch record, distill/data/first_fetch.py)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def lock_file(path: str | Path, kind: str) -> Path:
    """The lock file of `path` among the locks of one `kind` (a folder of the temporary folder, created)."""
    folder = Path(tempfile.gettempdir()) / kind
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(Path(os.path.abspath(path)).resolve()).encode()).hexdigest()[:32]
    return folder / f"{key}.lock"


@contextmanager
def exclusive(path: str | Path, kind: str) -> Iterator[None]:
    """Hold `path`'s lock of `kind`, waiting while another process holds it."""
    with open(lock_file(path, kind), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield
