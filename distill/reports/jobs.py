"""Compute time of the workflow's jobs, from the files Snakemake's `benchmark:` directive writes."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Optional

import pandas as pd

from distill.registry import get, methods


def total_job_seconds(folder: Path, exclude: tuple[str, ...] = (),
                      runs_apart: Collection[str] = ()) -> Optional[float]:
    """Sum of the wall times Snakemake's `benchmark:` recorded for the jobs under `folder` (not its `exclude`
    sub-folders, nor the jobs of the runs in `runs_apart`: a folder or file named after the run)."""
    def counted(f: Path) -> bool:
        rel = f.relative_to(folder)
        return rel.parts[0] not in exclude and not ({f.stem, *rel.parts[:-1]} & set(runs_apart))

    files = sorted(f for f in folder.rglob("*.tsv") if counted(f)) if folder.is_dir() else []
    return float(sum(pd.read_csv(f, sep="\t")["s"].sum() for f in files)) if files else None


def method_job_seconds(folder: Path, method: str, runs_apart: Collection[str] = ()) -> Optional[float]:
    """Compute time of one method's jobs: those under benchmarks/<method>/, plus, for the method that owns the shared
    jobs (classifier, reference statistics, the Table 1 teachers), every job no other registered method owns; the
    jobs of `runs_apart` (the training-seed spread's runs) are not the method's cost."""
    if get(method).jobs_shared:
        return total_job_seconds(folder, exclude=tuple(m.name for m in methods() if m.name != method),
                                 runs_apart=runs_apart)
    return total_job_seconds(folder / method)
