"""The toy2d page of DisBack's report: convergence (sliced Wasserstein to the exact mixture) and score mismatch
(against the exact score) of DisBack and the baseline over training seeds, mean with a min-max band, and a table of
the iterations to the baseline's final distance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.core.provenance import write_record
from distill.steps.disback_toy2d import LABELS, METHODS
from distill.reports.format import fmt
from distill.reports import convergence
from distill.reports.pdf import save_pdf, table_page
from distill.results.convergence import curve_stats, final_value, first_reaching

PANELS = (("sw", "sliced Wasserstein to the exact mixture"),
          ("mismatch_truth", "score mismatch vs the exact score"),
          ("mismatch_teacher", "score mismatch vs the teacher"))


def summarise(curves: pd.DataFrame, eval_every: int) -> dict[str, Any]:
    """Final distances (mean, std over seeds), the iteration at which each method first reaches the baseline's final
    distance, and the early score mismatch against the exact score (the first point after the start)."""
    sw = curve_stats(curves, "sw")
    level = final_value(sw, "baseline")
    early = curve_stats(curves, "mismatch_truth")
    out = {"baseline_final_sw": level, "methods": {}}
    for m in METHODS:
        last = sw[sw["method"] == m].sort_values("iteration").iloc[-1]
        e = early[(early["method"] == m) & (early["iteration"] == eval_every)]
        out["methods"][m] = {"final_sw_mean": float(last["mean"]), "final_sw_std": float(last["std"]),
                             "seeds": int(last["seeds"]), "iterations_to_baseline_final": first_reaching(sw, m, level),
                             "early_mismatch_truth": float(e["mean"].iloc[0])}
    return out


def build(curves_csv: Path, exp: dict[str, Any], pdf: Path, csv: Path, json_path: Path | None = None) -> dict[str, Any]:
    curves = pd.read_csv(curves_csv)
    summary = summarise(curves, exp["eval_every"])
    if json_path is not None:
        write_record(json_path, {"experiment": "toy2d", **summary}, {"curves": curves_csv})
    s2, path = exp["stage_two"], exp["path"]
    lines = []
    for m in METHODS:
        r = summary["methods"][m]
        lines.append([LABELS[m], f"{fmt(r['final_sw_mean'], 4)} ± {fmt(r['final_sw_std'], 4)} ({r['seeds']} seeds)",
                      "never" if r["iterations_to_baseline_final"] is None
                      else f"{r['iterations_to_baseline_final']:,}",
                      fmt(r["early_mismatch_truth"], 3)])
    caption = (f"Ring mixture of {exp['mixture']['modes']} Gaussians (radius {exp['mixture']['radius']}, std "
               f"{exp['mixture']['std']}); the MLP teacher, generator and fake score start from the same weights. "
               f"DisBack: a path of {path['nodes']} + 1 nodes recorded every {path['interval']} steps (stage 1, "
               f"{path['nodes'] * path['interval']} steps, not counted in the iterations), the generator's target one "
               f"node back every {s2['interval']} iterations ({s2['switch_rule']} rule), then the teacher. Baseline: "
               "the same core with the teacher as target throughout and the fake score started at the teacher. "
               f"Distance: SW_2 between {exp['evaluation']['samples']} generated points and as many exact mixture "
               f"points ({exp['evaluation']['projections']} projections). Mismatch: E (sigma^-2 + sigma_data^-2) "
               "||D_target - D_fake||^2 on the generator's noised points; the baseline's fake score starts as the "
               "teacher, so its mismatch against the teacher is 0 at iteration 0 by construction. Early = at the "
               f"first evaluation point ({exp['eval_every']} iterations). Lines: mean over seeds; bands: min-max.")
    table = table_page("DisBack vs the baseline on exact 2-D truth (toy2d)",
                       ["method", "final SW (mean ± std)", f"iterations to the baseline's final SW "
                                                          f"({fmt(summary['baseline_final_sw'], 4)})",
                        "early mismatch vs exact score"], lines, caption, col_widths=[1.3, 1.4, 1.6, 1.2])
    fig = convergence.figure(curves, PANELS, {m: LABELS[m] for m in METHODS},
                             "Convergence and score mismatch over stage-2 iterations (log scale; a zero, the "
                             "baseline's mismatch against the teacher at iteration 0, is left out).",
                             xlabel="generator iteration (stage 2)")
    atomic_write(pdf, lambda p: save_pdf(p, [table, fig]))
    flat = pd.DataFrame([{"method": m, **r} for m, r in summary["methods"].items()])
    atomic_write(csv, lambda p: flat.to_csv(p, index=False, float_format="%.6g"))
    return summary


def command(args, cfg, progress):
    """`distill disback-toy2d-report`."""
    s = build(Path(args.curves), cfg["disback"]["toy2d"], Path(args.pdf), Path(args.csv), Path(args.json))
    print("toy2d " + ", ".join(f"{m}: final SW {r['final_sw_mean']:.4f}, iterations to the baseline's final "
                                f"{r['iterations_to_baseline_final']}" for m, r in s["methods"].items()))
