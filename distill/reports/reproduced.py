"""The reproduced numbers of one profile as tidy rows keyed like results/published/published.csv, read from the small
summaries the pipeline commits (results/<profile>/table1.json, results/<profile>/pd_<experiment>.json), plus the
subjects the claims registry checks."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from distill.reports import table2

TEACHER_METHOD = "teacher (no distillation)"
PD_METHOD, DDIM_METHOD = "Progressive Distillation (ours)", "DDIM (Song et al., 2021a)"
# Fig. 4 curve of the pd-report summary -> (method, sampler) of the published figure
FIG4_CURVES = {"distilled_ddim": ("distilled", "ddim"), "distilled_stochastic": ("distilled", "ancestral"),
               "teacher_ddim": ("undistilled", "ddim"), "teacher_stochastic": ("undistilled", "ancestral")}


def read_summary(path: Path) -> dict[str, Any] | None:
    """A pipeline summary JSON, None when the run has not produced it; a clear error when it is unreadable."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); delete it and rebuild it with Snakemake") from exc


def table1_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """table1.json as the grid the Table 1 claims read: parameterization, weighting, sampler, fid, is, status."""
    rows = []
    for key, fid in summary["fid"].items():
        p, w, s = key.split("/")
        is_ = summary.get("is", {}).get(key)
        rows.append({"parameterization": p, "weighting": w, "sampler": s,
                     "fid": math.nan if fid is None else fid, "is": math.nan if is_ is None else is_,
                     "status": summary["status"][key]})
    return pd.DataFrame(rows)


def _row(paper, table, reproduces, summary, method, metric, value, status="ok", **keys) -> dict[str, Any]:
    return {"paper": paper, "table": table, "dataset": reproduces, "run_dataset": summary["dataset"],
            "run_resolution": summary.get("resolution"), "method": method, "parameterization": "", "weighting": "",
            "sampler": "", "steps": "", "guidance": "", "metric": metric,
            "reproduced": math.nan if value is None else float(value), "status": status, **keys}


def collect(cfg: dict[str, Any], results: Path) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """(tidy reproduced rows, claim subjects {'table1': {...}, 'pd_experiment': {...}}) of one profile's results."""
    rows: list[dict[str, Any]] = []
    subjects: dict[str, dict[str, Any]] = {"table1": {}, "pd_experiment": {}}
    t1 = read_summary(results / "table1.json")
    if t1 is not None:
        t1 = {**t1, "resolution": cfg["data"].get("resolution")}
        frame = table1_frame(t1)
        subjects["table1"]["table1"] = frame
        for r in frame.to_dict("records"):
            for metric, value in (("FID", r["fid"]), ("IS", r["is"])):
                rows.append(_row("PD", "Table 1", "cifar10", t1, TEACHER_METHOD, metric, value, r["status"],
                                 parameterization=r["parameterization"], weighting=r["weighting"],
                                 sampler=r["sampler"]))
    for name, exp in cfg["pd"]["experiments"].items():
        summary = read_summary(results / f"pd_{name}.json")
        if summary is None:
            continue
        subjects["pd_experiment"][name] = summary
        for curve, (method, sampler) in FIG4_CURVES.items():
            for steps, fid in summary["curves"].get(curve, {}).items():
                rows.append(_row("PD", "Figure 4", exp["reproduces"], summary, method, "FID", fid,
                                 sampler=sampler, steps=str(steps), experiment=name))
        if name == cfg["pd"]["table2"] and exp["reproduces"] == "cifar10":  # PD Table 2 is CIFAR-10 only
            for curve, method in (("distilled_ddim", PD_METHOD), ("teacher_ddim", DDIM_METHOD)):
                for steps, fid in summary["curves"].get(curve, {}).items():
                    if method == DDIM_METHOD or int(steps) in table2.NFES:
                        rows.append(_row("PD", "Table 2", "cifar10", summary, method, "FID", fid,
                                         steps=str(steps), experiment=name))
    return pd.DataFrame(rows), subjects
