"""Step: FID of one set of samples against the real data, with the profile's feature extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from distill.core.checkpoint import write_json
from distill.data import load_dataset
from distill.metrics.fid import fid
from distill.pipeline.common import setup_torch, sha256
from distill.pipeline.sample import load_samples


def run(cfg: dict[str, Any], samples_path: str | Path, out_path: str | Path, extractor_weights: Optional[str] = None,
        threads: int | None = None) -> dict[str, Any]:
    setup_torch(threads, "cpu")
    ev = cfg["evaluation"]
    images, status, meta = load_samples(samples_path)
    weights = extractor_weights or ev["feature_extractor_weights"]
    record: dict[str, Any] = {"status": status, "fid": None, "samples": str(samples_path), **meta,
                              "feature_extractor": ev["feature_extractor"], "feature_extractor_weights": weights,
                              "feature_extractor_sha256": sha256(weights) if weights else None}
    if status == "ok":
        reference = torch.from_numpy(load_dataset({**cfg["data"], "conditional": False}).data)
        record["reference_images"] = len(reference)
        record["num_samples"] = len(images)
        record["fid"] = fid(torch.from_numpy(images), reference, ev["feature_extractor"], weights,
                            batch_size=ev["batch_size"], min_count=ev["num_samples"])
    write_json(out_path, record)
    return record
