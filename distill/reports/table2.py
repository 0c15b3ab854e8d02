"""PD Table 2: fast sampling on CIFAR-10, the published rows beside this suite's reproduced rows (PD at 1/2/4/8 steps
and the undistilled teacher's DDIM at the same numbers of model evaluations), from `distill pd-report`'s JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.reports.published import select
from distill.reports.pdf import save_pdf, table_page

NFES = (1, 2, 4, 8)


def reproduced_rows(summary: dict[str, Any]) -> pd.DataFrame:
    where = f"reproduced: profile '{summary['profile']}', {summary['dataset']} {summary['resolution']}px"
    rows = []
    for curve, method in (("distilled_ddim", "Progressive Distillation"), ("teacher_ddim", "DDIM (undistilled teacher)")):
        fids = summary["curves"][curve]
        rows += [{"method": method, "nfe": n, "fid": fids.get(str(n)), "source": where} for n in NFES]
    return pd.DataFrame(rows)


def published_rows(published: Path) -> pd.DataFrame:
    pub = select(published, "PD", "Table 2", exact_only=True)
    return pd.DataFrame({"method": pub["method"], "nfe": pub["steps"].astype(int), "fid": pub["value"].astype(float),
                         "source": "published: CIFAR-10 32px (PD Table 2, EXACT)"})


def build(pd_json: Path, published: Path, pdf: Path, csv: Path) -> pd.DataFrame:
    summary = json.loads(Path(pd_json).read_text())
    table = pd.concat([published_rows(published), reproduced_rows(summary)], ignore_index=True)
    atomic_write(csv, lambda p: table.to_csv(p, index=False, float_format="%.4f"))
    rows, bold = [], []
    for (method, source), group in table.groupby(["method", "source"], sort=False):  # one line per method, as the paper
        fids = " / ".join("not run" if pd.isna(f) else f"{f:.2f}" for f in group["fid"])
        rows.append([method, " / ".join(str(n) for n in group["nfe"]), fids, source])
        if source.startswith("reproduced"):
            bold.append((len(rows), 2))
    caption = (f"Top: the paper's Table 2 (CIFAR-10, FID on Inception features). Bottom, in bold: this suite's rows for "
               f"profile '{summary['profile']}', data set '{summary['dataset']}' at {summary['resolution']}px, "
               f"teacher of {summary['teacher_steps']} DDIM steps, FID = minimum over "
               f"{summary['evaluation']['seed_ranges']} seed ranges of {summary['evaluation']['num_samples']} samples "
               f"in the '{summary['evaluation']['feature_extractor']}' feature space. "
               + ("These are NOT CIFAR-10 numbers: compare how FID changes with the number of evaluations, not values."
                  if summary["dataset"] != "cifar10" else "Reproduced on CIFAR-10."))
    page = table_page("Progressive Distillation, Table 2: fast sampling (published and reproduced)",
                      ["Method", "Model evaluations", "FID", "Source"], rows, caption, bold, width=13, font_size=8,
                      col_widths=[0.36, 0.14, 0.22, 0.28])
    atomic_write(pdf, lambda p: save_pdf(p, [page]))
    return table
