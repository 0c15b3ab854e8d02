"""Reference statistics of a real data set under one feature extractor: FID mean and covariance, plus the features
KID, precision/recall and PRDC need. Computed once (by the reference_stats rule or `distill fid ref`), stored as a
versioned .npz in the project's results, and reused by every evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distill.core.checkpoint import atomic_write, file_sha256
from distill.data import DataError
from distill.data.npz import read_npz
from distill.metrics.extractors import extract_features, load_extractor
from distill.metrics.fidelity import fid_features_to_statistics
from distill.metrics.images import as_uint8_images


class ReferenceError(RuntimeError):
    """A reference-statistics file is missing, corrupt, or was made with another extractor."""


@dataclass
class Reference:
    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray  # [N, D] float32, for KID / precision-recall / PRDC
    image_shape: tuple[int, ...]
    extractor: str
    extractor_sha256: str
    source: str
    num_images: int


def fid_statistics(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of float64 features, through torch-fidelity."""
    stats = fid_features_to_statistics(features)
    return stats["mu"], stats["sigma"]


def compute_reference(images, extractor_name: str, weights: str, batch_size: int, source: str,
                      value_range: str | None = None) -> Reference:
    """Statistics of real images (uint8, or float with `value_range` named: see metrics.images.FLOAT_RANGES)."""
    images = as_uint8_images(images, f"reference images ({source})", value_range=value_range)
    feats = extract_features(images, load_extractor(extractor_name, weights), batch_size)["fid"]
    mu, sigma = fid_statistics(feats)
    return Reference(mu, sigma, feats.float().numpy(), tuple(images.shape[1:]), extractor_name, file_sha256(weights),
                     source, len(images))


def save_reference(path: str | Path, ref: Reference) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, mu=ref.mu, sigma=ref.sigma, features=ref.features, image_shape=np.array(ref.image_shape),
                     extractor=np.array(ref.extractor), extractor_sha256=np.array(ref.extractor_sha256),
                     source=np.array(ref.source), num_images=np.array(ref.num_images))

    atomic_write(path, write)


def load_reference(path: str | Path, extractor: str | None = None, extractor_sha256: str | None = None) -> Reference:
    path = Path(path)
    if not path.is_file():
        raise ReferenceError(f"reference statistics {path} not found: compute them with the reference_stats rule or "
                             "`distill fid ref`")

    try:
        z = read_npz(path, "reference statistics", required=("mu", "sigma", "features", "image_shape", "extractor",
                                                             "extractor_sha256", "source", "num_images"))
        ref = Reference(z["mu"], z["sigma"], z["features"], tuple(int(v) for v in z["image_shape"]),
                        str(z["extractor"]), str(z["extractor_sha256"]), str(z["source"]), int(z["num_images"]))
    except DataError as exc:
        raise ReferenceError(f"{exc} (the statistics are corrupt: recompute them with `distill fid ref`)") from exc
    if extractor is not None and ref.extractor != extractor:
        raise ReferenceError(f"reference statistics {path} were computed with {ref.extractor!r}, not {extractor!r}")
    if extractor_sha256 is not None and ref.extractor_sha256 != extractor_sha256:
        raise ReferenceError(f"reference statistics {path} were computed with other {ref.extractor} weights "
                             f"(sha256 {ref.extractor_sha256[:12]}…, now {extractor_sha256[:12]}…); recompute them")
    return ref


def load_statistics(path: str | Path, artifact: str = "coco_fid_stats") -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of a statistics .npz (keys mu and sigma, as text2image-benchmark's FIDStats and EDM's fid.py
    write them), fetched as `artifact`."""
    try:
        z = read_npz(path, "FID statistics", required=("mu", "sigma"))
    except DataError as exc:
        raise ValueError(f"{exc} (fetch them again: `distill fetch {artifact}`)") from None
    mu, sigma = np.asarray(z["mu"], np.float64), np.asarray(z["sigma"], np.float64)
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise ValueError(f"{path}: mu {mu.shape} and sigma {sigma.shape} are not a mean and its covariance")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise ValueError(f"{path} holds non-finite statistics: fetch them again")
    return mu, sigma


def describe(ref: Reference) -> dict[str, Any]:
    return {"source": ref.source, "num_images": ref.num_images, "image_shape": list(ref.image_shape),
            "extractor": ref.extractor, "extractor_sha256": ref.extractor_sha256}
