"""The training-seed spread of a number, and the tolerance a re-run of it is judged by.

A number made by one training seed moves when the run is repeated on another CPU (floating-point differences grow in
an unstable training) about as much as it moves from one training seed to the next. So each reported number's
tolerance is TOLERANCE_SIGMAS seed-to-seed standard deviations, measured over the training seeds of the spread
target (`reports/table1_spread.pdf`); a number whose spread was not measured has no stated tolerance.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.results.table import CONTEXT, REPORTED, describe_context

TOLERANCE_SIGMAS = 3.0
COLUMNS = ["method", "cell", "sampler", "metric", "seeds", "values", "mean", "std", "tolerance", "status"]


def cell_of(model: str) -> tuple[str, int]:
    """A model name '<cell>-s<seed>' split into the cell and the training seed."""
    m = re.fullmatch(r"(.+)-s(\d+)", model)
    if not m:
        raise ValueError(f"model {model!r} does not end in -s<seed>; its spread over training seeds is undefined")
    return m.group(1), int(m.group(2))


def spread(rows: pd.DataFrame, metric: str = "fid") -> pd.DataFrame:
    """Per (method, cell, sampler): the reported value (minimum over seed ranges) of every training seed, their mean,
    sample standard deviation and the tolerance; a cell with a failed seed has no statistics and says why."""
    part = rows[(rows["metric"] == metric) & (rows["seed_range"] == REPORTED)].copy()
    part[["cell", "seed"]] = [cell_of(m) for m in part["model"]]
    out = []
    for (method, cell, sampler), g in part.groupby(["method", "cell", "sampler"], sort=True):
        g = g.sort_values("seed")
        failed = g[g["status"] != "ok"]
        values = [float(v) for v in g["value"]]
        contexts = g.groupby(CONTEXT, sort=True)["seed"].apply(lambda x: " ".join(str(s) for s in x)) \
            if all(c in g for c in CONTEXT) else pd.Series(dtype=str)
        mixed = len(contexts) > 1
        ok = failed.empty and len(values) >= 2 and not mixed
        std = float(pd.Series(values).std(ddof=1)) if ok else math.nan
        out.append({"method": method, "cell": cell, "sampler": sampler, "metric": metric,
                    "seeds": " ".join(str(s) for s in g["seed"]), "values": " ".join(f"{v:.6g}" for v in values),
                    "mean": sum(values) / len(values) if ok else math.nan, "std": std,
                    "tolerance": TOLERANCE_SIGMAS * std if ok else math.nan,
                    "status": "ok" if ok else (failed["status"].iloc[0] if not failed.empty else
                                               "mixed evaluation contexts: " + "; ".join(
                                                   f"seeds {v} ({describe_context(k)})" for k, v in contexts.items())
                                               if mixed else "one seed only")})
    return pd.DataFrame(out, columns=COLUMNS)


def write(path, df: pd.DataFrame) -> None:
    atomic_write(path, lambda p: df.to_csv(p, index=False, float_format="%.6g"))


def for_numbers(s: pd.DataFrame, reported: dict[tuple[str, str], tuple[float, list[int]]]
                ) -> dict[tuple[str, str], tuple[float, float, str]]:
    """The spread of each (cell, sampler) of `reported` ({key: (the reported number, its training seeds)}) that was
    measured *for that number*: the spread's values at those seeds average to it (to the CSV's 6 significant digits).
    A spread measured for other numbers (another run, machine or commit) is left out: a report never shows a spread
    beside numbers it was not computed for. Returns {key: (mean, std, seeds)}."""
    out = {}
    for r in s[s["metric"] == "fid"].itertuples():
        key = (r.cell, r.sampler)
        if key not in reported or not r.seeds or math.isnan(r.std):
            continue
        value, seeds = reported[key]
        by_seed = dict(zip((int(x) for x in r.seeds.split()), (float(v) for v in r.values.split())))
        if value is None or math.isnan(value) or not all(seed in by_seed for seed in seeds):
            continue
        if math.isclose(sum(by_seed[seed] for seed in seeds) / len(seeds), value, rel_tol=1e-5):
            out[key] = (r.mean, r.std, r.seeds)
    return out


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"seeds": str, "values": str}, keep_default_na=False,
                       na_values={"mean": [""], "std": [""], "tolerance": [""]})


def measured_for(frame: pd.DataFrame, method: str, cell: str, value: float | None) -> tuple[float, float, int] | None:
    """(mean, std, seeds) of one cell's FID spread, only where one of its seeds reported `value` (to the CSV's 6
    significant digits): a spread measured for other numbers is never shown beside this one."""
    if frame is None or frame.empty or value is None or math.isnan(value):
        return None
    rows = frame[(frame["method"] == method) & (frame["cell"] == cell) & (frame["metric"] == "fid")]
    for r in rows.itertuples():
        values = [float(v) for v in str(r.values).split()]
        if not math.isnan(r.std) and any(math.isclose(v, value, rel_tol=1e-5) for v in values):
            return float(r.mean), float(r.std), len(values)
    return None


def read_method(results, method: str) -> pd.DataFrame:
    """results/<profile>/spread/<method>.csv, an empty frame where the spread target was not built."""
    path = Path(results) / "spread" / f"{method}.csv"
    return read(path) if path.is_file() else pd.DataFrame(columns=COLUMNS)


def text(found: tuple[float, float, int] | None) -> str:
    """A number's spread in a table cell: ' (mean ± std, n seeds)', or nothing where it was not measured."""
    return "" if found is None else f" ({found[0]:.2f} ± {found[1]:.2f}, {found[2]} seeds)"
