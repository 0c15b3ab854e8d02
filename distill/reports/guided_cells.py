"""The cells of guided distillation's report (distill/reports/guided.py): each evaluated point of the results rows,
a table cell of FID / IS with its training-seed spread, and the cost of each model (the rounds down to it)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from distill.plugins.guided import line_steps, paths, wtag
from distill.reports.format import fmt
from distill.results import spread
from distill.results import table as results_table


def load_record(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def line_cost(results: Path, experiment: str, exp: dict[str, Any], line: str, steps: int) -> dict[str, float]:
    """What a student of `steps` steps took from the guided teacher: stage one and every round down to it."""
    p = paths(str(results), experiment)
    parts = [load_record(Path(p["stage_one"].format(gline=line), "summary.json"))]
    parts += [load_record(Path(p["round"].format(gline=line, gsteps=n), "summary.json"))
              for n in line_steps(exp, line) if n >= steps]
    return {"seconds": sum(s["wall_seconds"] for s in parts), "images": sum(s["images_seen"] for s in parts),
            "teacher_evals": sum(s.get("teacher_forwards", 0) for s in parts)}


def teacher_cost(results: Path, experiment: str) -> dict[str, float]:
    s = load_record(Path(paths(str(results), experiment)["teacher"], "summary.json"))
    return {"seconds": s["wall_seconds"], "images": s["images_seen"], "teacher_evals": 0}


def points(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, sampler, steps, w): FID and IS (minimum / the protocol's reported value), status, NFE
    and cost."""
    rep = table[table["seed_range"] == results_table.REPORTED]
    keys = ["model", "sampler", "steps", "nfe", "guidance", "status", "cost_seconds", "cost_images",
            "cost_teacher_evals"]
    wide = rep.groupby(keys + ["metric"], dropna=False)["value"].first().unstack("metric").reset_index()
    for m in ("fid", "is"):
        if m not in wide:
            wide[m] = math.nan
    wide = wide.rename(columns={"is": "inception"})  # `is` is not an attribute name
    wide["w"] = wide["guidance"].astype(float)
    wide["steps"] = wide["steps"].astype(int)
    wide["nfe"] = wide["nfe"].astype(int)
    return wide


def cell_text(pt: pd.DataFrame) -> str:
    if pt.empty:
        return "—"
    r = pt.iloc[0]
    if r["status"] != "ok":
        return str(r["status"])
    kid = f"\nKID {fmt(r['kid'], 0)}" if "kid" in r and pd.notna(r["kid"]) else ""
    return f"{fmt(r['fid'], 2)} / {fmt(r['inception'], 2)}{kid}"


def point_at(pts: pd.DataFrame, model: str | None, sampler: str, steps: int, w: float) -> pd.DataFrame:
    return pts[(pts["model"] == model) & (pts["sampler"] == sampler) & (pts["steps"] == steps)
               & ((pts["w"] - w).abs() < 1e-9)]


def seeds_text(pt: pd.DataFrame, model: str, label: str, steps: int, w: float, seeds: tuple | None) -> str:
    """The point's FID over training seeds, where the spread target measured this very number; `seeds` is (its
    frame, the experiment), None without one."""
    if pt.empty or seeds is None:
        return ""
    frame, experiment = seeds
    found = spread.measured_for(frame, "guided", f"{experiment} {model} {label}{steps} w{wtag(w)}", number(pt))
    return "" if found is None else f"\n(seeds {found[0]:.1f} ± {found[1]:.1f})"


def variant_cell(pts: pd.DataFrame, line: str, variant, steps: int, w: float, seeds: tuple | None = None) -> str:
    model = variant.model(line, steps)
    if model is None:
        return "= D at 1 step"
    pt = point_at(pts, model, variant.sampler, steps, w)
    return cell_text(pt) + seeds_text(pt, model, variant.key, steps, w, seeds)


def speedup(exp: dict[str, Any], nfe: int) -> float:
    """The guided teacher's NFE at full steps (two evaluations per step) over a model's NFE."""
    return 2 * exp["teacher_steps"] / nfe


def number(pt: pd.DataFrame, metric: str = "fid") -> float | None:
    r = pt.iloc[0]
    return float(r[metric]) if r["status"] == "ok" and pd.notna(r[metric]) else None
