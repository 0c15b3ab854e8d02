"""GPUs for the jobs of one multi-GPU machine (the `local-gpu` Snakemake profile): Snakemake runs at most as many GPU
jobs at once as the machine has GPUs (`--resources gpu=N`), and each job takes the GPUs no other job holds, by an
exclusive lock on one file per GPU. The lock lives as long as the process (and the torchrun it becomes), so a
crashed job frees its GPUs at once.

Not used where a scheduler or the user already chose the GPUs: under SLURM (it sets CUDA_VISIBLE_DEVICES), inside a
torchrun worker, or when CUDA_VISIBLE_DEVICES is set.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import time
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / f"distill-gpu-locks-{os.getuid()}"


def chosen_elsewhere() -> bool:
    return any(k in os.environ for k in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", "LOCAL_RANK"))


def acquire(count: int, visible: int, lock_dir: Path = LOCK_DIR, poll_seconds: float = 5.0,
            inheritable: bool = False) -> list[int]:
    """Lock `count` of the `visible` GPUs no other job holds and return their indices; waits while fewer are free
    (another workflow on the machine). The locks are released when this process (or, with `inheritable`, the
    program it execs) exits."""
    if count > visible:
        raise RuntimeError(f"a job asks for {count} GPUs, but this machine shows {visible}")
    lock_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        held: list[tuple[int, int]] = []
        for gpu in range(visible):
            fd = os.open(lock_dir / f"gpu{gpu}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((gpu, fd))
            if len(held) == count:
                for _, kept in held:
                    os.set_inheritable(kept, inheritable)
                return [g for g, _ in held]
        for _, fd in held:  # not enough free: give back what was taken, try again
            os.close(fd)
        if not waited:
            print(f"waiting for {count} free GPU(s) of {visible} (held by other jobs: {lock_dir})", file=sys.stderr)
            waited = True
        time.sleep(poll_seconds)
