"""What each rule's jobs ask of a cluster, derived from the `distill` sub-command its shell command runs (declared
once, where the command is defined: distill.cli.add_command's gpu / cpu_job), so a new rule cannot be forgotten:

  - a GPU command (training, sampling, feature extraction): `gpu=1` when the profile runs on CUDA;
  - a CPU command (the domain classifier): a cluster job without a GPU;
  - anything else (reports, tables, figures, compare, fetch, and target rules without a command): a local rule, run
    on the submitting node instead of queueing a 32 GB GPU job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

COMMAND = re.compile(r"\{DISTILL\}\s+([a-z0-9-]+)|-m distill\s+([a-z0-9-]+)")


def command_of(shell: str | None) -> str | None:
    """The distill sub-command a rule's shell command runs (None: no shell command, or not distill)."""
    found = COMMAND.search(shell or "")
    return (found.group(1) or found.group(2)) if found else None


def kinds() -> tuple[set[str], set[str]]:
    """(GPU commands, CPU job commands), as the command line declares them."""
    from distill import cli

    cli.build_parser()
    return set(cli.GPU_COMMANDS), set(cli.CPU_COMMANDS)


def classify(rules: Iterable[Any]) -> dict[str, str]:
    """rule name -> 'gpu', 'cpu' or 'local', from each rule's shell command."""
    gpu, cpu = kinds()
    out = {}
    for rule in rules:
        command = command_of(getattr(rule, "shellcmd", None))
        out[rule.name] = "gpu" if command in gpu else "cpu" if command in cpu else "local"
    return out


def apply(workflow, cfg: Mapping[str, Any]) -> dict[str, str]:
    """Give every GPU rule `gpu=1` (when the profile's device is CUDA or auto) and make every light rule local."""
    found = classify(workflow.rules)
    for rule in workflow.rules:
        kind = found[rule.name]
        if kind == "gpu" and cfg["device"] in ("cuda", "auto"):
            rule.resources["gpu"] = 1
        elif kind == "local":
            workflow._localrules.add(rule.name)
    return found
