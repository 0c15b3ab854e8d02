"""The method registry: every method of the suite is a plug-in, found here and nowhere else.

A method `<name>` is
  - its math in `distill/methods/<name>.py` (losses, targets; no I/O),
  - its card and file layout in `distill/plugins/<name>.py` (a `METHOD = Method(...)`: CLI commands, final targets,
    its rows of the results table, what it reproduces of the published tables, DVC outputs),
  - its pipeline steps in `distill/steps/<name>.py`, which the card names ("module:function") and never imports,
  - its rules in `workflows/methods/<name>.smk`,
  - its tables and figures in `distill/reports/<name>.py`, which import the plug-in (its layout and label); the
    plug-in names its report functions ("module:function", see `named`) and never imports them,
  - its report captions in `workflows/report/<name>.rst`,
  - its claims in `distill/claims/<name>.py`,
  - its section `<name>` of a profile in params.yaml, with its schema `workflows/schema/methods/<name>.json` (a
    profile without the section does not run the method).
`rule all`, the DVC stages (`distill dvc-yaml`), `distill compare`, the claims registry, the job-time accounting and
the CLI read REGISTERED; adding a method adds one line to it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGISTERED = (
    "table1",  # PD Table 1: teachers of every parameterization x loss weighting (no distillation)
    "pd",  # Progressive Distillation (Salimans & Ho 2022)
    "kd",  # Knowledge distillation (Luhman & Luhman 2021), the one-step baseline of PD Table 2
    "sfd",  # Simple and Fast Distillation (Zhou et al. 2024): the EDM solvers, SFD, SFD-v, the second stage
    "guided",  # On Distillation of Guided Diffusion Models (Meng et al. 2023): w-conditioned students, D/S samplers
    "disback",  # DisBack (Zhang et al. 2025): one-step score distillation along the teacher's degradation path
    "cd",  # Consistency distillation (Song et al. 2023): one- and few-step consistency models of the same teacher
)


def named(ref: str) -> Callable:
    """A function given as "module:function", imported when first called: how a plug-in refers to the functions of
    its report module (which imports the plug-in), so that no import runs from a plug-in to its report."""
    module, _, name = ref.partition(":")

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.ref = ref
    return call


@dataclass(frozen=True)
class TrainingStep:
    """One training step of a method as its trainer makes it, on freshly initialised networks of a profile's shapes
    (throughput does not depend on the weights). The benchmarks (tests/benchmarks) run it through
    `distill.core.training.StepRunner` and divide its time by the time of its network passes."""
    parts: Mapping[str, Any]  # name -> distill.core.training.Part: the networks it updates
    step_fn: Callable[[Any], Any]  # distill.core.training.StepFn
    images: int  # images one step processes
    passes: str  # the network passes of one step, in words (the denominator of its overhead ratio)
    frozen: tuple[Any, ...] = ()  # networks it evaluates without updating them (a teacher)


@dataclass(frozen=True)
class Method:
    name: str  # params.yaml section, rule file, benchmarks/<name>/, rows/<name>*.csv, CLI command prefix
    label: str  # its name in every table, figure and results row
    # the published (paper, table) it reproduces -> the published method names it fills there (None: every row)
    reproduces: Mapping[tuple[str, str], frozenset[str] | None]
    sections: tuple[str, ...]  # params.yaml sections its jobs read besides its own (DVC params, rerun triggers)
    commands: tuple[Any, ...]  # its sub-commands (distill.commands.spec.Command)
    targets: Callable[[Mapping[str, Any]], list[str]]  # final targets (reports) of a profile that runs it
    rows: Callable[[Mapping[str, Any], str], list[str]]  # its parts of the results table under results/<profile>
    published_rows: Callable[[Any, Mapping[str, Any]], Any]  # its results rows -> rows keyed like published.csv
    subjects: Callable[[Mapping[str, Any], Path], dict[str, dict[str, Any]]]  # claim subjects from its summaries
    # its DVC outputs, as paths under results/<profile>: folders of weights and samples (cached, pushed to the DVC
    # remote), folders of small files kept in git (not cached), report JSONs (metrics) and plot-data folders
    dvc_outs: tuple[str, ...] = ()
    dvc_small: tuple[str, ...] = ()
    dvc_metrics: Callable[[Mapping[str, Any]], list[str]] = lambda cfg: []
    # (folder, x, y): a folder of one CSV per line (distill.results.plots)
    dvc_plots: Callable[[Mapping[str, Any]], list[tuple[str, str, str]]] = lambda cfg: []
    # (profile, device) -> its training steps by name ({"distillation": TrainingStep}), networks and data on the
    # device; the benchmarks find and time every method's steps here
    training_steps: Callable[..., Mapping[str, TrainingStep]] = lambda cfg, device="cpu": {}
    claims: str = ""  # module with CLAIMS (default distill.claims.<name>)
    jobs_shared: bool = False  # its job time includes the jobs no method owns (classifier, reference statistics)
    # checks the schema cannot express, on a profile that runs it: (key path under the profile, problem) pairs
    check: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None = None
    # rows of other published tables that a table of its paper lists too, on the same teacher: (its paper, table) ->
    # {(source paper, table): {source method name: the name it has here}} (SFD Table 2 lists PD's and KD's students
    # of PD Table 2); distill.reports.reproduced.gather copies them, so the source methods never know of it
    gathers: Mapping[tuple[str, str], Mapping[tuple[str, str], Mapping[str, str]]] = field(default_factory=dict)
    # how far a paper-scale reproduction of its published tables may miss: (paper, table, metric) ->
    # distill.claims.tolerances.NumberTolerance; compare fails a paper-profile number beyond it
    tolerances: Mapping[tuple[str, str, str], Any] = field(default_factory=dict)
    # modules that register parts of the shared registries when imported (a sampler, a grid): imported before any
    # computing command runs (`load_registrations`), so that `distill sample` knows a method's own sampler while the
    # CLI's start-up imports no torch
    registers: tuple[str, ...] = ()

    def gathered_from(self) -> set[tuple[str, str]]:
        """The published tables whose rows it gathers."""
        return {source for sources in self.gathers.values() for source in sources}

    @property
    def claims_module(self) -> str:
        return self.claims or f"distill.claims.{self.name}"

    @property
    def rule_file(self) -> str:
        return f"workflows/methods/{self.name}.smk"

    @property
    def schema_file(self) -> str:
        return f"workflows/schema/methods/{self.name}.json"


def methods() -> list[Method]:
    """Every registered method's card, in registration order."""
    out = []
    for name in REGISTERED:  # found by name: this module sits below the plug-ins it finds
        card = importlib.import_module(f"distill.plugins.{name}").METHOD
        if card.name != name:
            raise ValueError(f"distill/plugins/{name}.py declares method {card.name!r}; the names must agree")
        out.append(card)
    return out


def load_registrations() -> None:
    """Import every registered method's `registers` modules (their samplers and grids join the shared registries)."""
    for m in methods():
        for module in m.registers:
            importlib.import_module(module)


def get(name: str) -> Method:
    for m in methods():
        if m.name == name:
            return m
    raise ValueError(f"unknown method {name!r}; registered: {list(REGISTERED)}")


def active(cfg: Mapping[str, Any]) -> list[Method]:
    """The methods a profile runs: those whose section it has (is_activated)."""
    return [m for m in methods() if cfg.get(m.name) is not None]


def final_targets(cfg: Mapping[str, Any]) -> list[str]:
    """Every final target of a profile (get_final_output): each active method's reports."""
    return [t for m in active(cfg) for t in m.targets(cfg)]
