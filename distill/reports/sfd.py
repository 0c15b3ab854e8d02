"""SFD's report: its rows of the results table (the teacher's solvers and every student, each with its NFE and its
fine-tuning cost), a JSON summary for the claims, and reports/sfd.pdf:
  1. SFD Table 2's layout: method, NFE, FID, fine-tuning cost, beside the published CIFAR-10 numbers, with the rows
     of every other method that reproduces a row of SFD Table 2 on the same teacher (PD, KD: the registry);
  2. Figure 1: FID against fine-tuning time on a log axis, shifted as the paper's caption shifts it;
  3. the ablations: each run that varies one setting of the NFE-2 run, beside it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.core.provenance import write_record
from distill.plugins.sfd import (KINDS, LABEL, STUDENT_SAMPLER, curve_iterations, curve_runs, gits_points, paths,
                                 run_settings, solver_points, solver_steps, step_counts, student_nfe,
                                 student_points, teacher_run)
from distill.reports.format import fmt
from distill.reports.pdf import figure_caption, pyplot, save_pdf, table_page
from distill.results import table as results_table
from distill.results.plots import write_losses
from distill.results.table import record_rows

PAPER, TABLE = "SFD", "Table 2"
# SFD Table 2's names of the solver rows it publishes (sampler, max_order) -> name; others keep the registry's label
SOLVER_NAMES = {("euler", None): "DDIM", ("dpmpp", 3): "DPM++(3M)"}


def solver_label(sampler: str, options: dict[str, Any]) -> str:
    from distill.core.samplers import get_sampler

    return SOLVER_NAMES.get((sampler, options.get("max_order")), get_sampler(sampler).label +
                            (f" (order {options['max_order']})" if "max_order" in options else ""))


GRID_NAMES = {"edm": "polynomial (rho 7)", "edm_logsnr": "log-SNR uniform"}


def _options(options: dict[str, Any]) -> str:
    return ",".join(f"{k}={str(v).lower()}" for k, v in sorted(options.items()))


def _load(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def student_cost(cfg: dict[str, Any], results: Path, run: str) -> dict[str, float]:
    """What the student took from the Table 1 teacher: its training, and for the second stage its first stage's too
    (as a PD student's cost counts every round down to it)."""
    p, settings = paths(str(results)), run_settings(cfg, run)
    s = _load(p["student"].format(srun=run) + "/summary.json")
    cost = {"seconds": s["wall_seconds"], "images": s["trajectories"], "teacher_evals": s["teacher_evals"]}
    if settings["kind"] == "second-stage":
        first = student_cost(cfg, results, settings["teacher_run"])
        cost = {k: cost[k] + first[k] for k in cost}
    return cost


def rows(cfg: dict[str, Any], results: Path) -> list[dict[str, Any]]:
    p, teacher = paths(str(results)), f"{results}/teachers/{teacher_run(cfg)}"
    common = dict(profile=cfg["profile"], method="sfd", dataset=cfg["data"]["name"],
                  resolution=cfg["data"].get("resolution"), teacher=teacher, grid="edm")
    out = []
    for name, nfe in solver_points(cfg):
        s = cfg["sfd"]["solvers"][name]
        record = _load(p["solver_metrics"].format(ssolver=name, snfe=nfe))
        out += record_rows(record, **{**common, "grid": s["grid"]}, experiment=f"solver-{name}", model="teacher",
                           sampler=s["sampler"],
                           options=_options(s["options"]), steps=solver_steps(cfg, name, nfe),
                           nfe=record["sampling"].get("nfe", nfe), cost_seconds=0.0, cost_images=0,
                           cost_teacher_evals=0)
    for name, nfe in gits_points(cfg):
        s = cfg["sfd"]["solvers"][name]
        record, schedule = _load(p["gits_metrics"].format(ssolver=name, snfe=nfe)), \
            _load(p["gits_schedule"].format(ssolver=name, snfe=nfe))
        out += record_rows(record, **{**common, "grid": "gits"}, experiment=f"gits-{name}", model="teacher",
                           sampler=s["sampler"], options=_options(s["options"]), steps=schedule["num_steps"],
                           nfe=record["sampling"].get("nfe", nfe), cost_seconds=schedule["search_seconds"],
                           cost_images=schedule["trajectories"], cost_teacher_evals=schedule["teacher_evals"])
    for run, n in student_points(cfg):
        settings = run_settings(cfg, run)
        record, cost = _load(p["metrics"].format(srun=run, sn=n)), student_cost(cfg, results, run)
        out += record_rows(record, **common, experiment=run, model=settings["kind"], sampler=STUDENT_SAMPLER,
                           options=_options({"afs": settings["afs"]}), steps=n,
                           nfe=record["sampling"].get("nfe", student_nfe(n, settings["afs"])),
                           cost_seconds=cost["seconds"], cost_images=cost["images"],
                           cost_teacher_evals=cost["teacher_evals"])
    return out


TABLES = {"cifar10": "Table 2", "imagenet64": "Table 3"}  # SFD's table of each data set
FIGURE1 = {"euler": "DDIM", "dpmpp": "DPM++", "ipndm": "iPNDM"}  # Figure 1's names of the solver points (CIFAR-10)


def published_rows(table, cfg):
    """The rows of SFD Table 2 (CIFAR-10) or 3 (ImageNet 64), by `sfd.reproduces`: the teacher's solvers by their
    published names, SFD, SFD-v and the second stage (the ablation runs are not rows of it), keyed by NFE; on
    CIFAR-10 also Figure 1's solver points."""
    from distill.reports.reproduced import frame, keyed

    dataset = cfg["sfd"]["reproduces"]
    if dataset not in TABLES:
        return frame([])
    out = []
    fid = results_table.reported_fid(table)
    for r in fid.itertuples():
        value, nfe = (r.value if r.status == "ok" else None), str(int(r.nfe))
        if r.model == "teacher" and r.experiment.startswith("gits-"):
            out.append(keyed(PAPER, TABLES[dataset], dataset, "GITS", "FID", r, value, r.status, steps=nfe))
            if dataset == "cifar10":
                out.append(keyed(PAPER, "Figure 1", dataset, "GITS", "FID", r, value, r.status, steps=nfe))
            continue
        if r.model == "teacher":
            s = cfg["sfd"]["solvers"].get(r.experiment.removeprefix("solver-"))
            if s is None or s.get("ablation"):  # an ablation of a solver's grid or clipping is not a published row
                continue
            method = solver_label(s["sampler"], s["options"])
            if dataset == "cifar10" and s["sampler"] in FIGURE1:
                out.append(keyed(PAPER, "Figure 1", dataset, FIGURE1[s["sampler"]], "FID", r, value, r.status,
                                 steps=nfe))
        else:
            if r.experiment not in cfg["sfd"]["runs"] or run_settings(cfg, r.experiment).get("ablation"):
                continue
            method = KINDS[run_settings(cfg, r.experiment)["kind"]]
        out.append(keyed(PAPER, TABLES[dataset], dataset, method, "FID", r, value, r.status, steps=nfe))
    return frame(out)


def table_rows(cfg: dict[str, Any], own: pd.DataFrame, others: list[Path], results: Path) -> pd.DataFrame:
    """Every reproduced row of SFD Table 2 on SFD's teacher: SFD's own and those of the other methods that
    reproduce a row of it (their results-table parts, kept to the same teacher)."""
    from distill.plugins import active

    teacher = f"{results}/teachers/{teacher_run(cfg)}"
    table = pd.concat([own, results_table.read(others)] if others else [own], ignore_index=True)
    table = table[table["teacher"].astype(str) == teacher]
    context = results_table.one_context(table[table["seed_range"] == results_table.REPORTED], "SFD Table 2")
    if context:  # rows of different classifiers or reference statistics are not compared
        raise ValueError(f"{context}; rebuild them on one machine (snakemake --cores all -- reports/sfd.pdf)")
    from distill.reports.reproduced import gather

    cards = active(cfg)
    sources = {(PAPER, TABLE)} | {s for m in cards for s in m.gathered_from()}
    keyed = [m.published_rows(table[table["method"] == m.name], cfg) for m in cards if sources & set(m.reproduces)]
    out = gather(pd.concat(keyed, ignore_index=True), cards)
    return out[(out["paper"] == PAPER) & (out["table"] == TABLE)].reset_index(drop=True)


def published(published_csv: Path) -> pd.DataFrame:
    """SFD Table 2's CIFAR-10 column: FID (with its qualifier, e.g. '> 5') and fine-tuning A100 hours per method and
    NFE; SFD-v's one total time (NFE '2;3;4;5') is given to each of its rows as 'total'."""
    from distill.reports.published import select

    pub = select(published_csv, PAPER, TABLE, exact_only=True)
    pub = pub[pub["dataset"] == "cifar10"].assign(steps=lambda d: d["steps"].astype(str))

    def text(q, v, spec: str = "g") -> str:
        return f"{q if isinstance(q, str) else ''}{float(v):{spec}}"

    fid = pub[pub["metric"] == "FID"]
    fid = fid.assign(fid=[text(q, v, ".2f") for q, v in zip(fid["qualifier"], fid["value"])])[["method", "steps",
                                                                                                 "fid"]]
    hours = {}
    for r in pub[pub["metric"] != "FID"].itertuples():
        for n in str(r.steps).split(";"):
            hours[(r.method, n)] = text(r.qualifier, r.value) + (" (total)" if ";" in str(r.steps) else "")
    return fid.assign(hours=[hours.get((m, n), "—") for m, n in zip(fid["method"], fid["steps"])])


def _cost_text(seconds: float, images: float) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)) or seconds == 0:
        return "0 (no training)"
    return f"{fmt(seconds, 1)} s, {int(images):,} traj./img"


def sort_rows(repro: pd.DataFrame) -> pd.DataFrame:
    """The published table's order: the teacher's solvers, the other methods, then SFD, SFD-v and the second
    stage; by NFE within each."""
    from distill.plugins.sfd import LABEL_SECOND, LABEL_V

    last = {LABEL: 2, LABEL_V: 3, LABEL_SECOND: 4}
    solver_rank = {m: 0 for m in repro["method"] if repro.loc[repro["method"] == m, "cost_seconds"].fillna(0).eq(0).all()}
    rank = [last.get(m, solver_rank.get(m, 1)) for m in repro["method"]]
    out = repro.assign(nfe=repro["steps"].astype(int), _rank=rank, _first=repro.groupby("method", sort=False).ngroup())
    return out.sort_values(["_rank", "_first", "nfe"], kind="stable").drop(columns=["_rank", "_first"])


def spread_cell(cfg, method: str, nfe: int) -> tuple[str, str] | None:
    """(spread file, cell) of a row of SFD Table 2 on this teacher: SFD's runs (sfd_spread), PD's and KD's students
    of the experiment that reproduces the CIFAR-10 rows (pd_spread, kd_spread); None for the teacher's solvers."""
    from distill.plugins.kd import LABEL as KD_LABEL
    from distill.plugins.sfd import LABEL_SECOND, LABEL_V

    runs = {LABEL: f"nfe{nfe}", LABEL_V: "v", LABEL_SECOND: "second"}
    if method in runs:
        return "sfd", f"{runs[method]} NFE {nfe}"
    for name, section in (("pd", "pd"), ("kd", "kd")):
        label = "PD" if name == "pd" else KD_LABEL
        exps = ((cfg.get(section) or {}).get("experiments") or {})
        found = [e for e, x in exps.items() if x.get("reproduces") == "cifar10"]
        if method == label and found:
            return name, f"{found[0]}-n{nfe}"
    return None


def table_page_of(cfg, repro: pd.DataFrame, pub: pd.DataFrame, floor_text: str, results: Path | None = None):
    from distill.results import spread

    pub_by = {(r.method, str(r.steps)): r for r in pub.itertuples()}
    frames = {m: spread.read_method(results, m) for m in ("sfd", "pd", "kd")} if results is not None else {}
    body = []
    repro = sort_rows(repro)
    for r in repro.itertuples():
        p = pub_by.get((r.method, r.steps))
        cell = spread_cell(cfg, r.method, r.nfe)
        seeds = spread.text(spread.measured_for(frames[cell[0]], cell[0], cell[1], r.reproduced)) if cell and frames \
            else ""
        body.append([r.method, str(r.nfe), fmt(r.reproduced, 2) + seeds if r.status == "ok" else r.status,
                     fmt(getattr(r, "kid", None), 0),
                     _cost_text(r.cost_seconds, r.cost_images),
                     p.fid if p is not None else "—", p.hours if p is not None else "—"])
    caption = (f"Profile '{cfg['profile']}': every method distils or samples the Table 1 teacher {teacher_run(cfg)} "
               f"({cfg['data']['name']}, {cfg['data'].get('resolution')}px); published numbers are SFD Table 2's "
               "CIFAR-10 column (EXACT), whose cost is A100 hours of fine-tuning. Reproduced cost: wall seconds on "
               "the machine that ran it and the trajectories (SFD) or images (PD, KD) its training processed; the "
               "teacher's solvers need none. SFD's 'PD' rows are Salimans & Ho's CIFAR-10 numbers. NFE = network "
               "evaluations per sample (SFD's num_steps - 2 with AFS). In parentheses, where a spread target "
               "(reports/sfd_spread.pdf, pd_spread.pdf, kd_spread.pdf) measured it for that very number: mean ± "
               "standard deviation over training seeds; the other numbers come from one training seed (the solvers "
               "from one teacher). KID: the same evaluation's (minimum over the ranges; unbiased in N, ~0 for a "
               "perfect generator). " + floor_text)
    return table_page("SFD Table 2 (CIFAR-10 layout): FID against NFE and fine-tuning cost",
                      ["method", "NFE", "FID (reproduced)", "KID", "fine-tuning cost (reproduced)",
                       "FID (published)", "A100 h (published)"], body, caption,
                      col_widths=[2.2, 0.6, 1.8, 0.9, 2.4, 1.1, 1.1])


def teacher_hours(published_csv: Path) -> float:
    """SFD Figure 1's caption: the hours to train its teacher from scratch ("about 200"), from published.csv."""
    from distill.reports.published import select

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
    import numpy as np

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
                      "ablation row varies one of them; only the official rows stand for SFD Table 2's. KID: the same "
                      "evaluation's (unbiased in N, ~0 for a perfect generator). "
                      + floor_text, col_widths=[1.2, 1.6, 1.4, 1.0, 0.9, 0.5, 0.7, 0.7])


def get_clip(sampler: str) -> str:
    from distill.core.sigma_solvers import OFFICIAL_CLIP

    return OFFICIAL_CLIP[sampler]


def curve_points(cfg: dict[str, Any], results: Path) -> list[dict[str, Any]]:
    """Every budget-curve point: run, NFE, iterations per step count, trajectories of that step count, FID."""
    from distill.pipeline.sfd_curve import point_name

    p, out = paths(str(results)), []
    for run in curve_runs(cfg):
        s = run_settings(cfg, run)
        counts = step_counts(s)
        for it in curve_iterations(cfg, run):
            for n in counts:
                record = _load(str(Path(p["curve"].format(srun=run), f"{point_name(it, n)}.json")))
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


def build(cfg: dict[str, Any], results: Path, pdf: Path, csv: Path, json_path: Path, rows_csv: Path, plots: Path,
          others: list[Path], floor_json: Path | None = None, published_csv: Path | None = None) -> dict[str, Any]:
    from distill.pipeline import floor

    own = results_table.write(rows_csv, rows(cfg, results))
    floor_record = floor.matching(floor.read(floor_json), own)
    floor_text = floor.describe_floor(floor_record) if floor_record is not None else ""
    p = paths(str(results))
    write_losses({run: Path(p["student"].format(srun=run)) for run in cfg["sfd"]["runs"]}, plots / "losses")
    repro = table_rows(cfg, own, others, results)
    from distill.reports.published import PUBLISHED_CSV

    published_csv = published_csv or PUBLISHED_CSV
    pub = published(published_csv)
    teacher_summary = Path(results, "teachers", teacher_run(cfg), "summary.json")
    teacher_seconds = _load(str(teacher_summary))["wall_seconds"] if teacher_summary.is_file() else None
    ablation_body, ablations = ablation_rows(cfg, own)
    curve = curve_points(cfg, results)
    pages = [table_page_of(cfg, repro, pub, floor_text, results), figure1(cfg, repro, teacher_seconds, teacher_hours(published_csv))]
    if curve:
        pages.append(curve_figure(cfg, curve, floor.fid(floor_record)))
    pages.append(solver_page(cfg, own, floor_text))
    if ablation_body:
        pages.append(table_page(
            "SFD ablations (SFD Table 1's settings; its numbers are NOT FOUND): one setting of the base run varied",
            ["run", "varies", "M", "AFS", "teacher solver", "sigma_min", "loss", "NFE", "FID", "KID", "train (s)"],
            ablation_body, f"Profile '{cfg['profile']}'. Every run trains the same number of trajectories as the "
                           "base run from the same teacher; the FID and KID are the minimum over the protocol's seed "
                           "ranges. " + floor_text, col_widths=[1.3, 1.1, 0.4, 0.5, 1.5, 0.8, 0.5, 0.5, 0.7, 0.6, 0.8]))
    atomic_write(pdf, lambda path: save_pdf(path, pages))
    atomic_write(csv, lambda path: repro.to_csv(path, index=False, float_format="%.4f"))
    points = [{"method": r.method, "nfe": int(r.steps), "fid": None if r.status != "ok" else float(r.reproduced),
               "status": r.status, "cost_seconds": float(r.cost_seconds) if pd.notna(r.cost_seconds) else None,
               "experiment": r.experiment} for r in repro.itertuples()]
    summary = {"profile": cfg["profile"], "teacher": teacher_run(cfg), "teacher_seconds": teacher_seconds,
               "points": points, "ablations": ablations, "curve": curve, "fid_floor": floor.fid(floor_record)}
    write_record(json_path, summary)
    return summary


def command(args, cfg, progress):
    """`distill sfd-report`."""
    summary = build(cfg, Path(args.results), Path(args.pdf), Path(args.csv), Path(args.json), Path(args.rows),
                    Path(args.plots), [Path(o) for o in args.others], Path(args.floor) if args.floor else None)
    best = {}
    for pt in summary["points"]:
        if pt["method"] == LABEL and pt["fid"] is not None:
            best[pt["nfe"]] = pt["fid"]
    print("SFD FID by NFE: " + ", ".join(f"{k}: {v:.2f}" for k, v in sorted(best.items())))
