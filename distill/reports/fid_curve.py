"""Step: FID against the number of samples N (on disjoint seed ranges), to choose the protocol's N for a profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.metrics.extractors import extract_features, load_extractor
from distill.metrics.images import as_uint8_images
from distill.metrics.protocol import fid_of_features
from distill.metrics.reference import load_reference
from distill.core.checkpoint import file_sha256 as sha256
from distill.pipeline import floor
from distill.pipeline.common import setup_torch
from distill.pipeline.floor import describe_floor, unseen_curve
from distill.pipeline.reference import usable_extractor_weights
from distill.pipeline.sample import load_samples
from distill.reports.pdf import figure_caption, pyplot, save_pdf


def curve_sample_count(cfg: dict[str, Any]) -> int:
    ev = cfg["evaluation"]
    return max(ev["curve"]["sizes"]) * ev["seed_ranges"]


def run(cfg: dict[str, Any], samples_path: str | Path, reference_path: str | Path, pdf: str | Path, csv: str | Path,
        weights: str | None = None, threads: int | None = None, floor_json: str | Path | None = None) -> pd.DataFrame:
    setup_torch(threads, "cpu")
    ev = cfg["evaluation"]
    weights = usable_extractor_weights(cfg, weights)
    images, status, _ = load_samples(samples_path)
    if status != "ok":
        raise RuntimeError(f"{samples_path}: the curve's model gave no samples ({status}); choose another curve.run")
    ref = load_reference(reference_path, ev["feature_extractor"], sha256(weights))
    images = as_uint8_images(images, "curve samples", ref.image_shape, min_count=curve_sample_count(cfg))
    feats = extract_features(images, load_extractor(ev["feature_extractor"], weights), ev["batch_size"])["fid"]
    rows = [{"num_samples": n, "seed_range": r, "fid": fid_of_features(feats[r * n:(r + 1) * n], ref)}
            for n in sorted(ev["curve"]["sizes"]) for r in range(ev["seed_ranges"])]
    df = pd.DataFrame(rows)
    atomic_write(csv, lambda p: df.to_csv(p, index=False, float_format="%.4f"))

    atomic_write(pdf, lambda p: _plot(df, cfg, p, floor.read(floor_json)))
    return df


def _plot(df: pd.DataFrame, cfg: dict[str, Any], path: Path, floor: dict[str, Any] | None = None) -> None:
    plt = pyplot()
    ev = cfg["evaluation"]
    agg = df.groupby("num_samples")["fid"].agg(["mean", "std", "min"]).reset_index()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.errorbar(agg["num_samples"], agg["mean"], yerr=agg["std"], marker="o", capsize=3,
                label=f"mean ± std over {ev['seed_ranges']} disjoint seed ranges")
    ax.plot(agg["num_samples"], agg["min"], "s--", ms=4, label="minimum over the ranges")
    if floor is not None:  # the same N and ranges, real images: what a perfect generator scores at each N

        unseen = unseen_curve(floor, sorted(agg["num_samples"]))
        ax.plot(list(unseen), list(unseen.values()), "^-", color="tab:green", ms=4,
                label="real data unseen by the statistics (floor), one range")
        real = pd.DataFrame(floor["curve"]).groupby("num_samples")["fid"].agg(["mean", "min"]).reset_index()
        ax.plot(real["num_samples"], real["min"], "v:", color="tab:olive", ms=3,
                label="the statistics' own images resampled (biased low; footnote)")
    ax.axvline(ev["num_samples"], color="grey", ls=":", label=f"protocol N = {ev['num_samples']}")
    ax.set_xscale("log")
    ax.set_xlabel("generated images per seed range (N)")
    ax.set_ylabel(f"FID ({ev['feature_extractor']} features)")
    ax.set_title(f"FID against sample count — profile '{cfg['profile']}', {ev['curve']['run']}, "
                 f"{ev['curve']['sampler']}", fontsize=9)
    ax.legend(fontsize=8)

    figure_caption(fig, describe_floor(floor) if floor is not None else "")
    save_pdf(path, [fig])
