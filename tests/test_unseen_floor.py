"""The unseen-data FID floor (distill/metrics/unseen_floor.py), checked where the truth is known: features of one
Gaussian, where fresh samples give the floor a perfect generator scores against statistics of M images."""

import numpy as np
import pytest
import torch

from distill.metrics import unseen_floor
from distill.metrics.protocol import fid_of_features
from distill.metrics.reference import Reference, fid_statistics
from distill.pipeline import floor

D, POOL, N = 6, 1200, 300
EV = {"num_samples": N, "seed_ranges": 3, "kid_subset_size": 200, "kid_subsets": 10}


def _reference(feats: torch.Tensor) -> Reference:
    mu, sigma = fid_statistics(feats)
    return Reference(mu, sigma, feats.float().numpy(), (1, 8, 8), "test", "0" * 64, "gaussian", len(feats))


def _gaussian(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_cross_fitted_floor_matches_fresh_samples_of_the_same_distribution():
    pool = _gaussian(POOL, 0)
    record = unseen_floor.measure(pool, _reference(pool), EV)
    # the truth: one range of N fresh images against statistics of POOL fresh images, averaged
    truth = np.mean([fid_of_features(_gaussian(N, 100 + r), _reference(_gaussian(POOL, 1000 + r))) for r in range(60)])
    assert record["estimate"] == pytest.approx(truth, rel=0.1)
    assert record["direct"]["fid"] > record["estimate"]  # fewer reference images (m < POOL) read higher
    assert abs(record["kid"]["mean"]) < 3 * record["kid"]["std_over_reps"] + 1e-3  # KID's floor is 0


def test_the_design_holds_out_n_images_beside_m_reference_images():
    pairs = unseen_floor.design(1797, 1000)
    assert all(n + m <= 1797 for n, m in pairs)
    assert (1000, 797) in pairs  # N itself, against all the images it leaves
    with pytest.raises(ValueError, match="too few"):
        unseen_floor.measure(_gaussian(10, 0), _reference(_gaussian(10, 0)), {**EV, "num_samples": 9})


def test_a_floor_record_without_the_unseen_floor_is_refused():
    with pytest.raises(ValueError, match="predates the unseen-data floor"):
        floor.fid({"metrics": {"fid": {"min": 10.1}}})
