"""Consistency distillation's claims, checked on the reproduced rows of SFD Table 2 (subject 'table:SFD/Table 2':
every method's rows of that table on its teacher, PD's students gathered there by SFD's card as "PD")."""

from __future__ import annotations

import math

import pandas as pd

from distill.claims import spreads
from distill.claims.registry import FAILS, HOLDS, NOT_CHECKED, Claim
from distill.claims.spreads import overlap_text
from distill.plugins.cd import LABEL

PD = "PD"  # SFD Table 2's name for progressive distillation's students


def _fid(rows: pd.DataFrame, method: str, steps: int) -> float | None:
    r = rows[(rows["method"] == method) & (rows["steps"].astype(str) == str(steps)) & (rows["status"] == "ok")]
    return None if r.empty or math.isnan(float(r["reproduced"].iloc[0])) else float(r["reproduced"].iloc[0])


def _experiment(rows: pd.DataFrame, method: str, steps: int) -> str:
    """The experiment a method's row came from (the spread targets' cells are named by it)."""
    r = rows[(rows["method"] == method) & (rows["steps"].astype(str) == str(steps))]
    return str(r["experiment"].iloc[0]) if not r.empty else ""


def _spread(rows: pd.DataFrame, method: str, spread_of: str, steps: int, value: float):
    return spreads.of(rows, spread_of, f"{_experiment(rows, method, steps)}-n{steps}", value)


def one_step_beats_pd(rows: pd.DataFrame, tol: float) -> tuple[str, str]:
    """Multistep-CM Table 3: CD 4.3 against PD 10.7 at one step on one ImageNet-64 model (the same teacher); SFD
    Table 2 lists CD 3.55 and PD 9.12 on CIFAR-10 (PD's from Salimans & Ho's own teacher)."""
    cd, pd_fid = _fid(rows, LABEL, 1), _fid(rows, PD, 1)
    if cd is None or pd_fid is None:
        return NOT_CHECKED, "no one-step FID of CD or of PD"
    spread = overlap_text("CD", _spread(rows, LABEL, "cd", 1, cd), "PD", _spread(rows, PD, "pd", 1, pd_fid))
    return ((HOLDS if cd <= pd_fid * tol else FAILS),
            f"CD one step {cd:.2f}, PD one step {pd_fid:.2f} ({cd / pd_fid:.2f}x){spread}")


def two_steps_beat_one(rows: pd.DataFrame, tol: float) -> tuple[str, str]:
    """Multistep-CM Table 3: CD 2.0 at two steps against 4.3 at one; SFD Table 2: 2.93 against 3.55 (the multistep
    sampler's second evaluation improves the sample)."""
    one, two = _fid(rows, LABEL, 1), _fid(rows, LABEL, 2)
    if one is None or two is None:
        return NOT_CHECKED, "no one- and two-step FID of CD"
    spread = overlap_text("two steps", _spread(rows, LABEL, "cd", 2, two), "one step",
                          _spread(rows, LABEL, "cd", 1, one))
    return ((HOLDS if two <= one * tol else FAILS),
            f"CD two steps {two:.2f}, one step {one:.2f} ({two / one:.2f}x){spread}")


CLAIMS = (
    Claim("cd.one_step_beats_pd", "SFD", "Multistep-CM Table 3 (quoted); SFD Table 2",
          "one-step consistency distillation is at least as good as one-step progressive distillation of the same "
          "teacher", "table:SFD/Table 2", one_step_beats_pd, 1.0, "CD's one-step FID <= {tol} x PD's",
          ("mini", "paper")),
    Claim("cd.two_steps_beat_one", "SFD", "Multistep-CM Table 3 (quoted); SFD Table 2",
          "the consistency model's two-step samples are at least as good as its one-step samples",
          "table:SFD/Table 2", two_steps_beat_one, 1.0, "CD's two-step FID <= {tol} x its one-step FID",
          ("mini", "paper")),
)
