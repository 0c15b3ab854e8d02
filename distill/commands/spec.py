"""One `distill` sub-command, declared once: its options, its handler, and what its jobs need on a cluster."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distill.commands.options import common

# The kinds of computing job. 'teacher', 'distill', 'sample' and 'evaluate' run networks on the profile's device
# (training, sampling, feature extraction); 'classifier' computes on the CPU. Each kind's GPUs, wall time and memory
# come from params.yaml (cluster.<kind>; its threads: threads.<kind>). A command with no kind (reports, tables,
# figures, compare, fetch) is light and runs as a local rule of the submitting node.
GPU_JOBS = ("teacher", "distill", "sample", "evaluate")
CPU_JOBS = ("classifier",)

# a handler: (parsed args, the profile, show progress) -> exit status (None: 0)
Handler = Callable[[argparse.Namespace, dict, bool], Any]


@dataclass(frozen=True)
class Command:
    name: str
    # the handler, or "module:function" to import when the command runs: a report's handler lives in its report
    # module, which imports its method's plug-in (the plug-in never imports its report)
    handler: Handler | str
    help: str  # one line in `distill --help`
    description: str  # the command's own --help
    options: Callable[[argparse.ArgumentParser], None] = lambda p: None  # adds its options
    method: str | None = None  # runs one experiment of this method's section (--experiment required)
    job: str | None = None  # a computing job of this kind (GPU_JOBS, CPU_JOBS), else a light local one
    data_parallel: bool = False  # torchrun may run it as one process per GPU (distill/core/distributed.py)
    # its work, (profile, parsed args, the dry run's training outputs) -> [(unit, count)], for the GPU-hours estimate
    # (distill/bench/work.py); every GPU job declares it
    cost: Callable | None = None
    common: bool = True  # takes the common options (a command of sub-actions gives them to each action instead)

    def __post_init__(self):
        if self.job is not None and self.job not in GPU_JOBS + CPU_JOBS:
            raise ValueError(f"unknown kind of job {self.job!r} for command {self.name!r}; expected one of "
                             f"{GPU_JOBS + CPU_JOBS}")

    def resolve(self) -> Handler:
        if callable(self.handler):
            return self.handler
        module, _, name = self.handler.partition(":")
        return getattr(importlib.import_module(module), name)

    def add_to(self, sub) -> argparse.ArgumentParser:
        """Its parser, under the sub-parsers `sub` (argparse's add_subparsers)."""
        p = sub.add_parser(self.name, help=self.help, description=self.description)
        if self.common:
            common(p)
        p.set_defaults(spec=self)
        if self.method is not None:
            p.set_defaults(method=self.method)
            for action in p._actions:
                if action.dest == "experiment":
                    action.required, action.help = True, f"a {self.method}.experiments entry of params.yaml"
        self.options(p)
        return p

    def parse(self, argv: list[str]) -> argparse.Namespace:
        """Its arguments (argv without the command's name), parsed by its own parser alone."""
        parser = argparse.ArgumentParser(prog="distill")
        self.add_to(parser.add_subparsers(dest="command"))
        return parser.parse_args([self.name, *argv])
