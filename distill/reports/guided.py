"""Guided distillation's report for one experiment: its rows of the results table (every model, sampler, step count
and w, with NFE, guidance and cost), a JSON summary for the claims, and reports/guided_<experiment>.pdf:
  1. the pixel-space table (the paper's layout): FID / IS against steps for the students' deterministic (D) and
     stochastic (S) samplers at every w, beside the guided teacher at the same NFE (DDIM and ancestral) and at its
     full step count, with each row's speed-up;
  2. the FID-IS trade-off over w: the teacher at full steps and the 8-, 4- and 1-step students;
  3. the fixed-w baseline against the one w-conditioned student;
  4. the cost of every stage, beside PD's on the same machine, and the published rows (SECONDARY, w unknown).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from distill.experiment_views import experiment_settings
from distill.core.checkpoint import atomic_write
from distill.core.provenance import write_record
from distill.pipeline import floor
from distill.plugins.guided import (FIXED_VARIANTS, LABEL, LABEL_FIXED, TEACHER_LABEL, VARIANTS, W_LINE, fixed_line,
                                    line_steps, lines, model_id, parse_model, paths, sweeps, variant_of, wtag)
from distill.reports.format import fmt
from distill.reports.guided_cells import (cell_text, line_cost, load_record, number, point_at, points, seeds_text,
                                       speedup, teacher_cost, variant_cell)
from distill.reports.pdf import figure_caption, pyplot, save_pdf, table_page
from distill.reports.published import load
from distill.reports.reproduced import frame
from distill.results import PUBLISHED_CSV, spread
from distill.results import table as results_table
from distill.results.plots import write_losses
from distill.results.table import record_rows

RECONSTRUCTED = ("S = the stochastic sampler as RECONSTRUCTED from the paper's words (one DDIM step of twice the "
                 "length, then forward noise back by one step; the last step deterministic): its equations are not "
                 "published. S at N steps makes jumps of 2/N, 'the same as an N/2-step deterministic sampler': it "
                 "evaluates the N/2-step student, trained also at the times between its grid's (stage_two."
                 "stochastic_times); the ablation evaluates the N-step student, trained for jumps of 1/N.")


def rows(cfg: dict[str, Any], results: Path, experiment: str) -> list[dict[str, Any]]:
    exp = experiment_settings(cfg, "guided", experiment)
    p = paths(str(results), experiment)
    data = exp["data"]
    out = []
    for model, sampler, steps, weights in sweeps(exp):
        if model == "teacher":
            cost = teacher_cost(results, experiment)
        else:
            cost = line_cost(results, experiment, exp, *parse_model(model))
        for w in weights:
            record = load_record(Path(p["sweep"].format(gmodel=model, gsampler=sampler, gsteps=steps), f"w{wtag(w)}.json"))
            out += record_rows(record, profile=cfg["profile"], method="guided", experiment=experiment,
                               dataset=data["name"], resolution=data.get("resolution"), teacher=p["teacher"],
                               model=model, sampler=sampler, options="", grid="uniform", steps=steps,
                               nfe=record["sampling"]["nfe"], guidance=wtag(w), cost_seconds=cost["seconds"],
                               cost_images=cost["images"], cost_teacher_evals=cost["teacher_evals"])
    return out


def pixel_table(cfg, exp: dict[str, Any], pts: pd.DataFrame, floor_text: str, seeds: tuple | None = None):
    body = []
    for w in exp["sweep"]:
        for n in sorted(exp["student_steps"]):
            teacher_n = n // 2
            body.append([wtag(w), str(n), f"{speedup(exp, n):g}x",
                         cell_text(point_at(pts, "teacher", "ddim", teacher_n, w)) if teacher_n else "— (NFE 2 at least)",
                         cell_text(point_at(pts, "teacher", "ancestral", teacher_n, w)) if teacher_n else "—",
                         *[variant_cell(pts, W_LINE, v, n, w, seeds) for v in VARIANTS]])
        full = exp["teacher_steps"]
        pt = point_at(pts, "teacher", "ddim", full, w)
        body.append([wtag(w), f"teacher {full}", "1x", cell_text(pt) + seeds_text(pt, "teacher", "teacher", full, w, seeds),
                     "—",
                     *["—" for _ in VARIANTS]])
    caption = (f"Profile '{cfg['profile']}'. Each cell: FID / IS (minimum over {cfg['evaluation']['seed_ranges']} seed "
               f"ranges of {cfg['evaluation']['num_samples']} samples), and the same evaluation's KID (unbiased in N, "
               "~0 for a perfect generator). A student of N steps makes N network "
               "evaluations (NFE N); the guided teacher makes two per step, so its baselines at the same NFE take N/2 "
               f"steps (DDIM, and the ancestral sampler). 'teacher {exp['teacher_steps']}': its full-step guided DDIM, "
               f"the quality reference (NFE {2 * exp['teacher_steps']}). Speed-up = the teacher's full-step NFE over the "
               f"student's. D = DDIM with the distilled model at w. '(seeds m ± s)': the FID's mean ± standard "
               "deviation over the training seeds of reports/guided_spread.pdf, where it measured that very number; "
               f"the other cells come from one training seed. {RECONSTRUCTED} {floor_text}")
    return table_page(f"{LABEL}: pixel-space table (FID / IS against steps, D and S, every w)",
                      ["w", "student steps (NFE)", "speed-up", "teacher DDIM, same NFE", "teacher ancestral, same NFE",
                       *[f"student {v.label}" for v in VARIANTS]], body, caption, font_size=7.5,
                      col_widths=[0.45, 0.9, 0.7, 1.45, 1.45, 1.25, 1.25, 1.35])


def tradeoff_figure(cfg, exp: dict[str, Any], pts: pd.DataFrame):
    """FID against IS over w: the teacher at full steps, the 8-, 4- and 1-step students (D)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 5.5))
    series = [(f"teacher, {exp['teacher_steps']} steps (DDIM)", "teacher", exp["teacher_steps"])]
    series += [(f"student, {n} step{'s' if n > 1 else ''} (D)", model_id(W_LINE, n), n)
               for n in (8, 4, 1) if n in exp["student_steps"]]
    for label, model, n in series:
        sel = pts[(pts["model"] == model) & (pts["sampler"] == "ddim") & (pts["steps"] == n) & (pts["status"] == "ok")]
        sel = sel.sort_values("w")
        if sel.empty:
            continue
        ax.plot(sel["fid"], sel["inception"], marker="o", label=label)
        if model == "teacher":  # the students' points follow w in the same order along their lines
            for r in sel.itertuples():
                ax.annotate(f"w={wtag(r.w)}", (r.fid, r.inception), textcoords="offset points", xytext=(-6, 6),
                            fontsize=7, ha="right")
    ax.set_xscale("log")
    ax.set_xlabel("FID (lower is better; log scale)")
    ax.set_ylabel("IS (higher is better)")
    ax.set_title("FID-IS trade-off over the guidance weight w")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure_caption(fig, f"Profile '{cfg['profile']}'. Each point is one w of the sweep {[wtag(w) for w in exp['sweep']]} "
                        "(a row of the first page's table), labelled on the teacher's line; each line joins its points in "
                        "increasing w. The students are sampled with DDIM (D) at that w as "
                        "their input, the teacher with classifier-free guidance at w.")
    return fig


def fixed_rows(exp: dict[str, Any], pts: pd.DataFrame, results: Path, experiment: str,
               seeds: tuple | None = None) -> tuple[list, list]:
    n, body, records = exp["fixed_w"]["steps"], [], []
    for w in exp["fixed_w"]["weights"]:
        variants = [v for v in FIXED_VARIANTS if v.model(W_LINE, n) is not None]
        cells = [variant_cell(pts, line, v, n, w, seeds) for line in (fixed_line(w), W_LINE) for v in variants]
        # cost: stage one and the rounds down to the fewest steps the line's variants sample with
        low = min(parse_model(v.model(W_LINE, n))[1] for v in variants)
        fc, wc = (line_cost(results, experiment, exp, line, low)["seconds"] for line in (fixed_line(w), W_LINE))
        body.append([wtag(w), str(n), *cells, fmt(fc, 1), fmt(wc, 1)])
        for v in variants:
            f = point_at(pts, v.model(fixed_line(w), n), v.sampler, n, w)
            c = point_at(pts, v.model(W_LINE, n), v.sampler, n, w)
            if not f.empty and not c.empty:
                records.append({"w": float(w), "sampler": v.sampler, "variant": v.key, "steps": n,
                                "fixed_fid": number(f), "w_fid": number(c)})
    return body, records


def cost_rows(cfg, exp: dict[str, Any], results: Path, experiment: str) -> list[list[str]]:
    p = paths(str(results), experiment)
    t = load_record(Path(p["teacher"], "summary.json"))
    body = [["guided teacher", "training (label dropout)", f"{t['steps']:,} updates", f"{t['images_seen']:,}", "0",
             fmt(t["wall_seconds"], 1)]]
    for line in lines(exp):
        name = "w-conditioned student" if line == W_LINE else f"fixed w = {line[1:]}"
        s = load_record(Path(p["stage_one"].format(gline=line), "summary.json"))
        body.append([name, "stage one", f"{s['steps']:,} updates", f"{s['images_seen']:,}",
                     f"{s.get('teacher_forwards', 0):,}", fmt(s["wall_seconds"], 1)])
        for n in line_steps(exp, line):
            r = load_record(Path(p["round"].format(gline=line, gsteps=n), "summary.json"))
            body.append([name, f"round {2 * n} -> {n}", f"{r['steps']:,} updates", f"{r['images_seen']:,}",
                         f"{r.get('teacher_forwards', 0):,}", fmt(r["wall_seconds"], 1)])
    return body


def pd_cost_text(results: Path) -> str:
    """PD's cost on the same machine, from its results-table parts when they are present (not a dependency)."""
    parts = sorted(Path(results, "rows").glob("pd-*.csv"))
    if not parts:
        return "PD's rows are not in this results folder: its cost is not shown."
    table = results_table.read(parts)
    students = table[(table["model"].astype(str).str.match(r"^n\d+$")) & (table["cost_seconds"].notna())]
    if students.empty:
        return ""
    last = students.loc[students["steps"].astype(int).idxmin()]
    return (f"PD on this profile ({last['experiment']}), its rounds down to {int(last['steps'])} step: "
            f"{fmt(float(last['cost_seconds']), 1)} s, {int(last['cost_images']):,} images, "
            f"{int(last['cost_teacher_evals']):,} teacher evaluations (its teacher's 2 DDIM steps per image).")


def published_page(published_csv: Path):
    pub = load(published_csv)
    pub = pub[(pub["paper"] == "Guided") & pub["value"].notna() & (pub["guidance"] == "w unknown")]
    body = [[r.table, r.dataset, r.method, str(r.steps), r.metric, fmt(r.value, 2), r.provenance, r.source]
            for r in pub.itertuples()]
    return table_page("Published guided-distillation numbers (SECONDARY; the guidance weight is not stated)",
                      ["where quoted", "data set", "method", "steps / NFE", "metric", "value", "provenance", "source"],
                      body, "Meng et al.'s own tables could not be read (PUBLISHED.md 2(a): NOT FOUND). These rows are "
                            "quoted by other papers and state no w: they are keyed 'w unknown' and never matched to a "
                            "reproduced w. The two sources are different cells of the paper's table; they are kept "
                            "apart.", col_widths=[1.8, 0.9, 2.0, 0.8, 0.6, 0.6, 0.9, 0.6])


def build(cfg: dict[str, Any], experiment: str, results: Path, pdf: Path, csv: Path, json_path: Path,
          rows_csv: Path, plots: Path, floor_json: Path | None = None,
          published_csv: Path | None = None) -> dict[str, Any]:
    exp = experiment_settings(cfg, "guided", experiment)
    floor_record = floor.read(floor_json)
    floor_text = floor.describe_floor(floor_record) if floor_record is not None else ""
    table = results_table.write(rows_csv, rows(cfg, results, experiment))
    floor_record = floor.matching(floor_record, table)
    floor_text = floor.describe_floor(floor_record) if floor_record is not None else ""
    p = paths(str(results), experiment)
    write_losses({f"{line}-stage1": Path(p["stage_one"].format(gline=line)) for line in lines(exp)}
                 | {model_id(line, n): Path(p["round"].format(gline=line, gsteps=n))
                    for line in lines(exp) for n in line_steps(exp, line)}, plots / "losses")
    pts = points(table)
    seeds = (spread.read_method(results, "guided"), experiment)
    fixed_body, fixed_records = fixed_rows(exp, pts, results, experiment, seeds)
    n_fixed = exp["fixed_w"]["steps"]
    variants = [v for v in FIXED_VARIANTS if v.model(W_LINE, n_fixed) is not None]
    pages = [pixel_table(cfg, exp, pts, floor_text, seeds), tradeoff_figure(cfg, exp, pts)]
    if fixed_body:
        pages.append(table_page(
            "Fixed-w baseline: students distilled at one w each against the one w-conditioned student",
            ["w", "steps", *[f"fixed-w {v.key}" for v in variants],
             *[f"w-conditioned {v.key}" for v in variants], "fixed-w cost (s)", "w-conditioned cost (s)"],
            fixed_body, f"Profile '{cfg['profile']}'. FID / IS. A fixed-w student is the same network trained with its "
                        "w input held at one value, with the same updates in stage one and in each round as the "
                        f"w-conditioned student; both are compared at {n_fixed} steps. Cost: stage one and the rounds "
                        f"down to the {n_fixed // 2}-step student that S evaluates (wall seconds). " + RECONSTRUCTED))
    pages.append(table_page("Cost of every stage (wall time and images on the machine that ran them)",
                            ["model", "stage", "work", "images", "teacher evaluations", "wall time (s)"],
                            cost_rows(cfg, exp, results, experiment),
                            f"Profile '{cfg['profile']}'. Teacher evaluations count network passes: the guided teacher "
                            "makes two per image in stage one, a round's teacher (a w-student) two DDIM steps. "
                            + pd_cost_text(results), col_widths=[1.6, 1.4, 1.3, 1.0, 1.2, 1.0]))
    pages.append(published_page(published_csv or PUBLISHED_CSV))
    atomic_write(pdf, lambda path: save_pdf(path, pages))
    out = pts.assign(label=[TEACHER_LABEL if m == "teacher" else LABEL if m.startswith(f"{W_LINE}-") else LABEL_FIXED
                            for m in pts["model"]],
                     speedup=[speedup(exp, n) for n in pts["nfe"]])
    atomic_write(csv, lambda path: out.to_csv(path, index=False, float_format="%.4f"))
    summary = {"profile": cfg["profile"], "experiment": experiment, "teacher_steps": exp["teacher_steps"],
               "sweep": [float(w) for w in exp["sweep"]],
               "points": [{"model": r.model, "sampler": r.sampler, "steps": int(r.steps), "nfe": int(r.nfe),
                           "variant": None if (v := variant_of(r.model, r.sampler, int(r.steps))) is None else v.key,
                           "w": float(r.w), "fid": None if r.status != "ok" or pd.isna(r.fid) else float(r.fid),
                           "is": None if r.status != "ok" or pd.isna(r.inception) else float(r.inception),
                           "status": r.status,
                           "cost_seconds": float(r.cost_seconds)} for r in pts.itertuples()],
               "fixed_w": fixed_records, "fid_floor": floor.fid(floor_record)}
    write_record(json_path, summary)
    return summary


def command(args, cfg, progress):
    """`distill guided-report`."""
    summary = build(cfg, args.experiment, Path(args.results), Path(args.pdf), Path(args.csv), Path(args.json),
                    Path(args.rows), Path(args.plots), Path(args.floor) if args.floor else None)
    full = [pt for pt in summary["points"] if pt["model"] == "teacher" and pt["steps"] == summary["teacher_steps"]]
    print("guided teacher at full steps, FID by w: "
          + ", ".join(f"{wtag(pt['w'])}: {fmt(pt['fid'], 2)}" for pt in sorted(full, key=lambda p: p["w"])))


def published_rows(table, cfg):
    """No reproduced row is keyed to a published one: the quoted FID rows (SFD's "Guided PD", Multistep-CM's "PD
    Stochastic") state no w, and the abstract's "up to 256x" does not say how it counts the guided teacher's
    evaluations (the pixel table states each row's speed-up as NFE over NFE). `distill compare` lists the quoted rows
    as missing, with the reason."""
    return frame([])
