"""Progressive Distillation's claims, checked on the reproduced numbers of one experiment (reports/pd_fig4_*.pdf).

Each claim states its tolerance; a claim whose inputs were not produced (e.g. a teacher of fewer than 8 steps, or a
failed run) is 'not checked', never silently passed.
"""

from __future__ import annotations

import math
from typing import Any

# "students at 4-8 steps within this factor of the teacher's best FID" (PD Sec. 5: "near optimal results up to 4 or 8
# sampling steps"; CIFAR-10: 4 steps 3.00 and 8 steps 2.57 against a teacher near 2.5, Tables 1-2)
NEAR_TEACHER_FACTOR = 1.5
# "DDIM at the same step counts clearly worse": the undistilled teacher's DDIM FID at least this factor above the
# student's (PD Fig. 4: DDIM "degrades very sharply" below 128 steps)
DDIM_WORSE_FACTOR = 1.5
# "each halving costs far less than the teacher": a round's wall time at most this fraction of teacher training
ROUND_COST_FRACTION = 0.25
# "the computational cost of progressive distillation to 4 sampling steps is comparable or less than for training the
# original model" (PD Sec. 5): rounds down to 4 steps at most this multiple of teacher training
TO_FOUR_COST_FACTOR = 1.0

FEW_STEPS = (4, 8)


def _result(claim: str, status: str, detail: str, tolerance: str) -> dict[str, Any]:
    return {"claim": claim, "status": status, "detail": detail, "tolerance": tolerance}


def _finite(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def students_near_teacher(student_ddim: dict[int, float], teacher_best: float | None) -> dict[str, Any]:
    claim, tol = "distilled students at 4 and 8 steps are near the teacher's best FID", \
        f"student FID <= {NEAR_TEACHER_FACTOR} x teacher's best"
    steps = [n for n in FEW_STEPS if _finite(student_ddim.get(n))]
    if not steps or not _finite(teacher_best):
        return _result(claim, "not checked", "no student of 4 or 8 steps, or no teacher FID", tol)
    ratios = {n: student_ddim[n] / teacher_best for n in steps}
    holds = all(r <= NEAR_TEACHER_FACTOR for r in ratios.values())
    detail = ", ".join(f"{n} steps {student_ddim[n]:.2f} ({r:.2f}x)" for n, r in ratios.items())
    return _result(claim, "holds" if holds else "does not hold", f"{detail}; teacher's best {teacher_best:.2f}", tol)


def ddim_clearly_worse(student_ddim: dict[int, float], teacher_ddim: dict[int, float]) -> dict[str, Any]:
    claim, tol = "undistilled DDIM at 4 and 8 steps is clearly worse than the students", \
        f"teacher DDIM FID >= {DDIM_WORSE_FACTOR} x student FID"
    steps = [n for n in FEW_STEPS if _finite(student_ddim.get(n)) and _finite(teacher_ddim.get(n))]
    if not steps:
        return _result(claim, "not checked", "no student and teacher FID at 4 or 8 steps", tol)
    ratios = {n: teacher_ddim[n] / student_ddim[n] for n in steps}
    holds = all(r >= DDIM_WORSE_FACTOR for r in ratios.values())
    detail = ", ".join(f"{n} steps: DDIM {teacher_ddim[n]:.2f} vs distilled {student_ddim[n]:.2f} ({r:.2f}x)"
                       for n, r in ratios.items())
    return _result(claim, "holds" if holds else "does not hold", detail, tol)


def rounds_cheap(cost: list[dict[str, Any]]) -> dict[str, Any]:
    claim, tol = "each halving costs far less than training the teacher", \
        f"round wall time <= {ROUND_COST_FRACTION} x teacher's"
    rounds = [c for c in cost if c["stage"] != "teacher" and _finite(c.get("fraction_of_teacher"))]
    if not rounds:
        return _result(claim, "not checked", "no completed round or no teacher cost", tol)
    worst = max(rounds, key=lambda c: c["fraction_of_teacher"])
    holds = worst["fraction_of_teacher"] <= ROUND_COST_FRACTION
    return _result(claim, "holds" if holds else "does not hold",
                   f"most expensive round {worst['stage']}: {worst['fraction_of_teacher']:.2f}x the teacher", tol)


def distilling_to_four_costs_no_more(cost: list[dict[str, Any]]) -> dict[str, Any]:
    claim, tol = "distilling down to 4 steps costs no more than training the teacher", \
        f"rounds to 4 steps <= {TO_FOUR_COST_FACTOR} x teacher's wall time"
    to_four = [c for c in cost if c["stage"] != "teacher" and c["student_steps"] >= 4]
    if not to_four or any(not _finite(c.get("fraction_of_teacher")) for c in to_four) or \
            min(c["student_steps"] for c in to_four) != 4:
        return _result(claim, "not checked", "the rounds down to 4 steps did not all run", tol)
    wall = sum(c["fraction_of_teacher"] for c in to_four)
    images = sum(c["images_fraction_of_teacher"] for c in to_four)
    return _result(claim, "holds" if wall <= TO_FOUR_COST_FACTOR else "does not hold",
                   f"{len(to_four)} rounds: {wall:.2f}x the teacher's wall time ({images:.2f}x its images)", tol)


def check_all(student_ddim: dict[int, float], teacher_ddim: dict[int, float], teacher_best: float | None,
              cost: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [students_near_teacher(student_ddim, teacher_best), ddim_clearly_worse(student_ddim, teacher_ddim),
            rounds_cheap(cost), distilling_to_four_costs_no_more(cost)]
