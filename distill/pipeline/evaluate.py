"""Step: evaluate one set of samples under the protocol (distill.metrics.protocol) against the reference statistics;
write the metrics record (JSON) and a PNG grid of the first 64 samples beside it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

from distill.core import distributed, owned_folder
from distill.metrics.extractors import load_extractor
from distill.metrics.protocol import evaluate_images
from distill.metrics.reference import describe, load_reference
from distill.core.checkpoint import file_sha256 as sha256
from distill.core.provenance import write_record
from distill.pipeline import sample
from distill.pipeline.common import setup_torch
from distill.pipeline.reference import usable_extractor_weights
from distill.pipeline.sample import load_samples
from distill.results.grid import save_grid


def protocol_record(ev: dict[str, Any], weights: str, reference_path: str | Path) -> dict[str, Any]:
    """What every evaluation record says of its protocol: its settings, the extractor and the reference statistics
    (with their sha256)."""
    return {"protocol": {k: ev[k] for k in ("num_samples", "seed_ranges", "kid_subset_size", "kid_subsets",
                                            "pr_neighborhood", "prdc_nearest_k")},
            "feature_extractor": ev["feature_extractor"], "feature_extractor_weights": weights,
            "feature_extractor_sha256": sha256(weights), "reference": str(reference_path),
            "reference_sha256": sha256(reference_path)}


def run(cfg: dict[str, Any], samples_path: str | Path, reference_path: str | Path, out_path: str | Path,
        grid_path: str | Path, weights: Optional[str] = None, threads: int | None = None) -> dict[str, Any]:
    setup_torch(threads, cfg["device"])
    ev = cfg["evaluation"]
    weights = usable_extractor_weights(cfg, weights)
    images, status, meta = load_samples(samples_path)
    record: dict[str, Any] = {
        "status": status, "samples": str(samples_path), "sampling": meta,
        **protocol_record(ev, weights, reference_path), "metrics": None,
    }
    if status == "ok":
        ref = load_reference(reference_path, ev["feature_extractor"], record["feature_extractor_sha256"])
        record["reference_stats"] = describe(ref)
        record.update(evaluate_images(images, ref, load_extractor(ev["feature_extractor"], weights), ev))
        if distributed.is_main():
            save_grid(images[:64], grid_path)
    elif distributed.is_main():
        save_grid(None, grid_path, message=status)
    if not distributed.is_main():  # rank 0 writes the record of a torchrun job
        return record
    return write_record(out_path, record, {"samples": samples_path, "reference": reference_path,
                                           "extractor_weights": weights})


def evaluate_points(cfg: dict[str, Any], points: list[tuple[str, str | Path, dict[str, Any]]],
                    reference_path: str | Path, weights: Optional[str], out_dir: str | Path,
                    threads: int | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Sample and evaluate several points into one folder, which appears whole or not at all: each point is (name,
    model, the keyword arguments of `distill.pipeline.sample.run`: sampler, steps, cond, guidance, ...), written as
    <out_dir>/<name>.json and .png (a guided sweep over w, SFD's budget curve over snapshots). An existing out_dir
    holding anything else is refused before any work (distill/core/owned_folder.py)."""
    out_dir = Path(out_dir)
    names = {f"{name}{ext}" for name, _, _ in points for ext in (".json", ".png")}
    work = owned_folder.start(out_dir, "evaluate-points", names.__contains__)  # before any work
    records = []
    for name, model, options in points:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            samples = Path(tmp) / "samples.npz"
            options = dict(options)
            sample.run(cfg, model, options.pop("sampler", None), samples, threads, progress, **options)
            records.append(run(cfg, samples, reference_path, work / f"{name}.json", work / f"{name}.png", weights,
                               threads))
    owned_folder.finish(work, out_dir, "evaluate-points", names.__contains__)
    return records
