"""Step: reference statistics of the profile's real data set under its feature extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.data import load_dataset
from distill.metrics.extractors import check_extractor
from distill.metrics.reference import compute_reference, save_reference
from distill.pipeline.common import setup_torch


def extractor_weights(cfg: dict[str, Any], override: str | None = None) -> str:
    """The feature extractor's weights: `override` (--extractor-weights), else evaluation.feature_extractor_weights,
    else, for the domain extractor, the classifier the pipeline trains (results/<profile>/classifier/). The workflow
    and the commands run by hand read this one function."""
    ev = cfg["evaluation"]
    if override or ev["feature_extractor_weights"]:
        return str(override or ev["feature_extractor_weights"])
    if ev["feature_extractor"] != "distill-domain":
        raise ValueError(f"evaluation.feature_extractor_weights must name the weights file of "
                         f"{ev['feature_extractor']!r} (or pass --extractor-weights)")
    return f"results/{cfg['profile']}/classifier/model.safetensors"


def usable_extractor_weights(cfg: dict[str, Any], override: str | None = None) -> str:
    """extractor_weights, checked to exist (a missing file is an error naming it and how to make it)."""
    path = extractor_weights(cfg, override)
    check_extractor(cfg["evaluation"]["feature_extractor"], path)
    return path


def run(cfg: dict[str, Any], out_path: str | Path, weights: str | None = None, threads: int | None = None) -> None:
    setup_torch(threads, "cpu")
    ev = cfg["evaluation"]
    data = load_dataset({**cfg["data"], "conditional": False})
    if data.kind != "image":
        raise ValueError(f"reference statistics need images; {data.name} holds points")
    source = f"{data.name} ({len(data)} images, {'x'.join(map(str, data.shape))})"
    ref = compute_reference(data.data, ev["feature_extractor"], usable_extractor_weights(cfg, weights), ev["batch_size"],
                            source)
    save_reference(out_path, ref)
