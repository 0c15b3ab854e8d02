"""Density and coverage (Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020,
Eqs. 3 and 4), computed as the authors' `prdc` package computes them (prdc/prdc.py, with scikit-learn's Euclidean
distances, sklearn/metrics/pairwise.py `_euclidean_distances`), in NumPy: the package imports all of scikit-learn,
3 s of every evaluation job's start-up. tests/test_metrics.py checks the two agree exactly.
"""

from __future__ import annotations

import numpy as np


def euclidean_distances(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Pairwise distances [len(x), len(y)] as scikit-learn computes them: sqrt(max(|x|^2 - 2 x.y + |y|^2, 0)), with
    an exact 0 between a point and itself when y is omitted."""
    same = y is None
    y = x if same else y
    d = -2 * (x @ y.T)
    d += np.einsum("ij,ij->i", x, x)[:, None]
    d += np.einsum("ij,ij->i", y, y)[None, :]
    np.maximum(d, 0, out=d)
    if same:
        np.fill_diagonal(d, 0)
    return np.sqrt(d)


def kth_neighbour_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Each point's distance to its k-th nearest neighbour among `features` (the point itself, at 0, not counted)."""
    d = euclidean_distances(features)
    return np.partition(d, k, axis=1)[:, k]  # index 0 is the point itself


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Density: the mean number of real k-NN balls holding a fake point, over k (Eq. 3). Coverage: the fraction of
    real points whose k-NN ball holds a fake point (Eq. 4). Float64 features [N, D]."""
    if k < 1 or k >= len(real):
        raise ValueError(f"density/coverage: nearest_k={k} needs 1 <= k < {len(real)} (the real features' count)")
    radii = kth_neighbour_radii(real, k)
    d = euclidean_distances(real, fake)
    inside = d < radii[:, None]
    density = (1.0 / k) * inside.sum(axis=0).mean()
    coverage = (d.min(axis=1) < radii).mean()
    return float(density), float(coverage)
