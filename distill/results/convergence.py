"""Convergence curves over training seeds: a metric against iteration for several methods (lower is better), the
seeds' mean and spread at each evaluation point, and the iteration at which each method's mean first reaches a level
(DisBack Sec. 5.2: the iteration at which each reaches the baseline's final value)."""

from __future__ import annotations

import pandas as pd


def curve_stats(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per method and iteration: mean, std (ddof 1; 0 for one seed), min, max and seeds of `metric`."""
    g = curves.groupby(["method", "iteration"])[metric]
    out = g.agg(["mean", "std", "min", "max", "count"]).rename(columns={"count": "seeds"}).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def final_value(stats: pd.DataFrame, method: str) -> float:
    """The method's mean at its last evaluation point."""
    rows = stats[stats["method"] == method].sort_values("iteration")
    if rows.empty:
        raise ValueError(f"no curve of method {method!r}; methods: {sorted(set(stats['method']))}")
    return float(rows["mean"].iloc[-1])


def first_reaching(stats: pd.DataFrame, method: str, level: float) -> int | None:
    """The first evaluation point at which the method's mean is at or below `level` (None: never)."""
    rows = stats[(stats["method"] == method) & (stats["mean"] <= level)].sort_values("iteration")
    return None if rows.empty else int(rows["iteration"].iloc[0])
