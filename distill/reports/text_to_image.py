"""The text-to-image report (params.yaml `text_to_image`): for each experiment, the teacher's solvers, the SFD students,
the DisBack generators, the guided students, the PD students and the consistency model at their NFE, each with its
FID against the prompt set's statistics, its CLIP score, the number of images and the cost of its training (a round's
includes every training before it); a CSV of the same rows and a JSON summary.

The published numbers these stand beside (SFD Tables 4-5 on Stable Diffusion 1.5; DisBack's SDXL FID and CLIP; Meng
et al.'s SD tables) are NOT FOUND in PUBLISHED.md, and PD and CM published no text-to-image row: the table says so
instead of printing a number. Every teacher, prompt file, statistics file and CLIP model here has no published
digest; their files were recorded at first fetch (artifacts.lock.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.data.first_fetch import RECORDED
from distill.pipeline import text_to_image as T2I
from distill.reports.format import fmt
from distill.reports.pdf import save_pdf, table_page

LABELS = {"teacher": "teacher", "sfd": "SFD", "disback": "DisBack", "baseline": "DMD (DisBack without backtracking)",
          "guided": "guided distillation", "pd": "PD", "cd": "CD"}
PUBLISHED = {"sfd": "NOT FOUND (SFD Tables 4-5)", "disback": "NOT FOUND (DisBack's SDXL numbers)",
             "guided": "NOT FOUND (Meng et al.'s SD tables)", "pd": "none (PD has no text-to-image row)",
             "cd": "none (CM has no text-to-image row)"}


def training_cost(chain: tuple[str, ...]) -> dict[str, Any]:
    """The cost of a model made by a chain of trainings (a round's: stage one and every round before it): their
    iterations and seconds summed; the status of the first that did not complete."""
    records = [json.loads(Path(f).read_text()) for f in chain]
    failed = [r["status"] for r in records if r.get("status", "completed") != "completed"]
    return {"status": failed[0] if failed else "completed", "steps": sum(r.get("steps", 0) for r in records),
            "wall_seconds": sum(r.get("wall_seconds", 0.0) for r in records)} if records else {}


def rows(cfg: dict[str, Any], results: str) -> list[dict[str, Any]]:
    """One row per point of every experiment, in the plan's order."""
    out = []
    paths = T2I.paths(results)
    for experiment in T2I.section(cfg)["experiments"]:
        teacher = T2I.teacher_artifact(cfg, experiment)
        for q in T2I.points(cfg, results, experiment):
            s = json.loads(Path(paths["scores"].format(texp=experiment, point=q.name)).read_text())
            summary = training_cost(q.chain)
            out.append({"experiment": experiment, "teacher": teacher, "method": LABELS[q.method], "run": q.run,
                        "point": q.name, "sampler": s.get("sampler"), "steps": s.get("steps"), "nfe": s.get("nfe"),
                        "guidance": s.get("guidance"), "fid": s["fid"], "clip_score": s["clip_score"],
                        "status": s.get("status", "ok"), "num_samples": s["num_samples"],
                        "training_status": summary.get("status", ""),
                        "training_iterations": summary.get("steps"), "training_seconds": summary.get("wall_seconds"),
                        "published": PUBLISHED.get(q.method, "—"),
                        "digests": RECORDED})
    return out


def page(table: pd.DataFrame, cfg: dict[str, Any]):
    header = ["experiment", "method", "run / solver", "NFE", "guidance w", "FID", "CLIP score", "images",
              "training (iterations, s)", "published"]
    cells, missing = [], []
    for r in table.itertuples():
        if r.status != "ok":
            missing.append(f"{r.experiment} {r.method} {r.run}: {r.status}")
        training = "" if r.method == "teacher" else (
            f"{int(r.training_iterations)} it, {fmt(r.training_seconds, 0)} s" + (
                f" ({r.training_status})" if r.training_status != "completed" else ""))
        experiment = r.experiment if r.experiment == r.teacher else f"{r.experiment} ({r.teacher})"
        cells.append([experiment, r.method, r.run, str(r.nfe),
                      "" if r.guidance is None or pd.isna(r.guidance) else fmt(r.guidance, 2),
                      fmt(r.fid, 2) if r.status == "ok" else "N/A",
                      fmt(r.clip_score, 2) if r.status == "ok" else "N/A", str(r.num_samples), training,
                      r.published])
    t = T2I.section(cfg)
    caption = (f"FID of {t['num_samples']} images (seed i with prompt i of {t['prompts']}) against {t['fid_reference']}"
               f" (each image centre-cropped and resized to 299 by PIL bicubic, the 2015-12-05 Inception), and the "
               f"CLIP score (100 cos, {t['clip']}). NFE counts both evaluations of a guided step (as sfd-main counts "
               f"them). Guidance w is diffusers' guidance_scale - 1; a DisBack generator samples in one unguided step; "
               f"a guided-distillation student takes w as its input (one evaluation per step; run: model, sampler, "
               f"steps) and, like PD's students, samples on the teacher's own noise levels, where both were trained; "
               f"the consistency model (CD) samples at the levels of its time list. "
               f"The training of a round's student counts every training before it (stage one, earlier rounds). "
               f"Every teacher, prompt file, statistics file and CLIP model here: {RECORDED} (artifacts.lock.json). "
               "Published numbers for these rows are NOT FOUND in PUBLISHED.md (PD and CM published none)."
               + (" N/A, no number: " + "; ".join(missing) + "." if missing else ""))
    return table_page("Text-to-image teachers: SFD, DisBack, guided distillation, PD and CD", header, cells, caption,
                      col_widths=[1.4, 1.3, 1.2, 0.5, 0.7, 0.6, 0.7, 0.6, 1.4, 1.6])


def command(args, cfg, progress):
    """`distill text-report`."""
    if T2I.section(cfg) is None:
        raise ValueError(f"profile {cfg['profile']!r} has no text_to_image section: nothing to report")
    table = pd.DataFrame(rows(cfg, args.results))
    atomic_write(args.csv, lambda p: table.to_csv(p, index=False))
    summary = {"profile": cfg["profile"], "points": table.to_dict(orient="records")}
    atomic_write(args.json, lambda p: Path(p).write_text(json.dumps(summary, indent=1, default=str) + "\n"))
    save_pdf(args.pdf, [page(table, cfg)])
    print(f"text-to-image report: {len(table)} points -> {args.pdf}")
