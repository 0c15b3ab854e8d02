"""What each rule's jobs ask of a cluster, derived from the `distill` sub-command its shell command runs, so a new
rule cannot be forgotten. The command declares its kind of job once, where it is defined (distill/commands: its
Command's `job`); params.yaml gives each kind's request (cluster.<kind>: gpus, runtime_minutes, mem_mb):

  - a GPU kind (teacher, distill, sample, evaluate: training, sampling, feature extraction): `gpu=<gpus>`, its wall
    time and memory;
  - the CPU kind (classifier): a cluster job with its wall time and memory, no GPU;
  - anything else (reports, tables, figures, compare, fetch, and target rules without a command): a local rule, run
    on the submitting node instead of queueing a GPU job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from distill.commands.index import job_kinds as declared
from distill.commands.spec import GPU_JOBS

COMMAND = re.compile(r"\{DISTILL\}\s+([a-z0-9-]+)|-m distill\s+([a-z0-9-]+)")


def command_of(shell: str | None) -> str | None:
    """The distill sub-command a rule's shell command runs (None: no shell command, or not distill)."""
    found = COMMAND.search(shell or "")
    return (found.group(1) or found.group(2)) if found else None


def job_kinds() -> dict[str, str]:
    """distill sub-command -> its kind of job, as the commands declare them (no parser is built)."""
    return declared()


def kind_of_rules(rules: Iterable[Any]) -> dict[str, str | None]:
    """rule name -> its kind of job (a key of params.yaml's cluster and threads), None for a light local rule."""
    kinds = job_kinds()
    return {rule.name: kinds.get(command_of(getattr(rule, "shellcmd", None))) for rule in rules}


def classify(rules: Iterable[Any]) -> dict[str, str]:
    """rule name -> 'gpu', 'cpu' or 'local', from each rule's shell command."""
    return {name: "local" if kind is None else "gpu" if kind in GPU_JOBS else "cpu"
            for name, kind in kind_of_rules(rules).items()}


def request(cfg: Mapping[str, Any], kind: str) -> dict[str, int]:
    """The Snakemake resources of a job of this kind: runtime (minutes), mem_mb and, when it asks for any, gpu."""
    want = cfg["cluster"][kind]
    out = {"runtime": want["runtime_minutes"], "mem_mb": want["mem_mb"]}
    if want.get("gpus", 0) > 0:
        out["gpu"] = want["gpus"]
    return out


def apply(workflow, cfg: Mapping[str, Any]) -> dict[str, str | None]:
    """Give every computing rule its kind's request from params.yaml and make every light rule local."""
    found = kind_of_rules(workflow.rules)
    for rule in workflow.rules:
        kind = found[rule.name]
        if kind is None:
            workflow._localrules.add(rule.name)
        else:
            rule.resources.update(request(cfg, kind))
    return found
