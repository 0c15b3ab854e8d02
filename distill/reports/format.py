"""One number formatter for every report: a dash for a missing value, fixed digits otherwise."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def fmt(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    try:
        if pd.isna(x):
            return "—"
    except (TypeError, ValueError):
        pass
    return f"{float(x):.{digits}f}"
