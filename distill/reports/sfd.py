"""SFD's report: its rows of the results table (the teacher's solvers and every student, each with its NFE and its
fine-tuning cost), a JSON summary for the claims, and reports/sfd.pdf:
  1. SFD Table 2's layout: method, NFE, FID, fine-tuning cost, beside the published CIFAR-10 numbers, with the rows
     of every other method that reproduces a row of SFD Table 2 on the same teacher (PD, KD: the registry);
  2. Figure 1: FID against fine-tuning time on a log axis, shifted as the paper's caption shifts it
     (distill.reports.sfd_pages.py, with the budget curve);
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
from distill.pipeline import floor
from distill.plugins.kd import LABEL as KD_LABEL
from distill.experiment_views import experiment_profile
from distill.plugins.sfd import (KINDS, LABEL, LABEL_SECOND, LABEL_V, STUDENT_SAMPLER, gits_points, run_settings,
                                 solver_points, solver_steps, student_nfe, student_points, teacher_run)
from distill.plugins.sfd_layout import experiment_of, experiments, paths
from distill.registry import active
from distill.reports.format import fmt
from distill.reports.pdf import save_pdf, table_page
from distill.reports.published import IMAGENET_REFERENCE, recorded_digests, select
from distill.reports.reproduced import frame, gather, keyed
from distill.reports.sfd_pages import (COLUMNS, PAPER, TABLES, ablation_rows, curve_figure, curve_points, figure1,
                                      solver_label, solver_page, table_of, teacher_hours)
from distill.results import PUBLISHED_CSV, spread, table as results_table
from distill.results.plots import write_losses
from distill.results.table import record_rows


def _options(options: dict[str, Any]) -> str:
    return ",".join(f"{k}={str(v).lower()}" for k, v in sorted(options.items()))


def _load(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def student_cost(cfg: dict[str, Any], results: Path, run: str) -> dict[str, float]:
    """What the student took from the Table 1 teacher: its training, and for the second stage its first stage's too
    (as a PD student's cost counts every round down to it)."""
    p, settings = paths(str(results), experiment_of(cfg)), run_settings(cfg, run)
    s = _load(p["student"].format(srun=run) + "/summary.json")
    cost = {"seconds": s["wall_seconds"], "images": s["trajectories"], "teacher_evals": s["teacher_evals"]}
    if settings["kind"] == "second-stage":
        first = student_cost(cfg, results, settings["teacher_run"])
        cost = {k: cost[k] + first[k] for k in cost}
    return cost


def rows(cfg: dict[str, Any], results: Path) -> list[dict[str, Any]]:
    p, teacher = paths(str(results), experiment_of(cfg)), f"{results}/teachers/{teacher_run(cfg)}"
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


FIGURE1 = {"euler": "DDIM", "dpmpp": "DPM++", "ipndm": "iPNDM"}  # Figure 1's names of the solver points (CIFAR-10)


def published_rows(table, cfg):
    """The rows of SFD Table 2 (CIFAR-10) or 3 (ImageNet 64), by `sfd.reproduces` of the section or experiment whose
    teacher made them: the teacher's solvers by their published names, SFD, SFD-v and the second stage (the
    ablation runs are not rows of it), keyed by NFE; on CIFAR-10 also Figure 1's solver points."""
    views = {}
    for view in [cfg] + [experiment_profile(cfg, "sfd", e) for e in experiments(cfg)]:
        views.setdefault(teacher_run(view), view)  # a view of an experiment lists the section's experiments too
    teachers = table["teacher"].astype(str)
    parts = [_published_rows(table[teachers.str.endswith(f"/teachers/{run}")], view) for run, view in views.items()]
    return frame([row for part in parts for row in part.to_dict("records")])


def _published_rows(table, cfg):
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
    """Every reproduced row of SFD's table (table_of) on SFD's teacher: SFD's own and those of the other methods that
    reproduce a row of it (their results-table parts, kept to the same teacher and images)."""
    table_name = table_of(cfg)
    teacher = f"{results}/teachers/{teacher_run(cfg)}"
    table = pd.concat([own, results_table.read(others)] if others else [own], ignore_index=True)
    table = table[(table["teacher"].astype(str) == teacher) & (table["dataset"].astype(str) == cfg["data"]["name"])]
    context = results_table.one_context(table[table["seed_range"] == results_table.REPORTED], f"SFD {table_name}")
    if context:  # rows of different classifiers or reference statistics are not compared
        raise ValueError(f"{context}; rebuild them on one machine (snakemake --cores all -- "
                         f"{paths('', experiment_of(cfg))['pdf']})")

    cards = active(cfg)
    sources = {(PAPER, table_name)} | {s for m in cards for s in m.gathered_from()}
    keyed = [m.published_rows(table[table["method"] == m.name], cfg) for m in cards if sources & set(m.reproduces)]
    out = gather(pd.concat(keyed, ignore_index=True), cards)
    return out[(out["paper"] == PAPER) & (out["table"] == table_name)].reset_index(drop=True)


def published(published_csv: Path, table: str = "Table 2") -> pd.DataFrame:
    """The data-set column of SFD Table 2 (CIFAR-10) or Table 3 (ImageNet 64): FID (with its qualifier, e.g. '> 5')
    and fine-tuning A100 hours per method and NFE; SFD-v's one total time (NFE '2;3;4;5') is given to each of its
    rows as 'total'."""
    dataset = {v: k for k, v in TABLES.items()}[table]
    pub = select(published_csv, PAPER, table, exact_only=True)
    pub = pub[pub["dataset"] == dataset].assign(steps=lambda d: d["steps"].astype(str))

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
    last = {LABEL: 2, LABEL_V: 3, LABEL_SECOND: 4}
    solver_rank = {m: 0 for m in repro["method"] if repro.loc[repro["method"] == m, "cost_seconds"].fillna(0).eq(0).all()}
    rank = [last.get(m, solver_rank.get(m, 1)) for m in repro["method"]]
    out = repro.assign(nfe=repro["steps"].astype(int), _rank=rank, _first=repro.groupby("method", sort=False).ngroup())
    return out.sort_values(["_rank", "_first", "nfe"], kind="stable").drop(columns=["_rank", "_first"])


def spread_cell(cfg, method: str, nfe: int) -> tuple[str, str] | None:
    """(spread file, cell) of a row of SFD Table 2 on this teacher: SFD's runs (sfd_spread), PD's and KD's students
    of the experiment that reproduces the CIFAR-10 rows (pd_spread, kd_spread); None for the teacher's solvers."""
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
    table = table_of(cfg)
    column = COLUMNS[table]
    pd_rows = ("SFD's 'PD' rows are Salimans & Ho's CIFAR-10 numbers" if table == "Table 2" else
               "SFD's 'PD' rows are the Consistency Models paper's, distilled from its own EDM ImageNet-64 teacher")
    which = "teacher" if cfg["sfd"]["teacher"].get("edm") else "Table 1 teacher"
    caption = (f"Profile '{cfg['profile']}': every method distils or samples the {which} {teacher_run(cfg)} "
               f"({cfg['data']['name']}, {cfg['data'].get('resolution')}px); published numbers are SFD {table}'s "
               f"{column} column (EXACT), whose cost is A100 hours of fine-tuning. Reproduced cost: wall seconds on "
               "the machine that ran it and the trajectories (SFD) or images (PD, KD) its training processed; the "
               f"teacher's solvers need none. {pd_rows}. NFE = network "
               "evaluations per sample (SFD's num_steps - 2 with AFS). "
               + ("In parentheses, where a spread target (reports/sfd_spread.pdf, pd_spread.pdf, kd_spread.pdf) "
                  "measured it for that very number: mean ± standard deviation over training seeds; the other numbers "
                  "come from one training seed (the solvers from one teacher). " if results is not None else
                  "Every number comes from one training seed (the spread targets train the section's runs only). ")
               + "KID: the same evaluation's (minimum over the ranges; unbiased in N, ~0 for a perfect generator). "
               + " ".join(filter(None, [IMAGENET_REFERENCE if cfg["data"].get("fid_statistics") else "",
                                        recorded_digests(cfg["sfd"]["teacher"].get("edm"),
                                                         cfg["data"].get("fid_statistics")), floor_text])))
    return table_page(f"SFD {table} ({column} layout): FID against NFE and fine-tuning cost",
                      ["method", "NFE", "FID (reproduced)", "KID", "fine-tuning cost (reproduced)",
                       "FID (published)", "A100 h (published)"], body, caption,
                      col_widths=[2.2, 0.6, 1.8, 0.9, 2.4, 1.1, 1.1])


def build(cfg: dict[str, Any], results: Path, pdf: Path, csv: Path, json_path: Path, rows_csv: Path, plots: Path,
          others: list[Path], floor_json: Path | None = None, published_csv: Path | None = None) -> dict[str, Any]:
    own = results_table.write(rows_csv, rows(cfg, results))
    floor_record = floor.matching(floor.read(floor_json), own)
    floor_text = floor.describe_floor(floor_record) if floor_record is not None else ""
    experiment = experiment_of(cfg)
    p = paths(str(results), experiment)
    write_losses({run: Path(p["student"].format(srun=run)) for run in cfg["sfd"]["runs"]}, plots / "losses")
    repro = table_rows(cfg, own, others, results)

    published_csv = published_csv or PUBLISHED_CSV
    pub = published(published_csv, table_of(cfg))
    teacher_summary = Path(results, "teachers", teacher_run(cfg), "summary.json")
    teacher_seconds = _load(str(teacher_summary))["wall_seconds"] if teacher_summary.is_file() else None
    ablation_body, ablations = ablation_rows(cfg, own)
    curve = curve_points(cfg, results)
    spreads = results if experiment is None else None  # the spread targets train the section's own runs only
    pages = [table_page_of(cfg, repro, pub, floor_text, spreads),
             figure1(cfg, repro, teacher_seconds, teacher_hours(published_csv))]
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
