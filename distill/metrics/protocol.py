"""The evaluation protocol used for every number of the suite (EDM's, extended):

* generated images come in R disjoint seed ranges of N images each (seeds [0, N), [N, 2N), ...);
* each range is evaluated against the same reference statistics: FID (torch-fidelity; clean-fid's Frechet distance
  on the same statistics as a second backend), KID, Inception Score on the extractor's logits, precision/recall
  (torch-fidelity), density/coverage (prdc's computation, distill/metrics/density_coverage.py), all on the same
  features;
* every metric is reported per range, as its minimum and its mean, with everything needed to reproduce it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from distill.metrics.density_coverage import density_coverage
from distill.metrics.extractors import extract_features
from distill.metrics.fidelity import (KEY_METRIC_FID, KEY_METRIC_ISC_MEAN, KEY_METRIC_KID_MEAN, KEY_METRIC_PRECISION,
                                      KEY_METRIC_RECALL, fid_statistics_to_metric, frechet_distance,
                                      isc_features_to_metric, kid_features_to_metric, prc_features_to_metric)
from distill.metrics.images import MetricInputError, as_uint8_images
from distill.metrics.reference import Reference, fid_statistics


def seed_ranges(num_samples: int, num_ranges: int) -> list[tuple[int, int]]:
    """Inclusive seed ranges [(0, N-1), (N, 2N-1), ...]."""
    return [(r * num_samples, (r + 1) * num_samples - 1) for r in range(num_ranges)]


def fid_of_features(feats: torch.Tensor, ref: Reference) -> float:
    """FID (torch-fidelity) of float64 features [N, D] against the reference statistics."""
    mu, sigma = fid_statistics(feats)
    stats = fid_statistics_to_metric({"mu": mu, "sigma": sigma}, {"mu": ref.mu, "sigma": ref.sigma}, verbose=False)
    return float(stats[KEY_METRIC_FID])


def metrics_of_features(gen: Mapping[str, torch.Tensor], ref: Reference, ev: Mapping[str, Any]) -> dict[str, float]:
    """All metrics of one set of generated features against the reference."""
    feats, ref_feats = gen["fid"], torch.from_numpy(ref.features).double()
    mu, sigma = fid_statistics(feats)
    out = {"fid": fid_of_features(feats, ref)}
    out["fid_cleanfid"] = float(frechet_distance(mu, sigma, ref.mu, ref.sigma))
    subset = min(ev["kid_subset_size"], len(feats), len(ref_feats))
    out["kid"] = float(kid_features_to_metric(feats, ref_feats, kid_subsets=ev["kid_subsets"], kid_subset_size=subset,
                                              kid_degree=3, kid_gamma=None, kid_coef0=1, rng_seed=2020,
                                              verbose=False)[KEY_METRIC_KID_MEAN])
    out["is"] = float(isc_features_to_metric(gen["isc"], splits=10, shuffle=True, rng_seed=2020)[KEY_METRIC_ISC_MEAN])
    prc = prc_features_to_metric(feats.float(), ref_feats.float(), prc_neighborhood=ev["pr_neighborhood"],
                                 prc_batch_size=10000, save_cpu_ram=True, verbose=False)
    out["precision"], out["recall"] = float(prc[KEY_METRIC_PRECISION]), float(prc[KEY_METRIC_RECALL])
    out["density"], out["coverage"] = density_coverage(ref.features.astype(np.float64), feats.numpy(),
                                                       ev["prdc_nearest_k"])
    return out


def evaluate_images(images, ref: Reference, extractor, ev: Mapping[str, Any],
                    value_range: str | None = None) -> dict[str, Any]:
    """Evaluate R x N generated images (ordered by seed; uint8, or float with `value_range` named) against `ref`
    under the protocol settings `ev`."""
    n, r = ev["num_samples"], ev["seed_ranges"]
    images = as_uint8_images(images, "generated images", ref.image_shape, min_count=1, value_range=value_range)
    if len(images) < n * r:
        raise MetricInputError(f"generated images: {len(images)} images, but the protocol needs {r} seed ranges of "
                               f"{n} = {n * r}; draw more samples or lower evaluation.num_samples")
    feats = extract_features(images[: n * r], extractor, ev["batch_size"])
    per_range = [metrics_of_features({k: v[i * n:(i + 1) * n] for k, v in feats.items()}, ref, ev) for i in range(r)]
    summary = {m: {"min": min(p[m] for p in per_range), "mean": float(np.mean([p[m] for p in per_range]))}
               for m in per_range[0]}
    return {"seed_ranges": seed_ranges(n, r), "num_samples_per_range": n, "per_range": per_range, "metrics": summary}
