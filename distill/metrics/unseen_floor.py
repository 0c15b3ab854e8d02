"""The unseen-data FID floor: what a perfect generator (fresh images of the data distribution) scores against the
reference statistics, with the protocol's N images per range.

A perfect generator's images are not the reference's own. Resampling the reference images themselves (the older
floor) leaves out the reference side's sampling error and reads low (mini: 10.10 where unseen images read ~28 at a
split half). A small data set cannot hold out N unseen images *and* keep all M images in the statistics, so the floor
is cross-fitted on the data itself:

1. for a design of sizes (n held-out images, m reference images, n + m <= the data set), REPS times: m images make
   the statistics, R ranges of n images are drawn (without replacement) from the other images, and each range's FID
   against them;
2. FID's bias is linear in 1/n and 1/m (the Frechet distance of two samples of one distribution: E|mu_n - mu_m|^2 =
   tr(Sigma)(1/n + 1/m), and the covariance term behaves alike; Chong & Forsyth 2020, "Effectively unbiased FID",
   extrapolate FID linearly in 1/N), and it is 0 for a distribution against itself (n, m -> infinity), so
   FID = a/n + b/m is fitted by least squares to every range's FID;
3. the floor is the fit at the protocol's N and the statistics' M: the FID one range of N unseen images reads (a
   model's reported FID, the minimum over its R ranges, sits below its own per-range mean by about its ranges'
   spread). The design includes n = N itself, so only the 1/m side is extrapolated; the record keeps the design, the
   fit, its residual and the direct measurement at n = N.

KID (unbiased in both sample sizes) is measured directly at the largest design point: its floor is ~0 by
construction, and its spread over the reps says how far from 0 a perfect generator's KID may read.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from distill.metrics.fidelity import KEY_METRIC_KID_MEAN, kid_features_to_metric
from distill.metrics.protocol import fid_of_features
from distill.metrics.reference import Reference, fid_statistics

METHOD = "cross-fitted unseen"
REPS = 12  # repetitions of each design point (fresh reference split each), each with the protocol's R ranges
HELD_OUT_FRACTIONS = (0.2, 0.4)  # n as a fraction of the data set, and N itself
REFERENCE_FRACTIONS = (0.2, 0.3, 0.4)  # m as a fraction of the data set, and all the images N leaves
KID_REPS = 4  # KID at the largest design point: its first reps (KID's 100 subsets cost more than the FIDs)


def _reference(feats: torch.Tensor, like: Reference, what: str) -> Reference:
    mu, sigma = fid_statistics(feats)
    return Reference(mu, sigma, feats.float().numpy(), like.image_shape, like.extractor, like.extractor_sha256, what,
                     len(feats))


def design(pool: int, num_samples: int) -> list[tuple[int, int]]:
    """(n, m) pairs: held-out sizes (fractions of the pool, and N) against reference sizes (fractions of the pool,
    and pool - N), n + m <= pool."""
    ns = sorted({round(pool * f) for f in HELD_OUT_FRACTIONS} | {num_samples})
    ms = sorted({round(pool * f) for f in REFERENCE_FRACTIONS} | ({pool - num_samples} if pool > num_samples else set()))
    return [(n, m) for n in ns for m in ms if n >= 2 and m >= 2 and n + m <= pool]


def _fit(points: list[dict[str, Any]], key: str) -> dict[str, float]:
    """Least squares of value = a/n + b/m (no constant: the FID of a distribution against itself is 0); its
    root-mean-square residual."""
    x = np.array([[1.0 / p["n"], 1.0 / p["m"]] for p in points])
    y = np.array([p[key] for p in points])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    rmse = float(np.sqrt(np.mean((x @ coef - y) ** 2)))
    return {"a": float(coef[0]), "b": float(coef[1]), "rmse": rmse}


def at(fit: Mapping[str, float], n: int, m: int) -> float:
    """The fitted FID at n generated images against statistics of m images."""
    return fit["a"] / n + fit["b"] / m


def measure(feats: torch.Tensor, ref: Reference, ev: Mapping[str, Any], seed: int = 0) -> dict[str, Any]:
    """The cross-fitted unseen floor of real features `feats` [P, D] (the data set the reference statistics `ref`
    were computed from, M = ref.num_images), at the protocol `ev` (num_samples N, seed_ranges R)."""
    pool, n_protocol, ranges = len(feats), ev["num_samples"], ev["seed_ranges"]
    pairs = design(pool, n_protocol)
    if n_protocol not in {n for n, _ in pairs} or len({n for n, _ in pairs}) < 2 or len({m for _, m in pairs}) < 2:
        raise ValueError(f"{pool} real images are too few for the unseen floor at N = {n_protocol}: it holds out N "
                         f"images beside at least {round(pool * REFERENCE_FRACTIONS[0])} reference images; lower "
                         "evaluation.num_samples or use a larger data set")
    gen = torch.Generator().manual_seed(seed)
    points, kid_reps = [], []
    biggest = max(pairs, key=lambda p: (p[0] == n_protocol, p[1]))
    for n, m in pairs:
        for rep in range(REPS):
            perm = torch.randperm(pool, generator=gen)
            reference = _reference(feats[perm[:m]], ref, f"{m} of {ref.source}")
            rest = perm[m:]
            held = [rest[torch.randperm(len(rest), generator=gen)[:n]] for _ in range(ranges)]
            points += [{"n": n, "m": m, "rep": rep, "range": r, "fid": fid_of_features(feats[h], reference)}
                       for r, h in enumerate(held)]
            if (n, m) == biggest and rep < KID_REPS:  # KID: each rep's minimum and mean over its ranges
                subset = min(ev["kid_subset_size"], n, m)
                kids = [float(kid_features_to_metric(feats[h], feats[perm[:m]], kid_subsets=ev["kid_subsets"],
                                                     kid_subset_size=subset, kid_degree=3, kid_gamma=None, kid_coef0=1,
                                                     rng_seed=2020, verbose=False)[KEY_METRIC_KID_MEAN])
                        for h in held]
                kid_reps.append({"min": min(kids), "mean": sum(kids) / len(kids)})
    fit = _fit(points, "fid")
    direct = [p for p in points if p["n"] == n_protocol]
    m_direct = max(p["m"] for p in direct)
    return {
        "method": METHOD, "pool": pool, "num_samples": n_protocol, "reference_images": ref.num_images,
        "seed_ranges": ranges, "reps": REPS, "design": points, "fit": fit,
        "estimate": at(fit, n_protocol, ref.num_images),
        "direct": {"n": n_protocol, "m": m_direct,
                   "fid": float(np.mean([p["fid"] for p in direct if p["m"] == m_direct]))},
        "kid": {"n": biggest[0], "m": biggest[1],
                **{key: float(np.mean([k[key] for k in kid_reps])) for key in ("min", "mean")},
                "std_over_reps": float(np.std([k["mean"] for k in kid_reps], ddof=1))},
    }
