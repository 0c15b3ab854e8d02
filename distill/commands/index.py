"""Every `distill` sub-command by name, in `distill --help` order: the core groups and each registered method's
(Method.commands), read without building the command line."""

from __future__ import annotations

from functools import cache

from distill.commands import bench, core, latent, project
from distill.commands.spec import Command
from distill.registry import methods


@cache
def every() -> dict[str, Command]:
    found: dict[str, Command] = {}
    for command in (*core.COMMANDS, *latent.COMMANDS, *(c for m in methods() for c in m.commands), *project.COMMANDS,
                    *bench.COMMANDS):
        if command.name in found:
            raise ValueError(f"two commands are named {command.name!r}; every sub-command needs its own name")
        found[command.name] = command
    return found


def get(name: str) -> Command:
    try:
        return every()[name]
    except KeyError:
        raise ValueError(f"unknown distill command {name!r}; known: {sorted(every())}") from None


def job_kinds() -> dict[str, str]:
    """sub-command -> its kind of job, for the computing commands (spec.GPU_JOBS, spec.CPU_JOBS)."""
    return {name: c.job for name, c in every().items() if c.job is not None}
