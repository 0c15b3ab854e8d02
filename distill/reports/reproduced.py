"""Reproduced numbers keyed like results/published/published.csv, built from the results table by each method's
`published_rows` (its card in distill/plugins), and the claim subjects every method provides."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from distill.claims import spreads
from distill.registry import active
from distill.results import table as results_table

KEYS = ["paper", "table", "dataset", "method", "parameterization", "weighting", "sampler", "steps", "guidance",
        "metric"]
COLUMNS = KEYS + ["reproduced", "status", "run_dataset", "run_resolution", "experiment", "cost_seconds",
                  "cost_images", "cost_teacher_evals", "kid"]


def read_summary(path: Path) -> dict[str, Any] | None:
    """A pipeline summary JSON, None when the run has not produced it; a clear error when it is unreadable."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); delete it and rebuild it with Snakemake") from exc


def keyed(paper: str, table: str, dataset: str, method: str, metric: str, row: Any, value: float | None,
          status: str = "ok", **keys: Any) -> dict[str, Any]:
    """One reproduced number under the published key, from a results-table row (for its data set and cost)."""
    get = (lambda k: row[k]) if isinstance(row, (dict, pd.Series)) else (lambda k: getattr(row, k))
    has = (lambda k: k in row) if isinstance(row, (dict, pd.Series)) else (lambda k: hasattr(row, k))
    out = {k: "" for k in KEYS}
    out.update(paper=paper, table=table, dataset=dataset, method=method, metric=metric, **keys)
    out.update(reproduced=math.nan if value is None else float(value), status=status, run_dataset=get("dataset"),
               run_resolution=get("resolution"), experiment=get("experiment"),
               cost_seconds=get("cost_seconds"), cost_images=get("cost_images"),
               cost_teacher_evals=get("cost_teacher_evals"),
               # KID beside a FID (the same evaluation's, minimum over the ranges), where the row carries it
               kid=float(get("kid")) if metric == "FID" and has("kid") and value is not None else math.nan)
    return out


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def gather(rows: pd.DataFrame, cards) -> pd.DataFrame:
    """`rows` with, for each card's `gathers`, the named methods' rows of each source table copied under the table
    that lists them too (renamed as it names them)."""
    parts = []  # the gathered rows first, as the methods they come from are listed before the gathering one
    for card in cards:
        for (paper, table), sources in card.gathers.items():
            for (src_paper, src_table), names in sources.items():
                src = rows[(rows["paper"] == src_paper) & (rows["table"] == src_table) & rows["method"].isin(names)]
                if not src.empty:
                    parts.append(src.assign(paper=paper, table=table, method=src["method"].map(names)))
    return pd.concat([*parts, rows], ignore_index=True) if parts else rows


def collect(cfg: dict[str, Any], results: Path) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """(every active method's reproduced rows keyed like published.csv, claim subjects by kind) of one profile,
    read from results/<profile>/results.csv and the methods' summaries."""
    path = results / "results.csv"
    table = results_table.read(path) if path.is_file() else pd.DataFrame(columns=results_table.COLUMNS)
    parts, subjects = [], {}
    for method in active(cfg):
        mine = table[table["method"] == method.name]
        if not mine.empty:
            keyed_rows = method.published_rows(mine, cfg)
            if not keyed_rows.empty:  # an empty part would turn the numeric columns of the concatenation to objects
                parts.append(keyed_rows)
        for kind, found in method.subjects(cfg, results).items():
            subjects.setdefault(kind, {}).update(found)
    reproduced = gather(pd.concat(parts, ignore_index=True) if parts else frame([]), active(cfg))
    for (paper, table_name), group in reproduced.groupby(["paper", "table"], sort=False):
        subjects.setdefault(f"table:{paper}/{table_name}", {})[f"{paper} {table_name}"] = group.reset_index(drop=True)

    found = spreads.read(results)
    subjects = {kind: {name: spreads.attach(data, found) for name, data in named.items()}
                for kind, named in subjects.items()}
    return reproduced, subjects
