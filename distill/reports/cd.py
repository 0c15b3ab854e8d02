"""Consistency distillation's report for one experiment: its rows of the results table (the consistency model at each
step count, with the cost of its training), a JSON summary, and one page with its rows beside every other method's
students of the same teacher at the same NFE (PD, KD, SFD, DisBack: whichever the registry runs and has made)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from distill.experiment_views import experiment_settings
from distill.registry import active, methods
from distill.core.checkpoint import atomic_write
from distill.core.provenance import write_record
from distill.pipeline import floor
from distill.plugins.cd import LABEL, MULTISTEP_TABLE, SAMPLER, paths, step_counts, teacher_run
from distill.reports.format import fmt
from distill.reports.pdf import save_pdf, table_page
from distill.reports.reproduced import frame, keyed
from distill.results import spread, table as results_table
from distill.results.plots import write_losses
from distill.results.table import record_rows
from distill.reports.spread import method_command

spread_command = method_command("cd")  # `distill cd-spread`


def other_rows_files(cfg: dict[str, Any], results: str) -> list[str]:
    """The results-table parts of every other method the profile runs (the registry)."""
    return [p for m in active(cfg) if m.name != "cd" for p in m.rows(cfg, results)]


def rows(cfg: dict[str, Any], results: Path, experiment: str) -> list[dict[str, Any]]:
    p, exp = paths(str(results), experiment), experiment_settings(cfg, "cd", experiment)
    summary = json.loads(Path(p["student"], "summary.json").read_text())
    out = []
    for k in step_counts(exp):
        record = json.loads(Path(p["metrics"].format(k=k)).read_text())
        out += record_rows(record, profile=cfg["profile"], method="cd", experiment=experiment,
                           dataset=cfg["data"]["name"], resolution=cfg["data"].get("resolution"),
                           teacher=f"{results}/teachers/{teacher_run(exp)}", model="student", sampler=SAMPLER,
                           options="", grid="given", steps=k, nfe=record["sampling"].get("nfe", k),
                           cost_seconds=summary["wall_seconds"], cost_images=summary["images_seen"],
                           cost_teacher_evals=summary["teacher_evals"])
    return out


def beside(cfg: dict[str, Any], results: Path, own: pd.DataFrame, teacher: str, nfes: list[int]) -> pd.DataFrame:
    """Every method's distilled students of `teacher` at the NFEs of its own rows (their reported FID and KID, cost),
    its own first; a method whose rows were not made is absent."""
    frames = [results_table.reported_fid(own)]
    for path in other_rows_files(cfg, str(results)):
        if Path(path).is_file():
            frames.append(results_table.reported_fid(pd.read_csv(path, keep_default_na=False,
                                                                 dtype={"options": str, "guidance": str})))
    table = pd.concat(frames, ignore_index=True)
    table = table[(table["teacher"] == teacher) & (table["model"] != "teacher") & (table["guidance"].astype(str) == "")]
    table = table[table["nfe"].astype(int).isin(nfes)].assign(options=lambda t: t["options"].fillna("").astype(str))
    # one row per student and value: a one-step ancestral sampler is DDIM, whatever its gamma
    table = table.assign(not_ddim=table["sampler"] != "ddim")  # DDIM's name kept where samplers agree
    table = table.sort_values(["nfe", "method", "experiment", "model", "not_ddim", "sampler", "options"],
                              kind="stable").drop(columns="not_ddim")
    return table.drop_duplicates(["method", "experiment", "model", "nfe", "value"])


PD_STUDENT = ("ddim", "n{k}")  # PD's k-step student sampled as its paper samples it (PD Table 2: DDIM)


def beside_fids(shown: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The claims' references among the students shown: PD's k-step DDIM student of each PD experiment
    ({"pd": {"<experiment>": {k: FID}}})."""
    pd_rows = shown[(shown["method"] == "pd") & (shown["sampler"] == PD_STUDENT[0]) & (shown["status"] == "ok")]
    out: dict[str, dict[str, Any]] = {}
    for r in pd_rows.itertuples():
        if r.model == PD_STUDENT[1].format(k=int(r.nfe)):
            out.setdefault(r.experiment, {})[int(r.nfe)] = float(r.value)
    return {"pd": out}


def seeds_text(results: Path, experiment: str, by_steps: dict[int, float | None]) -> str:
    """Each step count's FID over training seeds (mean ± std, from the spread target), or why it is one seed."""
    found = spread.read_method(results, "cd")
    parts = [f"{k} step{'s' if k > 1 else ''} " + (spread.text(spread.measured_for(found, "cd", f"{experiment}-n{k}", v))
                                                   .strip(" ()") or "one seed") for k, v in by_steps.items()]
    return "; ".join(parts) + " (one seed: the spread target reports/cd_spread.pdf was not built for this number)" \
        if any(p.endswith("one seed") for p in parts) else "; ".join(parts)


def build(cfg: dict[str, Any], experiment: str, results: Path, pdf: Path, csv: Path, json_path: Path,
          rows_csv: Path, plots: Path, floor_json: Path | None = None) -> dict[str, Any]:
    exp = experiment_settings(cfg, "cd", experiment)
    table = results_table.write(rows_csv, rows(cfg, results, experiment))
    floor_record = floor.matching(floor.read(floor_json), table)
    student_dir = Path(paths(str(results), experiment)["student"])
    write_losses({"student": student_dir}, plots / "losses")
    train = json.loads((student_dir / "summary.json").read_text())
    fid = results_table.reported_fid(table)
    by_steps = {int(r.steps): (None if r.status != "ok" else float(r.value)) for r in fid.itertuples()}
    shown = beside(cfg, results, table, f"{results}/teachers/{teacher_run(exp)}", sorted(by_steps))
    atomic_write(csv, lambda p: shown.to_csv(p, index=False, float_format="%.4f"))
    summary = {"profile": cfg["profile"], "experiment": experiment, "dataset": cfg["data"]["name"],
               "status": train["status"], "fid": by_steps, "updates": train["steps"], "beside": beside_fids(shown),
               "num_scales": exp["num_scales"], "target_ema": exp["target_ema"], "distance": exp["distance"],
               "cost": {"train_seconds": train["wall_seconds"], "teacher_evals": train["teacher_evals"],
                        "images": train["images_seen"]},
               "fid_floor": floor.fid(floor_record)}
    write_record(json_path, summary)
    names = {m.name: m.name.upper() if len(m.name) <= 3 else m.label.split(" (")[0] for m in methods()}
    page_rows = [[("CD (this run)" if r.method == "cd" else names.get(r.method, r.method)),
                  r.experiment, r.model, f"{r.sampler} {r.options}".strip(), str(int(r.nfe)),
                  fmt(r.value, 2) if r.status == "ok" else r.status,
                  fmt(r.kid, 0) if r.status == "ok" and pd.notna(r.kid) else "—",
                  fmt(float(r.cost_seconds), 0) if str(r.cost_seconds) not in ("", "nan") else "—"]
                 for r in shown.itertuples()]
    own_rows = [i + 1 for i, r in enumerate(shown.itertuples()) if r.method == "cd"]
    caption = (f"Profile '{cfg['profile']}', experiment '{experiment}' ({cfg['data']['name']}). The consistency model "
               f"(initialised from the teacher {teacher_run(exp)}) trained {train['steps']:,} updates × batch "
               f"{train['batch_size']} on the CD loss: N = {exp['num_scales']} sigmas in [{exp['sigma_min']:g}, "
               f"{exp['sigma_max']:g}] (rho {exp['rho']:g}), the teacher's {exp['solver']} step "
               f"({train['teacher_evals']:,} teacher evaluations), target EMA mu = {exp['target_ema']:g}, "
               f"{exp['distance']} distance; sampled with the official multistep sampler at time lists "
               f"{exp['multistep']}. Beside it, every other method's students of the same teacher at the same NFE "
               "(their own runs and ablations, each with its experiment name; a method not run here is absent; a "
               "sampler giving the same number as another of the same student, a one-step ancestral one, is shown "
               f"once). FID is the minimum over {cfg['evaluation']['seed_ranges']} seed ranges of "
               f"{cfg['evaluation']['num_samples']}, KID the same evaluation's (as Table 1 prints it); cost is each "
               "student's own training time in seconds (PD: every round down to it). Its FID over training seeds: "
               + seeds_text(results, experiment, by_steps) + "."
               + (f" {floor.describe_floor(floor_record)}" if floor_record is not None else ""))
    page = table_page("Consistency distillation (Song et al., 2023) beside the other students of its teacher",
                      ["method", "experiment", "model", "sampler", "NFE", "FID", "KID", "cost (s)"], page_rows,
                      caption, bold=[(i, c) for i in own_rows for c in range(8)],
                      col_widths=[1.2, 1.5, 1.1, 1.3, 0.5, 0.7, 0.8, 0.7])
    atomic_write(pdf, lambda p: save_pdf(p, [page]))
    return summary


def command(args, cfg, progress):
    """`distill cd-report`."""
    summary = build(cfg, args.experiment, Path(args.results), Path(args.pdf), Path(args.csv), Path(args.json),
                    Path(args.rows), Path(args.plots), Path(args.floor) if args.floor else None)
    print(f"CD {args.experiment}: FID by steps {summary['fid']}")


def published_rows(table, cfg):
    """The consistency model's FID under SFD Table 2's CD rows (its experiments that reproduce CIFAR-10) and under
    SFD Table 3's and Multistep-CM Table 3's (those that reproduce ImageNet 64)."""
    where = {"cifar10": [("SFD", "Table 2")], "imagenet64": [("SFD", "Table 3"), MULTISTEP_TABLE]}
    out = []
    for r in results_table.reported_fid(table).itertuples():
        dataset = cfg["cd"]["experiments"].get(r.experiment, {}).get("reproduces")
        for paper, name in where.get(dataset, []):
            out.append(keyed(paper, name, dataset, LABEL, "FID", r, r.value if r.status == "ok" else None, r.status,
                             steps=str(r.steps)))
    return frame(out)
