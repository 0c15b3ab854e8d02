"""SFD's pages after its table (distill/reports/sfd.py builds reports/sfd.pdf): Figure 1 (FID against fine-tuning
time, the published points beside the reproduced ones), the teacher's solvers with their grids and clipping, the
ablations, and the budget curve (FID against training iterations per NFE)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distill.core.samplers import get_sampler
from distill.core.sigma_solvers import OFFICIAL_CLIP
from distill.pipeline.sfd_curve import point_name
from distill.plugins.sfd import curve_iterations, curve_runs, run_settings, solver_points, step_counts, student_nfe
from distill.plugins.sfd_layout import experiment_of, paths
from distill.reports.format import fmt
from distill.reports.pdf import figure_caption, pyplot, table_page
from distill.reports.published import select
from distill.results import table as results_table

PAPER = "SFD"
TABLES = {"cifar10": "Table 2", "imagenet64": "Table 3"}  # SFD's table of each data set
COLUMNS = {"Table 2": "CIFAR-10", "Table 3": "ImageNet-64"}  # the published column each table's report reads


def table_of(cfg: dict[str, Any]) -> str:
    """The SFD table whose layout the report follows: its data set's (sfd.reproduces), Table 2 for any other."""
    return TABLES.get(cfg["sfd"]["reproduces"], "Table 2")


def teacher_hours(published_csv: Path) -> float:
    """SFD Figure 1's caption: the hours to train its teacher from scratch ("about 200"), from published.csv."""
    row = select(published_csv, PAPER, "Figure 1", exact_only=True)
    row = row[row["method"] == "teacher trained from scratch"]
    if len(row) != 1:
        raise ValueError(f"{published_csv} lacks SFD Figure 1's teacher training time (method 'teacher trained from "
                         "scratch')")
    return float(row["value"].iloc[0])


def figure1(cfg, repro: pd.DataFrame, teacher_seconds: float | None, hours: float):
    """FID against fine-tuning time + shift on a log axis. The paper adds 1 hour for a teacher of `hours` hours;
    the same proportion of this teacher's training time is added here (an imported teacher, not trained here: the
    paper's hour)."""
    plt = pyplot()
    shift = teacher_seconds / hours if teacher_seconds else 3600.0
    fig, ax = plt.subplots(figsize=(10, 5))
    ok = repro[(repro["status"] == "ok")].assign(nfe=repro["steps"].astype(int))
    points = []
    for method, group in ok.groupby("method", sort=False):
        x = group["cost_seconds"].fillna(0).astype(float) + shift
        ax.scatter(x, group["reproduced"], label=method, s=28)
        points += list(zip(x, group["reproduced"], group["nfe"]))
    ax.set_xscale("log")
    ax.set_xlabel(f"fine-tuning wall time + {fmt(shift, 1)} s (seconds, log scale)")
    ax.set_ylabel("FID (minimum over seed ranges)")
    ax.set_title("SFD Figure 1: FID against fine-tuning time (labels: NFE)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: over none of the points
    how = (f"here the same proportion of this teacher's training time ({fmt(teacher_seconds, 1)} s / {hours:g} = "
           f"{fmt(shift, 1)} s) is added" if teacher_seconds else
           "the teacher was imported, not trained here, so the paper's hour (3600 s) is added")
    figure_caption(fig, f"Profile '{cfg['profile']}'. The paper's Figure 1 adds one hour to every time for a teacher "
                        f"of about {hours:g} hours; {how}, so the teacher's solvers (no fine-tuning) sit at the left "
                        "edge. Each point is a row of the table on the first page.")
    label_points(ax, points)
    return fig


def label_points(ax, points: list[tuple[float, float, int]]) -> None:
    """Each point's NFE beside it, at the first of a few offsets whose label keeps clear of every point and of the
    labels placed so far (crowded points of several methods sit close together)."""
    offsets = [(4, 3), (-10, -11), (4, -11), (-10, 3), (4, 10), (-10, -18), (10, -4), (-16, -4)]  # in points
    scale = ax.figure.dpi / 72.0
    dots = [np.array(ax.transData.transform((x, y))) for x, y, _ in points]
    placed: list[np.ndarray] = []
    for (x, y, n), dot in zip(points, dots):
        for dx, dy in offsets:
            at = dot + scale * np.array([dx + 3, dy + 3])  # the label's centre, about 6 points across
            if all(np.abs(at - q).max() > 6 * scale for q in placed) and \
                    all(np.abs(at - q).max() > 5 * scale for q in dots):
                break
        placed.append(at)
        ax.annotate(f"{n}", (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=7)


def curve_points(cfg: dict[str, Any], results: Path) -> list[dict[str, Any]]:
    """Every budget-curve point: run, NFE, iterations per step count, trajectories of that step count, FID."""
    p, out = paths(str(results), experiment_of(cfg)), []
    for run in curve_runs(cfg):
        s = run_settings(cfg, run)
        counts = step_counts(s)
        for it in curve_iterations(cfg, run):
            for n in counts:
                record = json.loads(Path(p["curve"].format(srun=run), f"{point_name(it, n)}.json").read_text())
                fid = (record.get("metrics") or {}).get("fid", {}).get("min") if record["status"] == "ok" else None
                out.append({"run": run, "kind": s["kind"], "nfe": student_nfe(n, s["afs"]),
                            "iterations": it // len(counts), "trajectories": it * s["train"]["batch_size"] // len(counts),
                            "fid": fid, "status": record["status"]})
    return out


def curve_figure(cfg, points: list[dict[str, Any]], floor_fid: float | None):
    """FID against training iterations per step count, one line per run and NFE (symmetric log axis: 0 is the
    teacher with the student's sampler)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for (run, nfe), group in pd.DataFrame(points).groupby(["run", "nfe"], sort=False):
        group = group[group["fid"].notna()].sort_values("iterations")
        style = "--" if run_settings(cfg, run)["kind"] == "sfd-v" else "-"
        ax.plot(group["iterations"], group["fid"], style, marker="o", label=f"{run}, NFE {nfe}")
    if floor_fid is not None:
        ax.axhline(floor_fid, color="grey", lw=1, ls=":", label="real-data floor")
    its = sorted({p["iterations"] for p in points if p["iterations"] > 0})
    ax.set_xscale("symlog", linthresh=its[0] if its else 1)
    ax.set_xticks([0] + its)
    ax.set_xticklabels(["0 (teacher)"] + [str(i) for i in its])
    ax.set_yscale("log")
    ax.set_xlabel("training iterations per step count (an SFD-v run: its total / its step counts)")
    ax.set_ylabel("FID (minimum over seed ranges; log scale)")
    ax.set_title("SFD's budget curve: FID against training iterations, per NFE")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    last = {}
    for p in points:
        if p["fid"] is not None and p["iterations"] == max(its, default=0):
            last[(p["run"], p["nfe"])] = p["fid"]
    half = {}
    for p in points:
        if p["fid"] is not None and len(its) > 1 and p["iterations"] == its[-2]:
            half[(p["run"], p["nfe"])] = p["fid"]
    moves = "; ".join(f"{run} NFE {nfe}: {fmt(half[(run, nfe)], 2)} -> {fmt(v, 2)}"
                      for (run, nfe), v in last.items() if (run, nfe) in half)
    figure_caption(fig, f"Profile '{cfg['profile']}'. Each run's student saved along training (sfd.curve) and "
                        "evaluated with the protocol; 0 is the teacher sampled with the student's Euler steps and AFS "
                        "on the student's grid, where distillation starts. The last point of each line is the run's "
                        "budget, its row on the first page. The last doubling of the budget moved the FID: "
                        f"{moves or 'n/a'}.")
    return fig


# SFD Table 2's names of the solver rows it publishes (sampler, max_order) -> name; others keep the registry's label
SOLVER_NAMES = {("euler", None): "DDIM", ("dpmpp", 3): "DPM++(3M)"}


def solver_label(sampler: str, options: dict[str, Any]) -> str:
    return SOLVER_NAMES.get((sampler, options.get("max_order")), get_sampler(sampler).label +
                            (f" (order {options['max_order']})" if "max_order" in options else ""))


GRID_NAMES = {"edm": "polynomial (rho 7)", "edm_logsnr": "log-SNR uniform"}


def ablation_rows(cfg, own: pd.DataFrame) -> tuple[list[list[str]], list[dict[str, Any]]]:
    fid = results_table.reported_fid(own)
    fid = fid[fid["model"] != "teacher"]
    base = next((r for r in cfg["sfd"]["runs"] if not run_settings(cfg, r).get("ablation")
                 and run_settings(cfg, r)["kind"] == "sfd" and isinstance(run_settings(cfg, r)["num_steps"], int)
                 and run_settings(cfg, r)["num_steps"] == cfg["sfd"]["student"]["num_steps"]), None)
    runs = ([base] if base else []) + [r for r in cfg["sfd"]["runs"] if run_settings(cfg, r).get("ablation")]
    body, records = [], []
    for run in runs:
        s = run_settings(cfg, run)
        row = fid[fid["experiment"] == run]
        if row.empty:
            continue
        r = row.iloc[0]
        ts = s["teacher_solver"]
        teacher = f"{solver_label(ts['sampler'], ts['options'])}, {ts['options'].get('clip') or get_clip(ts['sampler'])}"
        value = float(r["value"]) if r["status"] == "ok" else None
        records.append({"run": run, "varies": s.get("ablation") or "base", "nfe": int(r["nfe"]), "fid": value,
                        "seconds": float(r["cost_seconds"])})
        body.append([run, s.get("ablation") or "(base run)", str(s["inserted"]), str(s["afs"]).lower(), teacher,
                     fmt(s["grid"]["sigma_min"], 4), s["loss"].upper(), str(int(r["nfe"])),
                     fmt(value, 2) if value is not None else str(r["status"]),
                     fmt(r["kid"], 0) if value is not None else "—", fmt(float(r["cost_seconds"]), 1)])
    return body, records


def solver_page(cfg, own: pd.DataFrame, floor_text: str):
    """Every solver row of the teacher with its grid and clipping: the official settings and their ablations."""
    fid = results_table.reported_fid(own)
    fid = fid[fid["experiment"].str.startswith("solver-")]
    body = []
    for name, nfe in solver_points(cfg):
        s = cfg["sfd"]["solvers"][name]
        row = fid[(fid["experiment"] == f"solver-{name}") & (fid["nfe"].astype(int) == nfe)]
        ok = not row.empty and row.iloc[0]["status"] == "ok"
        value = "—" if row.empty else (fmt(float(row.iloc[0]["value"]), 2) if ok else str(row.iloc[0]["status"]))
        kid = fmt(row.iloc[0]["kid"], 0) if ok else "—"
        clip = s["options"].get("clip") or get_clip(s["sampler"])
        body.append([name, solver_label(s["sampler"], s["options"]), GRID_NAMES.get(s["grid"], s["grid"]), clip,
                     s.get("ablation") or "official", str(nfe), value, kid])
    return table_page("The teacher's solvers: each with its official grid and clipping, and the ablations",
                      ["row", "solver", "grid", "x-hat clipping", "varies", "NFE", "FID", "KID"], body,
                      f"Profile '{cfg['profile']}'. Official settings (sfd-main/solvers.py, diff-solvers-main/"
                      "README.md): Euler and iPNDM on the polynomial grid without clipping, DPM-Solver++ on the "
                      "log-SNR grid with dynamic thresholding (the 0.995 quantile of |x-hat|, at least 1). An "
                      f"ablation row varies one of them; only the official rows stand for SFD {table_of(cfg)}'s. KID: "
                      "the same evaluation's (unbiased in N, ~0 for a perfect generator). "
                      + floor_text, col_widths=[1.2, 1.6, 1.4, 1.0, 0.9, 0.5, 0.7, 0.7])


def get_clip(sampler: str) -> str:
    return OFFICIAL_CLIP[sampler]
