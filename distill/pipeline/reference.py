"""Step: reference statistics of the profile's real data set under its feature extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.data import load_dataset
from distill.metrics.reference import compute_reference, save_reference
from distill.pipeline.common import setup_torch


def extractor_weights(cfg: dict[str, Any], override: str | None = None) -> str | None:
    return override or cfg["evaluation"]["feature_extractor_weights"]


def run(cfg: dict[str, Any], out_path: str | Path, weights: str | None = None, threads: int | None = None) -> None:
    setup_torch(threads, "cpu")
    ev = cfg["evaluation"]
    data = load_dataset({**cfg["data"], "conditional": False})
    if data.kind != "image":
        raise ValueError(f"reference statistics need images; {data.name} holds points")
    source = f"{data.name} ({len(data)} images, {'x'.join(map(str, data.shape))})"
    ref = compute_reference(data.data, ev["feature_extractor"], extractor_weights(cfg, weights), ev["batch_size"], source)
    save_reference(out_path, ref)
