"""PD Figure 4 (FID against sampling steps), the students' stochastic sampling (App. F), the cost of every round,
and the paper's claims, for one experiment of pd.experiments.

Every FID is the protocol's reported value: the minimum over the seed ranges (as in Table 1); the CSV also holds
the mean. The stochastic curves report the best variance exponent gamma at each step count (PD Fig. 4 caption).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.core.provenance import write_record
from distill.results.plots import write_curves, write_losses
from distill.plugins import pd_layout as L
from distill.claims import evaluate_subject
from distill.pipeline import floor
from distill.plugins.pd import DDIM_LABEL, FIG4_CURVES, LABEL, NFES
from distill.reports.jobs import total_job_seconds
from distill.reports.pd_pages import CURVES, details_page, figure
from distill.results import table as results_table
from distill.results.table import record_rows
from distill.reports.published import select
from distill.reports.pdf import save_pdf
from distill.reports.reproduced import frame, keyed, read_summary


def round_costs(results: Path, name: str, exp: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each model's cost from its teacher: the teacher's training, and for the student of N steps every round from
    the teacher down to N (wall seconds, images, teacher network evaluations)."""
    def summary(model: str) -> dict[str, Any]:
        return json.loads(Path(L.model_dir(str(results), name, exp, model), "summary.json").read_text())

    teacher = summary(L.TEACHER)
    out = {L.TEACHER: {"cost_seconds": teacher["wall_seconds"], "cost_images": teacher["images_seen"],
                       "cost_teacher_evals": 0}}
    total = {"cost_seconds": 0.0, "cost_images": 0, "cost_teacher_evals": 0}
    for n in L.student_steps(exp["teacher_steps"]):
        s = summary(L.student_name(n))
        total = {"cost_seconds": total["cost_seconds"] + s["wall_seconds"],
                 "cost_images": total["cost_images"] + s["images_seen"],
                 "cost_teacher_evals": total["cost_teacher_evals"] + s.get("teacher_forwards", 0)}
        out[L.student_name(n)] = dict(total)
    return out


def rows(cfg: dict[str, Any], results: Path, name: str) -> list[dict[str, Any]]:
    """PD's part of the results table for one experiment: every evaluation of Fig. 4 and Table 2 with its model's
    cost (cfg is the experiment's view of the profile)."""
    exp, gammas = cfg["pd"]["experiments"][name], cfg["pd"]["gammas"]
    costs, out = round_costs(results, name, exp), []
    teacher = L.teacher_dir(str(results), name, exp)
    for e in L.all_evaluations(exp, gammas, L.table2_steps(cfg, name)):
        record = json.loads(Path(L.metrics_path(str(results), name, e)).read_text())
        sampler, gamma = L.parse_spec(e.spec)
        s = record["sampling"]
        out += record_rows(record, profile=cfg["profile"], method="pd", experiment=name, dataset=cfg["data"]["name"],
                           resolution=cfg["data"].get("resolution"), teacher=teacher, model=e.model, sampler=sampler,
                           options="" if gamma is None else f"gamma={gamma:g}", grid=s.get("grid", "uniform"),
                           steps=e.steps, nfe=s.get("nfe", e.steps), **costs[e.model])
    return out


def collect(table: pd.DataFrame, name: str, exp: dict[str, Any], gammas: list[float]) -> pd.DataFrame:
    """One row per evaluation of Fig. 4 (pd_layout.evaluations) with its FID (min and mean over seed ranges), read
    from the results rows."""
    part = table[(table["method"] == "pd") & (table["experiment"] == name)]
    out = []
    for e in L.evaluations(exp, gammas):
        sampler, gamma = L.parse_spec(e.spec)
        ev = part[(part["model"] == e.model) & (part["sampler"] == sampler) & (part["steps"] == e.steps)
                  & (part["options"] == ("" if gamma is None else f"gamma={gamma:g}"))]
        if ev.empty:
            raise ValueError(f"results rows have no PD evaluation {e}; rebuild them with Snakemake")

        def value(metric: str, which: str) -> float:
            v = ev[(ev["metric"] == metric) & (ev["seed_range"] == which)]["value"]
            return float(v.iloc[0]) if len(v) else math.nan

        ok = ev["status"].iloc[0] == "ok"
        out.append({"model": e.model, "steps": e.steps, "sampler": sampler, "gamma": gamma,
                    "fid": value("fid", "min") if ok else math.nan, "fid_mean": value("fid", "mean") if ok else math.nan,
                    "is": value("is", "mean") if ok else math.nan, "kid": value("kid", "min") if ok else math.nan,
                    "status": ev["status"].iloc[0]})
    return pd.DataFrame(out)


def curves(table: pd.DataFrame) -> pd.DataFrame:
    """The four curves of Fig. 4: DDIM rows as they are, stochastic rows reduced to the best gamma per step count."""
    out = []
    for who, is_teacher in (("teacher", True), ("distilled", False)):
        part = table[(table["model"] == L.TEACHER) == is_teacher]
        ddim = part[part["sampler"] == "ddim"].assign(curve=f"{who}_ddim")
        out.append(ddim)
        stoch = part[part["sampler"] == "ancestral"]
        for steps, group in stoch.groupby("steps"):
            ok = group[group["fid"].notna()]
            best = ok.loc[ok["fid"].idxmin()] if not ok.empty else group.iloc[0]
            out.append(best.to_frame().T.assign(curve=f"{who}_stochastic"))
    frame = pd.concat(out, ignore_index=True)
    frame["steps"] = frame["steps"].astype(int)
    for col in ("fid", "fid_mean", "is", "kid", "gamma"):
        frame[col] = pd.to_numeric(frame[col]) if col in frame else math.nan  # KID: where the rows carry it
    return frame.sort_values(["curve", "steps"]).reset_index(drop=True)


def curves_from_rows(part: pd.DataFrame, fig4_steps: list[int]) -> pd.DataFrame:
    """Fig. 4's curves from one experiment's results rows (at Fig. 4's step counts), plus 'teacher_ddim_all': the
    teacher's DDIM at every step count evaluated (Table 2's too). Each row keeps its data set and cost."""
    fid = results_table.reported_fid(part)
    keep = ["dataset", "resolution", "experiment", "cost_seconds", "cost_images", "cost_teacher_evals"]
    t = pd.DataFrame({"model": fid["model"], "steps": fid["steps"].astype(int), "sampler": fid["sampler"],
                      "gamma": [float(o.split("=")[1]) if o else None for o in fid["options"]],
                      "fid": fid["value"].where(fid["status"] == "ok"), "fid_mean": math.nan, "is": math.nan,
                      "kid": fid["kid"].where(fid["status"] == "ok"), "status": fid["status"],
                      **{k: fid[k] for k in keep}})
    frame = curves(t[t["steps"].isin(fig4_steps)])
    every = t[(t["model"] == L.TEACHER) & (t["sampler"] == "ddim")].assign(curve="teacher_ddim_all")
    return pd.concat([frame, every.sort_values("steps")], ignore_index=True)


def cost_table(results: Path, name: str, exp: dict[str, Any]) -> list[dict[str, Any]]:
    """Wall time and images processed by teacher training and by every round, as fractions of the teacher's."""
    def summary(model: str) -> dict[str, Any]:
        return json.loads(Path(L.model_dir(str(results), name, exp, model), "summary.json").read_text())

    teacher = summary(L.TEACHER)
    rows = [{"stage": "teacher", "student_steps": None, "updates": teacher["steps"],
             "images": teacher["images_seen"], "wall_seconds": teacher["wall_seconds"], "status": teacher["status"],
             "fraction_of_teacher": 1.0, "images_fraction_of_teacher": 1.0}]
    for n in L.student_steps(exp["teacher_steps"]):
        s = summary(L.student_name(n))
        done = s["status"] == "completed" and teacher["wall_seconds"] > 0
        rows.append({"stage": f"{2 * n}→{n}", "student_steps": n, "updates": s["steps"], "images": s["images_seen"],
                     "wall_seconds": s["wall_seconds"], "status": s["status"],
                     "fraction_of_teacher": s["wall_seconds"] / teacher["wall_seconds"] if done else math.nan,
                     "images_fraction_of_teacher": s["images_seen"] / teacher["images_seen"] if done else math.nan})
    return rows


def published_points(published: Path, dataset: str) -> pd.DataFrame:
    """The known (EXACT) points of the Fig. 4 panel this experiment reproduces (only CIFAR-10 distilled at 1/2/4/8
    steps are known; the other panels' points are NOT FOUND)."""
    pub = select(published, "PD", "Figure 4", exact_only=True)
    return pub[pub["dataset"] == dataset].assign(
        steps=lambda d: d["steps"].astype(int), fid=lambda d: d["value"].astype(float))


def build(cfg: dict[str, Any], name: str, results: Path, published: Path, pdf: Path, csv: Path, json_path: Path,
          rows_csv: Path, plots: Path, benchmarks: Optional[Path] = None,
          floor_json: Optional[Path] = None) -> dict[str, Any]:
    floor_record = floor.read(floor_json)
    exp, gammas = cfg["pd"]["experiments"][name], cfg["pd"]["gammas"]
    written = results_table.write(rows_csv, rows(cfg, results, name))
    floor_record = floor.matching(floor_record, written)
    table = collect(written, name, exp, gammas)
    frame = curves(table)
    cost = cost_table(results, name, exp)
    write_curves(frame[frame["curve"].isin(list(CURVES)) & frame["fid"].notna()], "curve", "steps", "fid",
                 plots / "fig4")
    write_losses({m: Path(L.model_dir(str(results), name, exp, m))
                  for m in [L.TEACHER] + [L.student_name(n) for n in L.student_steps(exp["teacher_steps"])]},
                 plots / "losses")

    def by_steps(curve: str) -> dict[int, float]:
        part = frame[(frame["curve"] == curve) & frame["fid"].notna()]
        return {int(r.steps): float(r.fid) for r in part.itertuples()}

    teacher_fids = frame[frame["curve"].str.startswith("teacher") & frame["fid"].notna()]["fid"]
    teacher_best = float(teacher_fids.min()) if len(teacher_fids) else None
    pub = published_points(published, exp["reproduces"])

    tidy = frame.assign(source="reproduced", dataset=cfg["data"]["name"], profile=cfg["profile"])
    tidy = pd.concat([tidy, pub.assign(curve="distilled_ddim", source="published", sampler="ddim",
                                       profile="paper")[["curve", "steps", "fid", "source", "dataset", "profile",
                                                         "sampler"]]], ignore_index=True)
    columns = ["source", "profile", "dataset", "curve", "steps", "sampler", "gamma", "fid", "fid_mean", "is", "status"]
    atomic_write(csv, lambda p: tidy[columns].to_csv(p, index=False, float_format="%.4f"))
    summary = {
        "profile": cfg["profile"], "experiment": name, "dataset": cfg["data"]["name"],
        "resolution": cfg["data"].get("resolution"), "teacher_steps": exp["teacher_steps"],
        "curves": {c: {str(k): v for k, v in by_steps(c).items()} for c in CURVES},
        "best_gamma": {c: {str(int(r.steps)): float(r.gamma) for r in frame[frame["curve"] == c].itertuples()
                           if not math.isnan(r.gamma)} for c in ("teacher_stochastic", "distilled_stochastic")},
        "status": {f"{r.model}/{r.sampler}{'' if r.gamma is None or math.isnan(r.gamma) else f'-g{r.gamma:g}'}"
                   f"/n{r.steps}": r.status for r in table.itertuples() if r.status != "ok"},
        "teacher_best_fid": teacher_best, "cost": cost, "fid_floor": floor.fid(floor_record),
        "evaluation": {k: cfg["evaluation"][k] for k in ("num_samples", "seed_ranges", "feature_extractor")},
        "total_job_seconds": _job_seconds(benchmarks, name),
    }
    summary["claims"] = claims = evaluate_subject("pd_experiment", summary, cfg["profile"], name)
    write_record(json_path, summary)
    atomic_write(pdf, lambda p: save_pdf(p, [figure(frame, pub, cfg, name, exp, floor_record),
                                             details_page(frame, cost, claims, cfg, name, floor_record)]))
    return summary


def _job_seconds(benchmarks: Optional[Path], name: str) -> Optional[float]:
    return total_job_seconds(benchmarks / "pd" / name) if benchmarks else None


def command(args, cfg, progress):
    """`distill pd-report`."""
    summary = build(cfg, args.experiment, Path(args.results), Path(args.published), Path(args.pdf), Path(args.csv),
                    Path(args.json), Path(args.rows), Path(args.plots),
                    Path(args.benchmarks) if args.benchmarks else None, Path(args.floor) if args.floor else None)
    for claim in summary["claims"]:
        print(f"{claim['status']:>13}: {claim['claim']} ({claim['detail']})")


def published_rows(table, cfg):
    """Fig. 4's four curves (stochastic at the best gamma per step count) and Table 2's PD and DDIM rows."""
    out = []
    for name, exp in cfg["pd"]["experiments"].items():
        part = table[table["experiment"] == name]
        if part.empty:
            continue
        curves = curves_from_rows(part, L.fig4_steps(exp["teacher_steps"]))
        for curve, (method, sampler) in FIG4_CURVES.items():
            for r in curves[curves["curve"] == curve].itertuples():
                out.append(keyed("PD", "Figure 4", exp["reproduces"], method, "FID", r, r.fid, r.status,
                                 sampler=sampler, steps=str(r.steps)))
        if name == cfg["pd"]["table2"] and exp["reproduces"] == "cifar10":  # PD Table 2 is CIFAR-10 only
            for r in curves[curves["curve"] == "distilled_ddim"].itertuples():
                if r.steps in NFES:
                    out.append(keyed("PD", "Table 2", "cifar10", LABEL, "FID", r, r.fid, r.status, steps=str(r.steps)))
            for r in curves[curves["curve"] == "teacher_ddim_all"].itertuples():
                out.append(keyed("PD", "Table 2", "cifar10", DDIM_LABEL, "FID", r, r.fid, r.status,
                                 steps=str(r.steps)))
    return frame(out)


def subjects(cfg, results: Path) -> dict[str, dict[str, Any]]:
    found = {name: s for name in cfg["pd"]["experiments"] if (s := read_summary(results / f"pd_{name}.json"))}
    return {"pd_experiment": found}
