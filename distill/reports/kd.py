"""Knowledge distillation's report for one experiment: its rows of the results table (the one-step student's
evaluation with its cost), a JSON summary, and one page with the student's metrics and the cost of each stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distill.core.checkpoint import atomic_write
from distill.core.provenance import write_record
from distill.pipeline import floor
from distill.plugins.kd import LABEL, SAMPLER, STEPS, paths, teacher_run
from distill.results.plots import write_losses
from distill.reports.format import fmt
from distill.reports.pdf import save_pdf, table_page
from distill.reports.reproduced import frame, keyed
from distill.results import spread
from distill.results import table as results_table
from distill.results.table import record_rows

def rows(cfg: dict[str, Any], results: Path, experiment: str) -> list[dict[str, Any]]:
    p = paths(str(results), experiment)
    record = json.loads(Path(p["metrics"]).read_text())
    summary = json.loads(Path(p["student"], "summary.json").read_text())
    exp = cfg["kd"]["experiments"][experiment]
    return record_rows(record, profile=cfg["profile"], method="kd", experiment=experiment,
                       dataset=cfg["data"]["name"], resolution=cfg["data"].get("resolution"),
                       teacher=f"{results}/teachers/{teacher_run(exp)}", model="student", sampler=SAMPLER, options="",
                       grid=record["sampling"].get("grid", "uniform"), steps=STEPS,
                       nfe=record["sampling"].get("nfe", STEPS),
                       cost_seconds=summary["pairs_wall_seconds"] + summary["wall_seconds"],
                       cost_images=summary["images_seen"], cost_teacher_evals=summary["teacher_evals"])


def build(cfg: dict[str, Any], experiment: str, results: Path, pdf: Path, csv: Path, json_path: Path,
          rows_csv: Path, plots: Path, floor_json: Path | None = None) -> dict[str, Any]:
    floor_record = floor.read(floor_json)
    table = results_table.write(rows_csv, rows(cfg, results, experiment))
    floor_record = floor.matching(floor_record, table)
    write_losses({"student": Path(paths(str(results), experiment)["student"])}, plots / "losses")
    summary_path = Path(paths(str(results), experiment)["student"], "summary.json")
    train = json.loads(summary_path.read_text())
    fid = table[(table["metric"] == "fid") & (table["seed_range"] == "min")]
    status = str(fid["status"].iloc[0])
    reported = table[table["seed_range"].isin(["min", "mean"])]
    atomic_write(csv, lambda p: reported.to_csv(p, index=False, float_format="%.4f"))
    summary = {"profile": cfg["profile"], "experiment": experiment, "dataset": cfg["data"]["name"],
               "status": status, "fid": None if status != "ok" else float(fid["value"].iloc[0]),
               "pairs": train["pairs"], "teacher_steps": train["teacher_steps"], "updates": train["steps"],
               "cost": {"pairs_seconds": train["pairs_wall_seconds"], "train_seconds": train["wall_seconds"],
                        "teacher_evals": train["teacher_evals"], "images": train["images_seen"]},
               "fid_floor": floor.fid(floor_record)}
    write_record(json_path, summary)
    metrics = reported[reported["seed_range"] == "min"].set_index("metric")["value"]
    page_rows = [["teacher pairs", f"{train['pairs']:,} pairs × {train['teacher_steps']} DDIM steps",
                  f"{train['teacher_evals']:,}", "—", fmt(train["pairs_wall_seconds"], 1)],
                 ["student training", f"{train['steps']:,} updates × batch {train['batch_size']}", "0",
                  f"{train['images_seen']:,}", fmt(train["wall_seconds"], 1)]]
    caption = (f"Profile '{cfg['profile']}', experiment '{experiment}' ({cfg['data']['name']}). The one-step student "
               f"(initialised from the teacher) regresses the teacher's {train['teacher_steps']}-step DDIM sample from "
               f"the same z_1 (Luhman & Luhman 2021). Its one-step evaluation ({status}): "
               + ", ".join(f"{m} {fmt(v, 3)}" for m, v in metrics.items())
               + f" (minimum over {cfg['evaluation']['seed_ranges']} seed ranges of "
                 f"{cfg['evaluation']['num_samples']}); its FID over training seeds: "
               + (seed_text.strip(" ()") if (seed_text := spread.text(spread.measured_for(
                   spread.read_method(results, "kd"), "kd", f"{experiment}-n{STEPS}", summary["fid"])))
                  else "one seed (the spread target reports/kd_spread.pdf was not built for this number)")
               + ". Its row of PD Table 2 is in reports/table2.pdf, beside "
                 "Progressive Distillation's one-step student of the same teacher."
               + (f" {floor.describe_floor(floor_record)}" if floor_record is not None else ""))
    page = table_page("Knowledge distillation (Luhman & Luhman, 2021): one-step student and its cost",
                      ["stage", "work", "teacher evaluations", "images through the student", "wall time (s)"],
                      page_rows, caption)
    atomic_write(pdf, lambda p: save_pdf(p, [page]))
    return summary


def command(args, cfg, progress):
    """`distill kd-report`."""
    summary = build(cfg, args.experiment, Path(args.results), Path(args.pdf), Path(args.csv), Path(args.json),
                    Path(args.rows), Path(args.plots), Path(args.floor) if args.floor else None)
    print(f"KD {args.experiment}: one-step FID {summary['fid']}")


def published_rows(table, cfg):
    """The one-step student's FID under PD Table 2's knowledge-distillation row (its experiments that reproduce
    CIFAR-10)."""
    out = []
    fid = results_table.reported_fid(table)
    for r in fid.itertuples():
        if cfg["kd"]["experiments"].get(r.experiment, {}).get("reproduces") == "cifar10":
            out.append(keyed("PD", "Table 2", "cifar10", LABEL, "FID", r, r.value if r.status == "ok" else None,
                             r.status, steps=str(r.steps)))
    return frame(out)
