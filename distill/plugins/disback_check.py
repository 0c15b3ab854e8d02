"""The checks of a `disback` section that its schema cannot express, named by its card (distill/plugins/disback.py)."""

from __future__ import annotations

from typing import Any

from distill.core.grids import sigma_range_problems
from distill.core.schedule import CosineSchedule
from distill.methods.disback import ScoreDistillation
from distill.plugins.disback import ablation_runs, run_settings


def run_problems(exp: dict[str, Any], where: str) -> list[tuple[str, str]]:
    """Settings the schema cannot express: evaluation points that divide the run, at least `min_eval_points`, a
    valid core (a run of disback.experiments or disback.toy2d; `where` its key path)."""
    problems = []
    its, every = exp["stage_two"]["iterations"], exp["eval_every"]
    if its % every:
        problems.append((f"{where}.eval_every", f"{every} does not divide stage_two.iterations {its}"))
    elif its // every < exp["min_eval_points"]:
        problems.append((f"{where}.eval_every", f"{its // every} evaluation points after the start; the convergence "
                                                f"curve needs at least {exp['min_eval_points']}"))
    try:
        ScoreDistillation.from_params(exp["core"])
    except ValueError as exc:
        problems.append((f"{where}.core", str(exc)))
    return problems


def check(cfg) -> list[tuple[str, str]]:
    """Settings the schema cannot express: evaluation points that divide each run, enough of them, a valid core."""
    out = []
    for name, exp in cfg["disback"]["experiments"].items():
        out += sigma_range_problems(f"disback.experiments.{name}.core", exp["core"], CosineSchedule(),
                                    keys=("sigma_min", "sigma_max", "sigma_init"))
        out += run_problems(exp, f"disback.experiments.{name}")
        for run in ablation_runs(exp):
            its = run_settings(exp, run)["stage_two"]["iterations"]
            if its % exp["eval_every"]:
                out.append((f"disback.experiments.{name}.eval_every", f"does not divide {run}'s iterations {its}"))
    if cfg["disback"].get("toy2d"):  # an analytic mixture: any positive range
        out += sigma_range_problems("disback.toy2d.core", cfg["disback"]["toy2d"]["core"])
        out += run_problems(cfg["disback"]["toy2d"], "disback.toy2d")
    return out
