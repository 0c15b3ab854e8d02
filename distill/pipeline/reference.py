"""Step: reference statistics of the profile's real data set under its feature extractor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from distill.core.checkpoint import file_sha256
from distill.data import load_dataset
from distill.data.artifacts import INCEPTION_EXTRACTOR, statistics_need
from distill.metrics.extractors import check_extractor
from distill.metrics.reference import Reference, compute_reference, load_statistics, save_reference
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


def published_statistics(artifact: str, extractor: str):
    """(mu, sigma) of published Inception statistics (a data section's `fid_statistics`), refused for another
    feature extractor and named when missing or corrupt."""
    if extractor != INCEPTION_EXTRACTOR:
        raise ValueError(f"data.fid_statistics {artifact} are Inception statistics; evaluation.feature_extractor is "
                         f"{extractor!r}: set it to {INCEPTION_EXTRACTOR!r} or remove fid_statistics")
    return load_statistics(statistics_need(artifact).target, artifact)


def with_statistics(ref: Reference, artifact: str, loaded: tuple[np.ndarray, np.ndarray] | None = None) -> Reference:
    """`ref` with the FID mean and covariance of published statistics (a data section's `fid_statistics`: EDM's
    ImageNet-64 reference, made from other 64x64 images of ImageNet than the downsampled set; `loaded`: as
    published_statistics read them), so that FID compares with the published numbers; its features (KID,
    precision/recall, the floor) stay those of the data's images."""
    path = statistics_need(artifact).target
    mu, sigma = loaded if loaded is not None else published_statistics(artifact, ref.extractor)
    if len(mu) != ref.features.shape[1]:
        raise ValueError(f"{path} holds {len(mu)}-dimensional statistics; {ref.extractor} features are "
                         f"{ref.features.shape[1]}-dimensional: not statistics of this extractor")
    source = (f"FID mean and covariance: {artifact} ({path.name}, sha256 {file_sha256(path)[:12]}…); features: "
              f"{ref.source}")
    return replace(ref, mu=mu, sigma=sigma, source=source)


def run(cfg: dict[str, Any], out_path: str | Path, weights: str | None = None, threads: int | None = None) -> None:
    setup_torch(threads, "cpu")
    ev = cfg["evaluation"]
    stats = cfg["data"].get("fid_statistics")
    loaded = published_statistics(stats, ev["feature_extractor"]) if stats else None  # before the images are read
    data = load_dataset({**cfg["data"], "conditional": False})
    if data.kind != "image":
        raise ValueError(f"reference statistics need images; {data.name} holds points")
    source = f"{data.name} ({len(data)} images, {'x'.join(map(str, data.shape))})"
    ref = compute_reference(data.data, ev["feature_extractor"], usable_extractor_weights(cfg, weights), ev["batch_size"],
                            source)
    save_reference(out_path, with_statistics(ref, stats, loaded) if stats else ref)
