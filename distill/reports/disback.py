"""DisBack's report for one experiment: its rows of the results table (every run's final one-step evaluation with
its cost), a JSON summary for the claims, and pages for convergence (FID against iteration, mean and min-max band
over training seeds), score mismatch, the ablation (path nodes, switching interval) and the one-step comparison with
every one-step model of the same teacher in the results table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.core.provenance import write_record
from distill.pipeline import floor
from distill.steps.disback import LABELS
from distill.plugins.disback import (LABEL, METHODS, ablation_runs, main_runs, paths, run_settings, teacher_run)
from distill.registry import get
from distill.reports.format import fmt
from distill.reports.labels import LABELS as NAMES
from distill.reports import convergence
from distill.reports.pdf import save_pdf, table_page
from distill.reports.published import IMAGENET_REFERENCE, recorded_digests
from distill.reports.reproduced import frame, keyed
from distill.results import table as results_table
from distill.results.convergence import curve_stats, final_value, first_reaching
from distill.results.table import record_rows


def _run_files(results: Path, experiment: str, run: str) -> tuple[Path, Path]:
    p = paths(str(results), experiment)
    return Path(p["run"].format(drun=run)), Path(p["metrics"].format(drun=run))


def curves(results: Path, experiment: str, exp: dict[str, Any]) -> pd.DataFrame:
    """Every main run's points (FID, IS, mismatches) with its method and seed."""
    frames = []
    for run in main_runs(exp):
        r = run_settings(exp, run)
        c = pd.read_csv(_run_files(results, experiment, run)[1] / "curve.csv")
        frames.append(c.assign(method=r["method"], seed=r["seed"], run=run))
    return pd.concat(frames, ignore_index=True)


def rows(cfg: dict[str, Any], results: Path, experiment: str) -> list[dict[str, Any]]:
    """Each run's final one-step evaluation; its cost is stage 2's wall time and images, plus stage 1's for DisBack
    (the path is made once and serves every DisBack run: each row counts it whole)."""
    exp = cfg["disback"]["experiments"][experiment]
    path = json.loads((Path(paths(str(results), experiment)["path"]) / "summary.json").read_text())
    out = []
    for run in main_runs(exp) + ablation_runs(exp):
        run_dir, metrics = _run_files(results, experiment, run)
        summary = json.loads((run_dir / "summary.json").read_text())
        record = json.loads((metrics / "final.json").read_text())
        own = summary["method"] == "disback"
        teacher_evals = summary["updates"]["generator"] * exp["stage_two"]["batch_size"]
        out += record_rows(record, profile=cfg["profile"], method="disback", experiment=experiment,
                           dataset=cfg["data"]["name"], resolution=cfg["data"].get("resolution"),
                           teacher=f"{results}/teachers/{teacher_run(exp)}", model=run, sampler="onestep", options="",
                           grid="edm", steps=1, nfe=1, guidance="",
                           cost_seconds=summary["wall_seconds"] + (path["wall_seconds"] if own else 0.0),
                           cost_images=summary["images_seen"] + (path["images_seen"] if own else 0),
                           cost_teacher_evals=teacher_evals)
    return out


ONE_STEP = ["method", "model", "sampler", "nfe", "fid", "cost_seconds", "machine"]


def one_step_models(others: list[Path], teacher: str, context: tuple[str, str] | None = None
                    ) -> tuple[pd.DataFrame, str]:
    """Every one-step model of the same teacher in the other methods' rows, and the teacher's own DDIM at its most
    steps: FID (minimum over seed ranges), NFE, cost and the machine that ran it; only rows of this report's
    evaluation `context` (extractor, reference statistics), the others named in the returned note."""
    frames = [results_table.read(p) for p in others if Path(p).exists()]
    if not frames:
        return pd.DataFrame(columns=ONE_STEP), ""
    t = pd.concat(frames, ignore_index=True)
    t = t[(t["metric"] == "fid") & (t["seed_range"] == "min") & (t["teacher"] == teacher) & (t["status"] == "ok")]
    note = ""
    if context is not None:
        same = (t["extractor_sha256"] == context[0]) & (t["reference_sha256"] == context[1])
        if (~same).any():
            note = results_table.one_context(t, "other methods' rows") + (
                f". Shown: only those of this report's context ({results_table.describe_context(context)}).")
        t = t[same]
    one = t[(t["nfe"] == 1) & (t["model"] != "teacher")]
    teach = t[(t["model"] == "teacher") & (t["sampler"] == "ddim")]
    teach = teach[teach["steps"] == teach["steps"].max()].head(1)
    one = one.sort_values("sampler", key=lambda c: c != "ddim", kind="stable")  # at one step DDIM = ancestral
    both = pd.concat([teach, one.drop_duplicates(["method", "model"])], ignore_index=True)
    return both[["method", "model", "sampler", "nfe", "value", "cost_seconds", "machine"]].rename(
        columns={"value": "fid"}), note


def summarise(cfg: dict[str, Any], results: Path, experiment: str, table: pd.DataFrame) -> dict[str, Any]:
    exp = cfg["disback"]["experiments"][experiment]
    c = curves(results, experiment, exp)
    fid = curve_stats(c[c["status"] == "ok"], "fid")
    level = final_value(fid, "baseline")
    final = table[(table["metric"] == "fid") & (table["seed_range"] == "min")].set_index("model")["value"]
    out = {"profile": cfg["profile"], "experiment": experiment, "eval_every": exp["eval_every"],
           "iterations": exp["stage_two"]["iterations"], "baseline_final_curve_fid": level, "methods": {},
           "curve": c.to_dict(orient="records")}
    for m in METHODS:
        finals = [float(final[f"{m}-s{s}"]) for s in exp["seeds"]]
        early = c[(c["method"] == m) & (c["iteration"] == exp["eval_every"])]["mismatch_teacher"]
        out["methods"][m] = {"final_fid_mean": float(pd.Series(finals).mean()),
                             "final_fid_std": float(pd.Series(finals).std(ddof=1)) if len(finals) > 1 else 0.0,
                             "final_fids": finals, "iterations_to_baseline_final": first_reaching(fid, m, level),
                             "early_mismatch_teacher": float(early.mean())}
    out["ablation"] = [{"run": run, "nodes": r["nodes"], "interval": r["stage_two"]["interval"],
                        "fid": float(final[run])}
                       for run in [f"disback-s{exp['seeds'][0]}", *ablation_runs(exp)]
                       for r in [run_settings(exp, run)]]
    return out


PANELS = (("fid", "FID (one seed range per point)"), ("mismatch_teacher", "mismatch vs the original teacher"),
          ("mismatch_node", "DisBack: mismatch vs its current path node"))


def build(cfg: dict[str, Any], experiment: str, results: Path, pdf: Path, csv: Path, json_path: Path,
          rows_csv: Path, others: list[Path], floor_json: Path | None = None) -> dict[str, Any]:
    exp = cfg["disback"]["experiments"][experiment]
    floor_record = floor.read(floor_json)
    table = results_table.write(rows_csv, rows(cfg, results, experiment))
    summary = summarise(cfg, results, experiment, table)
    teacher = f"{results}/teachers/{teacher_run(exp)}"
    own = table[table["seed_range"] == results_table.REPORTED]
    own_context = results_table.one_context(own, f"DisBack {experiment}")
    if own_context:
        raise ValueError(f"{own_context}; rebuild them on one machine")
    context = tuple(own[results_table.CONTEXT].iloc[0]) if len(own) else None
    comparison, context_note = one_step_models(others, teacher, context)
    floor_record = floor.matching(floor_record, own)
    summary["one_step"] = comparison.to_dict(orient="records")
    summary["fid_floor"] = floor.fid(floor_record)
    write_record(json_path, {k: v for k, v in summary.items() if k != "curve"})
    s2, p, core = exp["stage_two"], exp["path"], exp["core"]
    path_cost = json.loads((Path(paths(str(results), experiment)["path"]) / "summary.json").read_text())["wall_seconds"]
    cost = table[(table["metric"] == "fid") & (table["seed_range"] == "min")].set_index("model")["cost_seconds"]
    final = table[(table["metric"] == "fid") & (table["seed_range"] == "min")].set_index("model")["value"]
    kid = table[(table["metric"] == "kid") & (table["seed_range"] == "min")].set_index("model")["value"]
    lines = []
    for m in METHODS:
        r = summary["methods"][m]
        its = r["iterations_to_baseline_final"]
        lines.append([LABELS[m], f"{fmt(r['final_fid_mean'], 2)} ± {fmt(r['final_fid_std'], 2)}",
                      fmt(float(kid.reindex([f"{m}-s{s}" for s in exp["seeds"]]).mean()), 0),
                      "never" if its is None else f"{its:,}", fmt(r["early_mismatch_teacher"], 3),
                      fmt(float(cost[[f"{m}-s{s}" for s in exp["seeds"]]].mean()), 1)])
    caption = (f"Profile '{cfg['profile']}', experiment '{experiment}': the teacher {teacher_run(exp)} "
               f"({cfg['data']['name']}), distilled into a one-step generator (sigma_init {core['sigma_init']:g}) over "
               f"{s2['iterations']:,} iterations of batch {s2['batch_size']} (one generator update every "
               f"{core.get('fake_updates', 1)}; the fake score every iteration), {len(exp['seeds'])} training seeds "
               f"each. DisBack: a path of {p['nodes']} + 1 nodes recorded every {p['interval']} steps (stage 1, "
               f"{fmt(path_cost, 1)} s, counted in its cost), the target one node back every {s2['interval']} "
               f"iterations ({s2['switch_rule']} rule), then the teacher. Final FID: the whole protocol "
               f"({cfg['evaluation']['seed_ranges']} seed ranges of {cfg['evaluation']['num_samples']}, minimum), "
               "mean ± std over seeds; KID the same evaluations' (unbiased in N, ~0 for a perfect generator), mean. "
               "Iterations to the baseline's final curve FID "
               f"({fmt(summary['baseline_final_curve_fid'], 2)}, one seed range per point): the first point whose mean "
               f"over seeds reaches it. Early mismatch: at iteration {exp['eval_every']}, mean over seeds, "
               "(sigma^-2 + sigma_data^-2) ||D_teacher - D_fake||^2 on "
               "the generator's noised samples; the baseline's fake score starts as the teacher (0 at iteration 0)."
               + (f" {IMAGENET_REFERENCE}" if cfg["data"].get("fid_statistics") else "")
               + (f" {note}" if (note := recorded_digests((exp["teacher"] or {}).get("edm"),
                                                          cfg["data"].get("fid_statistics"))) else "")
               + (f" {floor.describe_floor(floor_record)}" if floor_record is not None else ""))
    page1 = table_page(f"{LABEL}: one-step generator against the baseline", [
        "method", "final FID (mean ± std)", "final KID (mean)", "iterations to the baseline's final FID",
        "early mismatch vs teacher", "cost per run (s)"], lines, caption, col_widths=[1.6, 1.3, 0.9, 1.5, 1.3, 1.0])
    c = pd.DataFrame(summary["curve"])
    fig = convergence.figure(c, PANELS, {m: LABELS[m] for m in METHODS},
                             "Convergence (FID), score mismatch against the original teacher and, for DisBack only, "
                             "against the path node it is trained towards (small by construction while it walks the "
                             "path; equal to the second panel's once it reaches the teacher). Mean over seeds, band "
                             "min-max; log scale.")
    ab = [[a["run"], str(a["nodes"]), str(a["interval"]), fmt(a["fid"], 2)] for a in summary["ablation"]]
    page3 = table_page("DisBack ablation: path nodes N and switching interval (first seed)",
                       ["run", "path nodes N", "interval (iterations)", "final FID"], ab,
                       f"Each run changes one setting of {ablation_default(exp)}; final FID as in the first table.")
    comp = [[f"teacher ({NAMES.get(r['sampler'], r['sampler'])})" if r["model"] == "teacher" else
             method_label(r["method"]), r["model"], str(int(r["nfe"])), fmt(r["fid"], 2), fmt(r["cost_seconds"], 1),
             str(r["machine"])[:8]] for r in summary["one_step"]]
    first = exp["seeds"][0]  # the same statistic as the other rows: one training seed, minimum over the ranges
    machine = own[own["metric"] == "fid"].set_index("model")["machine"]
    comp += [[LABELS[m], f"{m}-s{first}", "1", fmt(final.get(f"{m}-s{first}"), 2), fmt(cost.get(f"{m}-s{first}"), 1),
              str(machine.get(f"{m}-s{first}", ""))[:8]] for m in METHODS]
    page4 = table_page("One-step models of the same teacher (results table)",
                       ["method", "model", "NFE", "FID", "cost (s)", "machine"], comp,
                       "Every one-step model the suite made from this teacher (PD's last round, knowledge "
                       "distillation, SFD's students at one evaluation) and the teacher's DDIM at its most steps, read "
                       "from the other methods' rows of the results table present when this report was made, beside "
                       f"DisBack's and the baseline's seed-{first} runs: every FID is one training seed's minimum over "
                       "the seed ranges (the first table gives DisBack's mean over seeds); cost = the model's own "
                       "stages' wall time on the machine named (the fingerprint id of its record). "
                       + (context_note or "Every row has this report's evaluation context."),
                       col_widths=[1.6, 1.2, 0.6, 1.0, 0.8, 0.8])
    atomic_write(pdf, lambda f: save_pdf(f, [page1, fig, page3, page4]))
    flat = pd.DataFrame([{"method": m, **{k: v for k, v in r.items() if k != "final_fids"}}
                         for m, r in summary["methods"].items()])
    atomic_write(csv, lambda f: flat.to_csv(f, index=False, float_format="%.6g"))
    return summary


def method_label(name: str) -> str:
    try:
        return get(name).label
    except ValueError:
        return name


def ablation_default(exp: dict[str, Any]) -> str:
    return (f"the first seed's DisBack run (N = {exp['path']['nodes']}, interval {exp['stage_two']['interval']})")


def command(args, cfg, progress):
    """`distill disback-report`."""
    s = build(cfg, args.experiment, Path(args.results), Path(args.pdf), Path(args.csv), Path(args.json),
              Path(args.rows), [Path(p) for p in args.others], Path(args.floor) if args.floor else None)
    print("DisBack " + ", ".join(f"{m}: final FID {r['final_fid_mean']:.2f} ± {r['final_fid_std']:.2f}"
                                 for m, r in s["methods"].items()))


def published_rows(table, cfg):
    """DisBack's final one-step FIDs under the abstract's ImageNet-64 number (experiments that reproduce or stand in
    for ImageNet 64; the published setting, an EDM teacher and EDM's reference statistics, is inferred from the
    code: PUBLISHED.md 4(a))."""
    out = []
    fid = table[(table["metric"] == "fid") & (table["seed_range"] == "min") & (table["method"] == "disback")]
    for r in fid.itertuples():
        exp = cfg["disback"]["experiments"].get(r.experiment, {})
        if exp.get("reproduces") == "imagenet64" and r.model == f"disback-s{exp['seeds'][0]}":  # one run per key
            out.append(keyed("DisBack", "Abstract", "imagenet64", "DisBack", "FID", r,
                             r.value if r.status == "ok" else None, r.status, steps="1"))
    return frame(out)
