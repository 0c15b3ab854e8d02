"""What a training run may do with the folder it is pointed at.

A folder holding this run's training state is resumed. One holding a run of other settings (or a finished run whose
training state is gone, so its settings cannot be compared) is another run's: it is replaced only when the user says
so (`--overwrite` on the command line; the workflow says so for every job Snakemake has decided to rerun).
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

from distill.errors import ConfigError

# set by the command line for one command (distill/cli.py)
OVERWRITE: ContextVar[bool] = ContextVar("overwrite_other_runs", default=False)


class RunConflict(ConfigError):
    """--out holds another run."""


# What marks a run finished, whatever its kind: its weights (a teacher, a student, a generator) or the summary every
# kind writes last (a DisBack path has nodes and a summary but no model.safetensors)
FINISHED = ("model.safetensors", "summary.json")


def check(out_dir: Path, state_found: bool, same_settings: bool, finished: tuple[str, ...] = FINISHED) -> bool:
    """Whether to start from scratch over another run (True), or resume or start in an empty folder (False); raises
    RunConflict for another run without permission. `finished`: the files that mark this kind of run finished."""
    if state_found and same_settings:
        return False
    marks = [name for name in finished if (out_dir / name).exists()]
    if not state_found and not marks:
        return False
    why = ("holds a run of other settings (its training state differs)" if state_found else
           f"holds a finished run ({', '.join(marks)}) whose training state is gone, so its settings cannot be "
           "compared")
    if not OVERWRITE.get():
        raise RunConflict(f"--out {out_dir} {why}; choose another --out, or pass --overwrite to replace it")
    return True
