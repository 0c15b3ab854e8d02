"""Training-seed spreads inside claim checks: a claim that compares two numbers says whether their spreads over
training seeds overlap (results/<profile>/spread/*.csv, the spread targets), where the spread was measured for those
very numbers (the value its own seed reports). `distill compare` attaches the spreads to every subject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from distill.results import spread as seed_spread
from distill.results.spread import measured_for

KEY = "spreads"  # the key (dict subjects) or DataFrame attribute (table subjects) that holds them


def read(results: Path) -> pd.DataFrame:
    """Every spread CSV of a results folder, one frame (empty when none was built)."""
    parts = [seed_spread.read(p) for p in sorted((Path(results) / "spread").glob("*.csv"))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=seed_spread.COLUMNS)


def attach(data: Any, spreads: pd.DataFrame) -> Any:
    """A subject with the spreads beside it."""
    if isinstance(data, pd.DataFrame):
        data = data.copy()
        data.attrs[KEY] = spreads
        return data
    return {**data, KEY: spreads} if isinstance(data, dict) else data


def of(subject: Any, method: str, cell: str, value: float | None) -> tuple[float, float, int] | None:
    """(mean, std, seeds) of one cell's spread, only where one of its seeds reported `value` (to the CSV's 6 digits)."""
    spreads = subject.attrs.get(KEY) if isinstance(subject, pd.DataFrame) else (subject or {}).get(KEY)
    return None if spreads is None else measured_for(spreads, method, cell, value)


def overlap_text(a_name: str, a: tuple[float, float, int] | None, b_name: str,
                 b: tuple[float, float, int] | None) -> str:
    """Whether two numbers' spreads (mean ± std) overlap, as a clause of a claim's detail; what is unmeasured."""
    if a is None and b is None:
        return "; training-seed spreads not measured"
    if a is None or b is None:
        known, name = (a, a_name) if a is not None else (b, b_name)
        other = b_name if a is not None else a_name
        return f"; over training seeds {name} {known[0]:.2f} ± {known[1]:.2f} ({known[2]} seeds), {other}: one seed"
    overlap = abs(a[0] - b[0]) <= a[1] + b[1]
    return (f"; over training seeds {a_name} {a[0]:.2f} ± {a[1]:.2f}, {b_name} {b[0]:.2f} ± {b[1]:.2f} "
            f"({a[2]} and {b[2]} seeds): the spreads {'overlap' if overlap else 'do not overlap'}")
