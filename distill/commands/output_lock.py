"""One writer per output: a command holds an exclusive lock on each output it declares while it runs, so a second
command writing the same file or folder at the same time (two terminals, a hand-run command beside Snakemake) is
refused before any work instead of one silently replacing the other's result.

The locks are flock(2) locks on files in the system's temporary folder, keyed by the output's resolved path: nothing
is added beside the outputs (no stray files in a results folder), and a killed command's lock goes with its process.
Of a torchrun job's processes only rank 0 holds them (every rank names the same outputs).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path

from distill.errors import ConfigError
from distill.commands.paths import outputs
from distill.core.path_locks import lock_file

KIND = "distill-output-locks"  # their folder in the system's temporary folder
FOLDER = Path(tempfile.gettempdir()) / KIND


def acquire(args: argparse.Namespace, argv: list[str] | None = None) -> list:
    """Lock every declared output of the command (kept open: the locks last as long as the process or until the
    returned files are closed); ConfigError naming the other command when one is held."""
    if os.environ.get("RANK", "0") != "0":  # a torchrun worker other than rank 0
        return []

    held = []
    for dest, (out, _) in outputs(args).items():
        try:
            f = open(lock_file(out, KIND), "a+")
        except OSError as exc:
            for h in held:
                h.close()
            raise ConfigError(f"cannot take the lock of --{dest.replace('_', '-')} {out} in {FOLDER} "
                              f"({exc.strerror or exc}); set TMPDIR to a writable folder") from None
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            try:
                other = json.loads(f.read() or "{}")
            except json.JSONDecodeError:
                other = {}
            f.close()
            for h in held:
                h.close()
            who = (f" (process {other.get('pid')}: {other.get('command')})" if other else "")
            raise ConfigError(f"--{dest.replace('_', '-')} {out} is being written by another command now{who}; "
                              "wait for it to end, or give another path") from None
        f.seek(0)
        f.truncate()
        command = " ".join(["distill", *(sys.argv[1:] if argv is None else argv)])[:300]
        f.write(json.dumps({"pid": os.getpid(), "command": command}))
        f.flush()
        held.append(f)
    return held
