"""The published numbers of the four papers (results/published/published.csv, copied from PUBLISHED.md; checked
against it by tests/test_published.py). One tidy row per number; NOT FOUND rows have no value."""

from __future__ import annotations

from pathlib import Path

PUBLISHED_CSV = Path("results/published/published.csv")


def load(path: Path = PUBLISHED_CSV):
    """All rows; `value` as float (NaN where the paper gives none), `steps` kept as text ('2;3;4;5' for SFD-v)."""
    import pandas as pd  # lazily: the CLI imports this module for its default path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"published numbers {path} not found: run from the project root or pass --published")
    return pd.read_csv(path, dtype={"steps": str, "qualifier": str, "guidance": str}, keep_default_na=False,
                       na_values={"value": [""], "resolution": [""]})


def select(path: Path, paper: str, table: str, exact_only: bool = False):
    """The rows of one table or figure of one paper (optionally only EXACT ones with a value)."""
    pub = load(path)
    pub = pub[(pub["paper"] == paper) & (pub["table"] == table)]
    if exact_only:
        pub = pub[(pub["provenance"] == "EXACT") & pub["value"].notna()]
    return pub
