"""The published numbers of the four papers (results/published/published.csv, copied from PUBLISHED.md; checked
against it by tests/test_published.py). One tidy row per number; NOT FOUND rows have no value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from distill.data.artifacts import ARTIFACTS
from distill.data.first_fetch import RECORDED
from distill.results import PUBLISHED_CSV, validate

# what a published number is: one row per key
KEY = ["paper", "table", "dataset", "resolution", "method", "parameterization", "weighting", "sampler", "steps",
       "guidance", "metric", "qualifier"]


def load(path: Path = PUBLISHED_CSV):
    """All rows; `value` as float (NaN where the paper gives none), `steps` kept as text ('2;3;4;5' for SFD-v)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"published numbers {path} not found: run from the project root or pass --published")

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in KEY + ["value", "provenance"] if c not in df]
    if missing:
        raise validate.TableError(f"{path} is not the published numbers' table (no column(s) {missing})")
    df["value"] = validate.numbers(df, path, "value", empty_ok=True)  # empty: NOT FOUND
    df["resolution"] = validate.numbers(df, path, "resolution", empty_ok=True)
    validate.unique(df, path, KEY)
    return df


def select(path: Path, paper: str, table: str, exact_only: bool = False):
    """The rows of one table or figure of one paper (optionally only EXACT ones with a value)."""
    pub = load(path)
    pub = pub[(pub["paper"] == paper) & (pub["table"] == table)]
    if exact_only:
        pub = pub[(pub["provenance"] == "EXACT") & pub["value"].notna()]
    return pub


# The published ImageNet-64 numbers (DisBack's abstract, SFD Table 3) are FIDs against EDM's imagenet-64x64.npz, made
# from ILSVRC's training images (NVlabs/edm README.md: dataset_tool.py --resolution=64x64 --transform=center-crop, then
# fid.py ref)
IMAGENET_REFERENCE = ("FID is against EDM's ImageNet-64 statistics (imagenet-64x64.npz, data.fid_statistics: "
                      "center crops of ILSVRC's training images), the published numbers' reference; KID and the "
                      "floor use the features of the downsampled ImageNet-64 training images (that file holds a mean "
                      "and covariance only), so the floor is theirs against their own statistics.")


def recorded_digests(*names: str | None) -> str:
    """A caption's sentence naming the artifacts among `names` (a teacher's, FID statistics') whose source publishes
    no digest: each was checked against the record of its first fetch; '' when there is none."""
    found = [n for n in names if n in ARTIFACTS and ARTIFACTS[n].sha256 is None]
    return f"{' and '.join(found)}: {RECORDED} (artifacts.lock.json)." if found else ""
