"""The results table of a profile: every evaluation of every method as tidy, long-format rows.

One row per (method, experiment, model, sampler, grid, steps, seed range, metric) with the model's cost:

  profile, method, experiment, dataset, resolution, teacher, model, sampler, options, grid, steps, nfe, guidance,
  seed_range ('min', 'mean' or the range index 0, 1, ...), metric, value, status,
  cost_seconds, cost_images, cost_teacher_evals, commit, machine, extractor_sha256, reference_sha256

NFE counts network evaluations (two per step for a guided denoiser). `guidance` is the classifier-free guidance weight
w of a guided sample (a guided teacher's, or the w a guided-distillation student is given); empty when unguided. The cost is what producing the model took from
its teacher (a teacher: its training; a PD student: every round down to it; a KD student: generating its pairs and
training), in wall seconds, images through the trained network, and teacher network evaluations. `commit` and
`machine` say where the evaluation was made (the code's git commit, '+dirty' when the code differed from it, and the
environment fingerprint of distill.core.provenance; empty for records made before provenance was recorded).
`extractor_sha256` and `reference_sha256` are the evaluation context: the feature extractor's weights (the trained
domain classifier at reduced scale, retrained on each machine that builds it) and the reference statistics the FID was
computed against. Numbers of different contexts are not comparable: `one_context` says which rows differ, and every
report that puts rows side by side refuses to compare across contexts.

Each method writes its part (`results/<profile>/rows/<method>[-<experiment>].csv`, by its report step, so a report
waits only for its own jobs); `distill results` joins them into `results/<profile>/results.csv`, which `distill
compare` reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.results import validate

COLUMNS = ["profile", "method", "experiment", "dataset", "resolution", "teacher", "model", "sampler", "options",
           "grid", "steps", "nfe", "guidance", "seed_range", "metric", "value", "status", "cost_seconds", "cost_images",
           "cost_teacher_evals", "commit", "machine", "extractor_sha256", "reference_sha256"]
CONTEXT = ["extractor_sha256", "reference_sha256"]
KEY = [c for c in COLUMNS if c not in ("value", "status", "cost_seconds", "cost_images", "cost_teacher_evals",
                                       "commit", "machine", *CONTEXT)]
REPORTED = "min"  # the protocol's reported value: the minimum over the seed ranges (EDM)


def where_made(record: Mapping[str, Any]) -> tuple[str, str]:
    """(commit, machine id) of a record's provenance, as the table shows them; empty when it has none."""
    prov = record.get("provenance")
    if not prov:
        return "", ""
    code = prov["code"]
    commit = code["commit"][:12] + ("+dirty" if code["dirty"] else "") if code["commit"] != "unknown" else "unknown"
    return commit, prov["machine"]["id"]


def record_rows(record: Mapping[str, Any], **keys: Any) -> list[dict[str, Any]]:
    """Tidy rows of one metrics record (`distill evaluate`): per metric its min, mean and each seed range. A run
    that gave no images gives one row per summary with no value and its status."""
    base = {c: keys.get(c, "") for c in COLUMNS if c not in ("seed_range", "metric", "value")}
    base["status"] = record["status"]
    base["commit"], base["machine"] = where_made(record)
    base["extractor_sha256"] = str(record.get("feature_extractor_sha256") or "")
    base["reference_sha256"] = str(record.get("reference_sha256") or "")
    metrics = record.get("metrics")
    if not metrics:
        return [{**base, "seed_range": s, "metric": "fid", "value": math.nan} for s in ("min", "mean")]
    rows = []
    for metric, summary in metrics.items():
        rows += [{**base, "seed_range": s, "metric": metric, "value": summary[s]} for s in ("min", "mean")]
        rows += [{**base, "seed_range": str(i), "metric": metric, "value": r[metric]}
                 for i, r in enumerate(record.get("per_range", []))]
    return rows


def frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as a frame with the table's columns, in a stable order."""
    df = pd.DataFrame(list(rows), columns=COLUMNS)
    missing = [c for c in COLUMNS if c not in df]
    if missing:
        raise ValueError(f"results rows lack column(s) {missing}")
    return df.sort_values(KEY, kind="stable").reset_index(drop=True)


def write(path: str | Path, rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    df = rows if isinstance(rows, pd.DataFrame) else frame(rows)
    atomic_write(path, lambda p: df.to_csv(p, index=False, float_format="%.6g"))
    return df


def read(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """One or several parts of the table (a clear error for a missing or malformed file)."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    parts = []
    for p in map(Path, paths):
        if not p.is_file():
            raise FileNotFoundError(f"results table part {p} not found: build it with Snakemake (its method's report)")
        df = pd.read_csv(p, dtype={"seed_range": str, "options": str, "steps": "Int64", "nfe": "Int64",
                                   "resolution": "Int64", "commit": str, "machine": str,
                                   "guidance": str, "extractor_sha256": str, "reference_sha256": str, "value": str},
                         keep_default_na=False)
        if "value" in df:  # read as text, then checked: a number, or empty where the evaluation gave none
            df["value"] = validate.numbers(df, p, "value", empty_ok=True)
        for c in CONTEXT:  # a part made before the context was recorded: its context is unrecorded ('')
            if c not in df:
                df[c] = ""
        missing = [c for c in COLUMNS if c not in df]
        if missing:
            raise ValueError(f"{p} is not a results table (no column(s) {missing}); rebuild it with Snakemake")
        validate.unique(df, p, KEY)
        parts.append(df[COLUMNS])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def join(parts: Iterable[str | Path], out: str | Path) -> pd.DataFrame:
    """Join the methods' parts into the profile's table."""
    df = read(parts)
    return write(out, df.sort_values(KEY, kind="stable").reset_index(drop=True))


def reported(df: pd.DataFrame, metric: str = "fid") -> pd.DataFrame:
    """The rows of one metric at the protocol's reported value (min over seed ranges)."""
    return df[(df["metric"] == metric) & (df["seed_range"] == REPORTED)]


def context_of(record: Mapping[str, Any]) -> tuple[str, str]:
    """(extractor sha256, reference statistics sha256) of a metrics or floor record."""
    return str(record.get("feature_extractor_sha256") or ""), str(record.get("reference_sha256") or "")


def describe_context(context: tuple[str, str]) -> str:
    return f"classifier {context[0][:8] or 'unrecorded'}, reference statistics {context[1][:8] or 'unrecorded'}"


def one_context(rows: pd.DataFrame, what: str, name: str = "model") -> str:
    """'' when every row was evaluated in one context (one extractor, one set of reference statistics); else a
    message naming the rows of each context, for a report that refuses to compare them."""
    if rows.empty:
        return ""
    groups = rows.groupby(CONTEXT, sort=True)
    if groups.ngroups <= 1:
        return ""
    parts = []
    for context, g in groups:
        names = sorted({f"{m} {x}".strip() for m, x in zip(g["method"], g[name].astype(str))})
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        parts.append(f"{shown} ({describe_context(context)})")
    return f"{what}: rows of {groups.ngroups} evaluation contexts, not compared: " + "; ".join(parts)


def reported_fid(table: pd.DataFrame) -> pd.DataFrame:
    """The reported FID rows (minimum over the seed ranges) with the same evaluation's KID beside each (column
    `kid`, its minimum over the ranges; KID is unbiased in N, so it reads ~0 for a perfect generator at any N)."""
    fid = table[(table["metric"] == "fid") & (table["seed_range"] == REPORTED)]
    on = [c for c in KEY if c != "metric"]
    kid = table[(table["metric"] == "kid") & (table["seed_range"] == REPORTED)][on + ["value"]]
    return fid.merge(kid.rename(columns={"value": "kid"}).drop_duplicates(on), how="left", on=on)
