"""Checks of the numbers a table file holds before anything reads them: each value a finite number (or empty where
the file allows it) and each row's key once. A wrong file is refused naming the file, the row (its line in the file)
and the column, never read as a second value or as text."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd


class TableError(ValueError):
    """A table file holds a value or a row it must not."""


def numbers(raw: pd.DataFrame, path: str | Path, column: str, empty_ok: bool) -> pd.Series:
    """`raw[column]` (read as text) as floats: every cell a finite number, or empty where `empty_ok`."""
    out = []
    for i, text in enumerate(raw[column].astype(str)):
        line = i + 2  # the header is line 1
        text = text.strip()
        if text == "":
            if not empty_ok:
                raise TableError(f"{path}, line {line}, column {column!r}: empty; every row needs a number here")
            out.append(math.nan)
            continue
        try:
            value = float(text)
        except ValueError:
            raise TableError(f"{path}, line {line}, column {column!r}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise TableError(f"{path}, line {line}, column {column!r}: {text!r} is not a finite number"
                             + ("; a number that does not exist is left empty" if empty_ok else ""))
        out.append(value)
    return pd.Series(out, index=raw.index, dtype=float)


def unique(frame: pd.DataFrame, path: str | Path, key: Sequence[str]) -> None:
    """Each row's key (the columns that name what the number is) once in the file."""
    twice = frame[frame.duplicated(list(key), keep=False)]
    if twice.empty:
        return
    lines = [i + 2 for i in twice.index]
    first = twice.iloc[0]
    raise TableError(f"{path}, lines {', '.join(map(str, lines[:6]))}: one number written {len(lines)} times ("
                     + ", ".join(f"{k}={first[k]!r}" for k in key if str(first[k]) != "")
                     + "); keep one row per number")
