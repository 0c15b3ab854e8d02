"""PD Table 1: FID of teachers trained with each output parameterization x loss weighting, with the stochastic
(ancestral) and DDIM samplers, reproduced beside the published CIFAR-10 grid; the paper's claims checked."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from distill.claims import evaluate_subject
from distill.reports import published
from distill.reports.jobs import method_job_seconds
from distill.results import spread, table as results_table
from distill.results.table import record_rows
from distill.reports.labels import LABELS
from distill.results.labels import ORDER_P, ORDER_W
from distill.reports.pdf import claim_line, save_pdf, table_page
from distill.core.checkpoint import atomic_write
from distill.core.provenance import write_record
from distill.pipeline import floor
from distill.pipeline.floor import describe_floor, fid as floor_fid, kid as floor_kid
from distill.plugins.table1 import LABEL, run_name, spread_seeds
from distill.reports.reproduced import frame, keyed, read_summary
from distill.results.plots import write_losses
from distill.results.remade import describe as describe_remade


def rows(cfg: dict[str, Any], results: Path) -> list[dict[str, Any]]:
    """Table 1's part of the results table: every (run, sampler) evaluation with its teacher's training cost."""
    t, out = cfg["table1"], []
    for p in t["parameterizations"]:
        for w in t["weightings"]:
            for seed in t["seeds"]:
                name = run_name(p, w, seed)
                summary = json.loads((results / "teachers" / name / "summary.json").read_text())
                for sampler in t["samplers"]:
                    record = json.loads((results / "metrics" / name / f"{sampler}.json").read_text())
                    s = record["sampling"]
                    options = "" if s.get("gamma") is None else f"gamma={s['gamma']:g}"
                    out += record_rows(record, profile=cfg["profile"], method="table1", experiment="",
                                       dataset=cfg["data"]["name"], resolution=cfg["data"].get("resolution"),
                                       teacher="", model=name, sampler=sampler, options=options,
                                       grid=s.get("grid", "uniform"), steps=s["steps"], nfe=s.get("nfe", s["steps"]),
                                       cost_seconds=summary["wall_seconds"], cost_images=summary["images_seen"],
                                       cost_teacher_evals=0)
    return out


def collect(cfg: dict[str, Any], table: pd.DataFrame) -> pd.DataFrame:
    """One row per (parameterization, weighting, sampler) from the results rows: mean over training seeds of the
    FID (minimum over seed ranges, EDM) and of the IS (mean over seed ranges), or the failure status."""
    t = cfg["table1"]
    part = table[table["method"] == "table1"]
    out = []
    for p in t["parameterizations"]:
        for w in t["weightings"]:
            for sampler in t["samplers"]:
                fids, iss, kids, statuses, walls = [], [], [], [], []
                for seed in t["seeds"]:
                    cell = part[(part["model"] == run_name(p, w, seed)) & (part["sampler"] == sampler)]
                    if cell.empty:
                        raise ValueError(f"results rows have no Table 1 evaluation of {run_name(p, w, seed)} with "
                                         f"{sampler}; rebuild the table with Snakemake")
                    statuses.append(cell["status"].iloc[0])
                    walls.append(float(cell["cost_seconds"].iloc[0]))
                    fid = cell[(cell["metric"] == "fid") & (cell["seed_range"] == "min")]["value"]
                    is_ = cell[(cell["metric"] == "is") & (cell["seed_range"] == "mean")]["value"]
                    kid = cell[(cell["metric"] == "kid") & (cell["seed_range"] == "min")]["value"]
                    if statuses[-1] == "ok":
                        fids.append(float(fid.iloc[0]))
                        iss.append(float(is_.iloc[0]))
                        kids.append(float(kid.iloc[0]) if len(kid) else math.nan)
                ok = len(fids) == len(t["seeds"])
                status = "ok" if ok else next(s for s in statuses if s != "ok")
                out.append({"parameterization": p, "weighting": w, "sampler": sampler,
                            "fid": sum(fids) / len(fids) if ok else math.nan,
                            "is": sum(iss) / len(iss) if ok else math.nan,
                            "kid": sum(kids) / len(kids) if ok else math.nan, "seeds": len(t["seeds"]),
                            "status": status, "train_seconds": sum(walls) / len(walls)})
    return pd.DataFrame(out)


def summary_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """table1.json as the grid the Table 1 claims read: parameterization, weighting, sampler, fid, is, status."""
    out = []
    for key, fid in summary["fid"].items():
        p, w, s = key.split("/")
        is_ = summary.get("is", {}).get(key)
        out.append({"parameterization": p, "weighting": w, "sampler": s,
                    "fid": math.nan if fid is None else fid, "is": math.nan if is_ is None else is_,
                    "status": summary["status"][key]})
    return pd.DataFrame(out)


def published_grid(path: Path) -> pd.DataFrame:
    df = published.select(path, "PD", "Table 1")
    df = df.assign(provenance=df["provenance"].where(df["qualifier"] != "N/A", df["provenance"] + ", N/A (diverged)"))
    fid = df[df["metric"] == "FID"].rename(columns={"value": "published_fid", "provenance": "published_provenance"})
    is_ = df[df["metric"] == "IS"].rename(columns={"value": "published_is"})
    keys = ["parameterization", "weighting", "sampler"]
    return fid[keys + ["published_fid", "published_provenance"]].merge(is_[keys + ["published_is"]], on=keys)


def _cell(fid: float, is_: float, status: str) -> str:
    if status == "ok":
        return f"{fid:.2f}/{is_:.2f}"
    return "diverged" if status == "diverged" else status


def _published_cell(fid: float, is_: float) -> str:
    return "N/A" if math.isnan(fid) else f"{fid:.2f}/{is_:.2f}"


def build(cfg: dict[str, Any], results: Path, published_csv: Path, pdf: Path, csv: Path, json_path: Path,
          rows_csv: Path, plots: Path, benchmarks: Optional[Path] = None,
          spread_csv: Optional[Path] = None, floor_json: Optional[Path] = None,
          remade_csv: Optional[Path] = None) -> dict[str, Any]:
    grid = published_grid(published_csv)
    floor_record = floor.read(floor_json)
    t = cfg["table1"]
    write_losses({r: results / "teachers" / r for r in (run_name(p, w, s) for p in t["parameterizations"]
                                                        for w in t["weightings"] for s in t["seeds"])},
                 plots / "losses")
    results_rows = results_table.write(rows_csv, rows(cfg, results))
    floor_record = floor.matching(floor_record, results_rows)
    table = collect(cfg, results_rows).merge(grid, how="left", on=["parameterization", "weighting", "sampler"])
    claims = evaluate_subject("table1", table, cfg["profile"])
    table, unmatched = with_spread(table, spread_csv, t["seeds"])
    classifier = results / "classifier" / "metrics.json"
    extractor_acc = json.loads(classifier.read_text())["held_out_accuracy"] if classifier.exists() else None
    spread_runs = [run_name(p, w, s) for p in t["parameterizations"] for w in t["weightings"]
                   for s in sorted(set(spread_seeds(t)) - set(t["seeds"]))]
    job_seconds = method_job_seconds(benchmarks, "table1", spread_runs) if benchmarks else None
    atomic_write(csv, lambda p: table.to_csv(p, index=False, float_format="%.4f"))
    summary = {"profile": cfg["profile"], "dataset": cfg["data"]["name"], "claims": claims,
               "feature_extractor": cfg["evaluation"]["feature_extractor"],
               "feature_extractor_held_out_accuracy": extractor_acc, "num_samples": cfg["evaluation"]["num_samples"],
               "sampling_steps": cfg["sampling"]["steps"], "total_job_seconds": job_seconds,
               "fid": {f"{r.parameterization}/{r.weighting}/{r.sampler}": (None if math.isnan(r.fid) else r.fid)
                       for r in table.itertuples()},
               "is": {f"{r.parameterization}/{r.weighting}/{r.sampler}": (None if math.isnan(r.is_) else r.is_)
                      for r in table.rename(columns={"is": "is_"}).itertuples()},
               "status": {f"{r.parameterization}/{r.weighting}/{r.sampler}": r.status for r in table.itertuples()},
               "fid_seed_mean": {f"{r.parameterization}/{r.weighting}/{r.sampler}": r.fid_seed_mean
                                 for r in table.itertuples() if not math.isnan(r.fid_seed_std)},
               "fid_seed_std": {f"{r.parameterization}/{r.weighting}/{r.sampler}": r.fid_seed_std
                                for r in table.itertuples() if not math.isnan(r.fid_seed_std)},
               "fid_floor": floor.fid(floor_record)}
    write_record(json_path, summary)
    across = describe_remade(remade_csv)
    atomic_write(pdf, lambda p: render_pdf(table, grid, cfg, claims, extractor_acc, job_seconds, p,
                                                  unmatched, floor_record, across))
    return summary


def with_spread(table: pd.DataFrame, spread_csv: Optional[Path], seeds: list[int]) -> tuple[pd.DataFrame, int]:
    """Each cell's FID mean and standard deviation over training seeds (the spread target's), where it was measured
    for these numbers (distill.results.spread.for_numbers); and how many cells' spread was measured for other
    numbers (left out)."""
    measured, unmatched = {}, 0
    if spread_csv is not None and spread_csv.exists():
        s = spread.read(spread_csv)
        reported = {(f"{r.parameterization}-{r.weighting}", r.sampler): (r.fid, seeds) for r in table.itertuples()}
        measured = spread.for_numbers(s, reported)
        unmatched = len(set(zip(s["cell"], s["sampler"])) & set(reported) - set(measured))
    found = [measured.get((f"{r.parameterization}-{r.weighting}", r.sampler), (math.nan, math.nan, ""))
             for r in table.itertuples()]
    return table.assign(fid_seed_mean=[f[0] for f in found], fid_seed_std=[f[1] for f in found],
                        spread_seeds=[f[2] for f in found]), unmatched


def render_pdf(table: pd.DataFrame, published: pd.DataFrame, cfg: dict[str, Any], claims: list[dict[str, Any]],
               extractor_acc, job_seconds, path: Path, spread_unmatched: int = 0,
               floor_record: Optional[dict[str, Any]] = None, across: Optional[str] = None):
    samplers = [s for s in ("ancestral", "ddim") if s in set(table["sampler"]) | set(published["sampler"])]
    header = ["Network output", "Loss weighting"]
    header += [f"{LABELS[s]} FID/IS, KID\n(reproduced)" for s in samplers]
    header += [f"{LABELS[s]} FID/IS\n(published, CIFAR-10)" for s in samplers]
    repro = table.set_index(["parameterization", "weighting", "sampler"])
    pub = published.set_index(["parameterization", "weighting", "sampler"])
    best_repro = {s: table[(table["sampler"] == s)]["fid"].min() for s in samplers}
    best_pub = {s: published[(published["sampler"] == s)]["published_fid"].min() for s in samplers}
    cells_present = set(zip(table["parameterization"], table["weighting"])) | set(
        zip(published["parameterization"], published["weighting"]))
    rows, bold = [], []
    for p in ORDER_P:
        for w in ORDER_W:
            if (p, w) not in cells_present:
                continue
            row = [LABELS[p], LABELS[w]]
            for s in samplers:
                ran = (p, w, s) in repro.index
                fid = repro.loc[(p, w, s), "fid"] if ran else math.nan
                text = _cell(fid, repro.loc[(p, w, s), "is"], repro.loc[(p, w, s), "status"]) if ran else "not run"
                if ran and not math.isnan(kid := repro.loc[(p, w, s), "kid"]):
                    text += f"\nKID {kid:.0f}"
                if ran and not math.isnan(std := repro.loc[(p, w, s), "fid_seed_std"]):
                    n = len(repro.loc[(p, w, s), "spread_seeds"].split())
                    text += f"\n{n} seeds: {repro.loc[(p, w, s), 'fid_seed_mean']:.2f} ± {std:.2f}"
                row.append(text)
                if ran and fid == best_repro[s]:
                    bold.append((len(rows) + 1, len(row) - 1))
            for s in samplers:
                known = (p, w, s) in pub.index
                fid = pub.loc[(p, w, s), "published_fid"] if known else math.nan
                row.append(_published_cell(fid, pub.loc[(p, w, s), "published_is"]) if known else "—")
                if known and fid == best_pub[s]:
                    bold.append((len(rows) + 1, len(row) - 1))
            rows.append(row)
    if floor_fid(floor_record) is not None:  # what a perfect generator scores under the same protocol
        rows.append(["Real data", "(FID floor)",
                     *[f"{floor_fid(floor_record):.2f}\nKID {floor_kid(floor_record):.0f}" for _ in samplers],
                     *["—" for _ in samplers]])
    ev, s = cfg["evaluation"], cfg["sampling"]
    acc = f" (held-out accuracy {extractor_acc:.3f})" if extractor_acc is not None else ""
    wall_txt = f" Compute time of all jobs (sum): {job_seconds / 60:.1f} min." if job_seconds else ""
    caption = (
        f"Reproduced: profile '{cfg['profile']}', data set '{cfg['data']['name']}' "
        f"({cfg['data'].get('resolution')}px), {len(cfg['table1']['seeds'])} training seed(s) averaged, "
        f"{cfg['teacher']['steps']} training steps, {s['steps']} sampling steps, ancestral γ = {s['ancestral_gamma']}, "
        f"FID: minimum over {ev['seed_ranges']} disjoint seed ranges of {ev['num_samples']} samples; IS: their mean; "
        f"feature extractor '{ev['feature_extractor']}'{acc}. "
        f"Published: CIFAR-10 FID/IS from the paper (EXACT); N/A = the paper reports divergence.{wall_txt} "
        "Where the spread target (reports/table1_spread.pdf, a target of its own) measured it for these very "
        "numbers, a second line gives the FID's mean ± standard deviation over its training seeds"
        + (f"; in {spread_unmatched} cell(s) the stored spread was measured for other numbers (another run, machine "
           "or commit) and is not shown: build reports/table1_spread.pdf to measure it for these"
           if spread_unmatched else "") + ". Bold: best in its column. Reproduced and published FIDs are on "
        "different data and feature spaces: compare "
        "rankings, not values." + (f" {describe_floor(floor_record)}" if floor_record is not None else "")
        + (f" {across}" if across else "") + "\n"
    ) + "".join(claim_line(c) for c in claims)
    title = "Progressive Distillation, Table 1: output parameterization × loss weighting (teachers, no distillation)"
    save_pdf(path, [table_page(title, header, rows, caption, bold)])


def command(args, cfg, progress):
    """`distill table1`."""
    build(cfg, Path(args.results), Path(args.published), Path(args.pdf), Path(args.csv), Path(args.json),
          Path(args.rows), Path(args.plots), Path(args.benchmarks) if args.benchmarks else None,
          Path(args.spread) if args.spread else None, Path(args.floor) if args.floor else None,
          Path(args.remade) if args.remade else None)


def published_rows(table, cfg):
    """Table 1's cells (FID: mean over training seeds of the minimum over seed ranges; IS: of the mean)."""
    grid = collect(cfg, table)
    first = table.iloc[0]
    out = []
    for r in grid.to_dict("records"):
        for metric, value in (("FID", r["fid"]), ("IS", r["is"])):
            out.append(keyed("PD", "Table 1", "cifar10", LABEL, metric, first,
                             None if value is None or math.isnan(value) else value, r["status"],
                             parameterization=r["parameterization"], weighting=r["weighting"], sampler=r["sampler"]))
    return frame(out)


def subjects(cfg, results: Path) -> dict[str, dict[str, Any]]:
    summary = read_summary(results / "table1.json")
    return {"table1": {} if summary is None else {"table1": summary_frame(summary)}}
