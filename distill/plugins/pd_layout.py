"""Where Progressive Distillation's models, samples and metrics live, shared by the workflow and the reports.

results/<profile>/pd/<experiment>/n<N>/                       student of N steps (weights, summary; DVC)
results/<profile>/pd_samples/<experiment>/<model>/<spec>-n<steps>.npz  evaluation samples (temporary)
results/<profile>/pd_metrics/<experiment>/<model>/<spec>-n<steps>.json metrics records and grids (small; git)
with <model> 'teacher' or 'n<N>' and <spec> 'ddim' or 'ancestral-g<gamma>'. The teacher is the Table 1 run of the
same parameterization, weighting and seed when the experiment overrides nothing, else pd/<experiment>/teacher/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

TEACHER = "teacher"


class Evaluation(NamedTuple):
    model: str  # 'teacher' or 'n<N>'
    spec: str  # 'ddim' or 'ancestral-g<gamma>'
    steps: int


def check_power_of_two(n: int, what: str) -> None:
    if n < 2 or n & (n - 1):
        raise ValueError(f"{what} must be a power of two >= 2 (each round halves it down to 1), got {n}")


def student_steps(teacher_steps: int) -> list[int]:
    """The students' steps, round by round: N_T/2, N_T/4, ..., 1."""
    check_power_of_two(teacher_steps, "pd teacher_steps")
    out, n = [], teacher_steps // 2
    while n >= 1:
        out.append(n)
        n //= 2
    return out


def fig4_steps(teacher_steps: int) -> list[int]:
    """Sampling steps on Fig. 4's axis: 1, 2, 4, ..., N_T."""
    return sorted(student_steps(teacher_steps) + [teacher_steps])


def student_name(steps: int) -> str:
    return f"n{steps}"


def reuses_table1_teacher(exp: Mapping[str, Any]) -> bool:
    return exp["data"] is None and exp["network"] is None and exp["teacher_training"] is None


def teacher_dir(results: str, name: str, exp: Mapping[str, Any]) -> str:
    if reuses_table1_teacher(exp):
        return f"{results}/teachers/{exp['parameterization']}-{exp['teacher_weighting']}-s{exp['seed']}"
    return f"{results}/pd/{name}/{TEACHER}"


def model_dir(results: str, name: str, exp: Mapping[str, Any], model: str) -> str:
    return teacher_dir(results, name, exp) if model == TEACHER else f"{results}/pd/{name}/{model}"


def previous_model(steps: int, teacher_steps: int) -> str:
    """The teacher of the round distilling to `steps`: the trained teacher, or the student of 2 x steps."""
    return TEACHER if 2 * steps == teacher_steps else student_name(2 * steps)


def spec_name(sampler: str, gamma: float | None = None) -> str:
    return "ddim" if sampler == "ddim" else f"ancestral-g{gamma:g}"


def parse_spec(spec: str) -> tuple[str, float | None]:
    if spec == "ddim":
        return "ddim", None
    if spec.startswith("ancestral-g"):
        return "ancestral", float(spec[len("ancestral-g"):])
    raise ValueError(f"unknown sampler spec {spec!r}: expected 'ddim' or 'ancestral-g<gamma>'")


def evaluations(exp: Mapping[str, Any], gammas: list[float]) -> list[Evaluation]:
    """Everything Fig. 4 needs: the teacher at every step count (DDIM, and the ancestral sampler at each gamma) and
    every student at its own step count (DDIM and each gamma: PD App. F)."""
    specs = [spec_name("ddim")] + [spec_name("ancestral", g) for g in gammas]
    out = [Evaluation(TEACHER, s, n) for n in fig4_steps(exp["teacher_steps"]) for s in specs]
    out += [Evaluation(student_name(n), s, n) for n in student_steps(exp["teacher_steps"]) for s in specs]
    return out


def spread_evaluations(exp: Mapping[str, Any]) -> list[Evaluation]:
    """What the training-seed spread compares: every student with DDIM at its own steps (PD Table 2)."""
    return [Evaluation(student_name(n), spec_name("ddim"), n) for n in student_steps(exp["teacher_steps"])]


def samples_path(results: str, name: str, e: Evaluation) -> str:
    return f"{results}/pd_samples/{name}/{e.model}/{e.spec}-n{e.steps}.npz"


def metrics_path(results: str, name: str, e: Evaluation) -> str:
    return f"{results}/pd_metrics/{name}/{e.model}/{e.spec}-n{e.steps}.json"


def round_updates(exp: Mapping[str, Any], student_steps: int) -> int:
    """Updates of the round that distils to `student_steps` (PD: 50k per round, 100k for the rounds to 2 and 1)."""
    return exp["updates_last_rounds"] if student_steps <= 2 else exp["updates_per_round"]


def table2_steps(cfg: Mapping[str, Any], name: str) -> list[int]:
    """Extra teacher DDIM step counts for PD Table 2 (pd.table2_ddim_steps), evaluated on the table2 experiment."""
    return list(cfg["pd"]["table2_ddim_steps"]) if name == cfg["pd"]["table2"] else []


def all_evaluations(exp: Mapping[str, Any], gammas: list[float], extra_ddim_steps: list[int]) -> list[Evaluation]:
    """Fig. 4's evaluations plus the teacher's DDIM at Table 2's extra step counts (any count, not only powers of
    two)."""
    out = evaluations(exp, gammas)
    return out + [e for e in (Evaluation(TEACHER, spec_name("ddim"), n) for n in extra_ddim_steps) if e not in out]
