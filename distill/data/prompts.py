"""Prompt files: the conditions of a text-to-image model's samples and training batches."""

from __future__ import annotations

import csv
import io
from pathlib import Path


def read_prompts(path: str | Path) -> list[str]:
    """The prompts of a file: a CSV's 'text' column (the MS-COCO val2014 30k captions file SFD and DMD2 evaluate
    on, read as sfd-main/sample.py reads it), else one prompt per line (blank lines skipped); an error for a file
    without one."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if "text" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: a prompt CSV needs a 'text' column (its columns: {reader.fieldnames})")
        prompts = [row["text"].strip() for row in reader if (row["text"] or "").strip()]
    else:
        prompts = [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        raise ValueError(f"{path} holds no prompt: write one prompt per line (or a CSV with a 'text' column)")
    return prompts
