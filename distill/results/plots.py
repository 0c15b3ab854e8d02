"""Plot data for `dvc plots show`: one CSV per line of a figure, in one folder per figure (DVC draws a folder's files
as lines of one plot, with the x and y columns dvc.yaml names). Written by the reports beside their PDFs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.core.training import LOG_FILE
from distill.results import LOSS_XY


def _replace_folder(folder: Path, frames: Mapping[str, pd.DataFrame]) -> None:
    """Write `folder`/<name>.csv for each frame, dropping the files of lines no longer drawn."""
    if folder.exists():
        shutil.rmtree(folder)
    for name, frame in frames.items():
        atomic_write(folder / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False, float_format="%.6g"))


def write_losses(model_dirs: Mapping[str, Path], folder: Path) -> None:
    """Each model's training loss (its log.jsonl) as `folder`/<name>.csv with the columns step, loss."""
    frames = {}
    for name, model_dir in model_dirs.items():
        log = Path(model_dir) / LOG_FILE
        if not log.exists():
            raise FileNotFoundError(f"{log} is missing: the training log of {model_dir} (retrain it to plot its loss)")
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        frames[name] = pd.DataFrame([{k: r[k] for k in LOSS_XY} for r in records], columns=list(LOSS_XY))
    _replace_folder(folder, frames)


def write_curves(frame: pd.DataFrame, by: str, x: str, y: str, folder: Path) -> None:
    """One CSV (columns x, y) per value of the column `by`, sorted by x."""
    _replace_folder(folder, {str(k): g[[x, y]].sort_values(x) for k, g in frame.groupby(by)})
