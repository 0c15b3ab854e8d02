"""PD Table 2: fast sampling on CIFAR-10, the published rows beside this suite's reproduced rows, from the results
table of every method that reproduces a row of it (the registry's `reproduces`): PD's students at 1/2/4/8 steps, the
undistilled teacher's DDIM at the published numbers of evaluations, knowledge distillation's one-step student, each
with its cost."""

from __future__ import annotations

import math

from pathlib import Path
from typing import Any

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.pipeline import floor
from distill.plugins.kd import LABEL as KD_LABEL, STEPS as KD_STEPS
from distill.plugins.pd import LABEL
from distill.registry import active
from distill.reports.format import fmt
from distill.reports.pdf import save_pdf, table_page
from distill.reports.published import select
from distill.results import spread, table as results_table

PAPER, TABLE = "PD", "Table 2"


def contributors(cfg: dict[str, Any]) -> list:
    return [m for m in active(cfg) if (PAPER, TABLE) in m.reproduces]


def reproduced_rows(cfg: dict[str, Any], parts: list[Path]) -> pd.DataFrame:
    table = results_table.read(parts)
    keyed = [m.published_rows(table[table["method"] == m.name], cfg) for m in contributors(cfg)]
    out = pd.concat(keyed, ignore_index=True) if keyed else pd.DataFrame()
    out = out[(out["paper"] == PAPER) & (out["table"] == TABLE)] if not out.empty else out
    if out.empty:
        raise ValueError("no reproduced row of PD Table 2 in the results parts given")
    return pd.DataFrame({
        "method": out["method"], "nfe": out["steps"].astype(int), "fid": out["reproduced"], "kid": out["kid"],
        "status": out["status"],
        "cost_seconds": out["cost_seconds"], "cost_images": out["cost_images"],
        "cost_teacher_evals": out["cost_teacher_evals"],
        "source": [f"reproduced: profile '{cfg['profile']}', {d} {int(r)}px"
                   for d, r in zip(out["run_dataset"], out["run_resolution"])]})


def published_rows(published: Path) -> pd.DataFrame:
    pub = select(published, PAPER, TABLE, exact_only=True)
    return pd.DataFrame({"method": pub["method"], "nfe": pub["steps"].astype(int), "fid": pub["value"].astype(float),
                         "source": "published: CIFAR-10 32px (PD Table 2, EXACT)"})


def _cost(group: pd.DataFrame) -> str:
    if "cost_seconds" not in group or group["cost_seconds"].isna().all():
        return "—"
    last = group.sort_values("nfe").iloc[0]  # the fewest-step model is the most distilled (costliest) one
    return f"{fmt(last['cost_seconds'] / 60, 1)} min, {int(last['cost_images']):,} img"


def with_spread(repro: pd.DataFrame, cfg: dict[str, Any], spread_csvs: list[Path] | None) -> pd.DataFrame:
    """The one-step and few-step students' FID mean and standard deviation over training seeds (the PD and KD spread
    targets'), where it was measured for these numbers (distill.results.spread.for_numbers)."""
    cells: list[tuple[str, str, int] | None] = []  # (spread file, cell, the number's training seed) of each row
    pd_exp = cfg["pd"]["experiments"].get(cfg["pd"]["table2"]) if cfg.get("pd") else None
    kd_exps = {n: e for n, e in ((cfg.get("kd") or {}).get("experiments") or {}).items()
               if e.get("reproduces") == "cifar10"}
    for method, n in zip(repro["method"], repro["nfe"]):
        if method == LABEL and pd_exp:
            cells.append(("pd.csv", f"{cfg['pd']['table2']}-n{n}", pd_exp["seed"]))
        elif method == KD_LABEL and kd_exps and int(n) == KD_STEPS:
            name, exp = next(iter(kd_exps.items()))
            cells.append(("kd.csv", f"{name}-n{KD_STEPS}", exp["seed"]))
        else:
            cells.append(None)
    measured: dict[tuple[str, tuple[str, str]], tuple[float, float, str]] = {}
    for path in spread_csvs or []:
        if not Path(path).exists():
            continue
        reported = {(c[1], "ddim"): (fid, [c[2]])
                    for c, fid in zip(cells, repro["fid"]) if c and c[0] == Path(path).name}
        measured.update({(Path(path).name, k): v
                         for k, v in spread.for_numbers(spread.read(path), reported).items()})
    found = [measured.get((c[0], (c[1], "ddim")), (math.nan, math.nan))[:2] if c else (math.nan, math.nan)
             for c in cells]
    return repro.assign(fid_seed_mean=[f[0] for f in found], fid_seed_std=[f[1] for f in found])


def _fid(fid: float, mean: float, std: float) -> str:
    if pd.isna(fid):
        return "not run"
    return fmt(fid) if pd.isna(std) else f"{fmt(fid)} ({fmt(mean)} ± {fmt(std)})"


def build(cfg: dict[str, Any], parts: list[Path], published: Path, pdf: Path, csv: Path,
          spread_csvs: list[Path] | None = None, floor_json: Path | None = None) -> pd.DataFrame:
    floor_record = floor.read(floor_json)
    own = results_table.read(parts)
    context = results_table.one_context(own[own["seed_range"] == results_table.REPORTED], "PD Table 2")
    if context:  # rows of different classifiers or reference statistics are not compared
        raise ValueError(f"{context}; rebuild them on one machine (snakemake --cores all -- reports/table2.pdf)")
    floor_record = floor.matching(floor_record, own)
    repro = with_spread(reproduced_rows(cfg, parts), cfg, spread_csvs)
    table = pd.concat([published_rows(published), repro], ignore_index=True)
    atomic_write(csv, lambda p: table.to_csv(p, index=False, float_format="%.4f"))
    rows, bold = [], []
    for (method, source), group in table.groupby(["method", "source"], sort=False):  # one line per method, as the paper
        group = group.sort_values("nfe")
        fids = " / ".join(_fid(*v) for v in zip(group["fid"], group["fid_seed_mean"], group["fid_seed_std"]))
        reproduced = source.startswith("reproduced")
        kids = " / ".join(fmt(k, 0) for k in group["kid"]) if reproduced and "kid" in group else "—"
        rows.append([method, " / ".join(str(n) for n in group["nfe"]), fids, kids,
                     _cost(group) if reproduced else "—", source])
        if reproduced:
            bold.append((len(rows), 2))
    if floor.fid(floor_record) is not None:  # what a perfect generator scores under the same protocol
        rows.append(["Real data (FID floor of the protocol)", "—", fmt(floor.fid(floor_record)),
                     fmt(floor.kid(floor_record), 0), "—", f"real {floor_record['data']} images"])
    data = sorted(set(repro["source"]))
    caption = (f"Top: the paper's Table 2 (CIFAR-10, FID on Inception features). Bottom, in bold: this suite's rows "
               f"({'; '.join(data)}), every method on the same teacher; FID = minimum over "
               f"{cfg['evaluation']['seed_ranges']} seed ranges of {cfg['evaluation']['num_samples']} samples in the "
               f"'{cfg['evaluation']['feature_extractor']}' feature space. Cost: distillation from the teacher "
               "(wall time of its training jobs and images through the trained network; the teacher's own training is "
               "not included; for DDIM, the teacher's training). In parentheses, where a spread target "
               "(reports/pd_spread.pdf, reports/kd_spread.pdf) measured it for these very numbers: mean ± standard "
               "deviation over its training seeds; a number without one comes from one training seed. KID: the same "
               "evaluations' (minimum over the ranges; unbiased in N, ~0 for a perfect generator). "
               + ("These are NOT CIFAR-10 numbers: compare how FID changes with the number of evaluations, not values."
                  if cfg["data"]["name"] != "cifar10" else "Reproduced on CIFAR-10.")
               + (f" {floor.describe_floor(floor_record)}" if floor_record is not None else ""))
    page = table_page("Progressive Distillation, Table 2: fast sampling (published and reproduced)",
                      ["Method", "Model evaluations", "FID", "KID (same evaluations)", "Cost (most distilled)",
                       "Source"], rows, caption, bold, width=15, font_size=8,
                      col_widths=[0.26, 0.11, 0.22, 0.11, 0.11, 0.19])
    atomic_write(pdf, lambda p: save_pdf(p, [page]))
    return table


def command(args, cfg, progress):
    """`distill table2`."""
    build(cfg, [Path(p) for p in args.rows], Path(args.published), Path(args.pdf), Path(args.csv),
          [Path(p) for p in args.spread or []], Path(args.floor) if args.floor else None)
