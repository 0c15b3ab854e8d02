"""A claim's budget trend: the claims of one subject kind checked on the same experiment run at two or more training
budgets (x1, and the copies of `<method>.trend.factors`), side by side, so a claim that is paper-only at a reduced
scale shows which way its quantity moves when the training grows (reports/<method>_trend.pdf)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from distill.claims.registry import evaluate_subject
from distill.core.checkpoint import atomic_write
from distill.reports.pdf import save_pdf, table_page

HEADER = ["claim", "budget", "holds?", "the numbers"]


def build(cfg: dict[str, Any], kind: str, summaries: list[Path], labels: list[str], title: str, pdf: Path,
          csv: Path) -> pd.DataFrame:
    if len(summaries) != len(labels) or len(summaries) < 2:
        raise ValueError(f"a trend needs two or more summaries with one label each (got {len(summaries)} summaries "
                         f"and {len(labels)} labels)")
    rows = []
    for path, label in zip(summaries, labels):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} (budget {label}) is missing: build it first (its method's report)")
        for o in evaluate_subject(kind, json.loads(Path(path).read_text()), cfg["profile"], label):
            rows.append({"id": o["id"], "claim": o["claim"], "budget": label, "status": o["status"],
                         "detail": o["detail"]})
    df = pd.DataFrame(rows).sort_values(["id", "budget"], key=lambda c: c.map(
        {b: i for i, b in enumerate(labels)}) if c.name == "budget" else c, kind="stable")
    atomic_write(csv, lambda p: df.to_csv(p, index=False))
    body = [[f"{r.claim} [{r.id}]", r.budget, r.status, r.detail] for r in df.itertuples()]
    caption = (f"Profile '{cfg['profile']}': each claim about '{kind}' checked on the same experiment trained with "
               f"the budgets {', '.join(labels)} (x<k>: the settings the trend names multiplied by k; same seeds, "
               "data and evaluation). Read the direction of each claim's numbers from one budget to the "
               "next: a claim that moves towards holding is held back by the reduced budget; one that does not move "
               "or moves away is not.")
    page = table_page(title, HEADER, body, caption, width=13.0, font_size=7, col_widths=[0.28, 0.06, 0.08, 0.58])
    atomic_write(pdf, lambda p: save_pdf(p, [page]))
    return df


def command(args, cfg, progress):
    """`distill claim-trend`."""
    df = build(cfg, args.kind, [Path(p) for p in args.summaries], args.labels, args.title, Path(args.pdf),
               Path(args.csv))
    print(df[["id", "budget", "status"]].to_string(index=False))
