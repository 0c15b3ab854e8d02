import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from distill.core.checkpoint import save_weights
from distill.core.training import TrainConfig
from distill.data import load_dataset
from distill.metrics.classifier import train_classifier
from distill.metrics.extractors import extract_features, load_extractor
from distill.metrics.images import MetricInputError, as_uint8_images
from distill.metrics.protocol import evaluate_images, fid_of_features, metrics_of_features, seed_ranges
from distill.metrics.reference import ReferenceError, compute_reference, load_reference, save_reference
from distill.metrics.torchvision_fallback import import_torch_fidelity, stand_in

from conftest import ROOT
from latent_models import random_inception

EV = {"num_samples": 300, "seed_ranges": 2, "batch_size": 64, "kid_subset_size": 100, "kid_subsets": 20,
      "pr_neighborhood": 3, "prdc_nearest_k": 5}


@pytest.fixture(scope="module")
def digits():
    return torch.from_numpy(load_dataset({"name": "digits"}).data)


@pytest.fixture(scope="module")
def extractor_weights(tmp_path_factory):
    """A quickly trained domain classifier (weights file), as the pipeline writes it."""
    out = tmp_path_factory.mktemp("clf")
    data = load_dataset({"name": "digits", "conditional": True})
    cfg = {"in_channels": 1, "resolution": 8, "num_classes": 10, "width": 8, "feature_dim": 16, "max_shift": 1}
    net, _ = train_classifier(data, cfg, TrainConfig(steps=60, batch_size=64, lr=3e-3), out, progress=False)
    save_weights(out / "model.safetensors", net.state_dict(), {"classifier": cfg})
    return str(out / "model.safetensors"), net


@pytest.fixture(scope="module")
def reference(tmp_path_factory, extractor_weights, digits):
    path = tmp_path_factory.mktemp("ref") / "ref.npz"
    save_reference(path, compute_reference(digits[1000:], "distill-domain", extractor_weights[0], 64, "digits[1000:]"))
    return path


def test_torchvision_is_real_or_a_withdrawn_stand_in():
    """torch-fidelity imports over the real torchvision, or over the stand-in, which then leaves sys.modules: a library
    that probes for torchvision afterwards (transformers, diffusers) finds none."""
    import_torch_fidelity()
    torchvision = sys.modules.get("torchvision")
    if stand_in() is None:
        assert torchvision is not None and not getattr(torchvision, "__distill_fallback__", False)
    else:
        assert torchvision is None and importlib.util.find_spec("torchvision") is None
        with pytest.raises(RuntimeError, match="not available"):
            stand_in().models.vgg16()


def _frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # dead ReLU features of the tiny classifier
def test_fid_matches_an_independent_computation_and_the_two_backends_agree(extractor_weights, reference, digits):
    path, net = extractor_weights
    ref = load_reference(reference)
    gen = digits[:600]
    feats = extract_features(gen, load_extractor("distill-domain", path), 64)
    metrics = metrics_of_features(feats, ref, EV)
    with torch.no_grad():
        fa = net.forward_features(gen.float() / 127.5 - 1)[0].double().numpy()
    assert metrics["fid"] == pytest.approx(_frechet(fa, ref.features.astype(np.float64)), rel=1e-3)
    assert metrics["fid_cleanfid"] == pytest.approx(metrics["fid"], rel=1e-3)  # torch-fidelity vs clean-fid
    noise = torch.randint(0, 256, (600, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    noisy = metrics_of_features(extract_features(noise, load_extractor("distill-domain", path), 64), ref, EV)
    assert noisy["fid"] > 5 * metrics["fid"] and noisy["kid"] > metrics["kid"]
    assert noisy["precision"] < metrics["precision"] and noisy["coverage"] < metrics["coverage"]
    assert 1.0 <= metrics["is"] <= 10.0


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_features_and_fid_do_not_depend_on_the_batch_size(extractor_weights, reference, digits):
    extractor, ref = load_extractor("distill-domain", extractor_weights[0]), load_reference(reference)
    feats = {bs: extract_features(digits[:200], extractor, bs) for bs in (1, 7, 64)}
    for bs in (7, 64):
        for layer in ("fid", "isc"):
            assert torch.allclose(feats[bs][layer], feats[1][layer], rtol=1e-6, atol=1e-6)
        assert fid_of_features(feats[bs]["fid"], ref) == pytest.approx(fid_of_features(feats[1]["fid"], ref), abs=1e-6)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_protocol_reports_min_and_mean_over_disjoint_seed_ranges(extractor_weights, reference, digits):
    extractor, ref = load_extractor("distill-domain", extractor_weights[0]), load_reference(reference)
    record = evaluate_images(digits[:600], ref, extractor, EV)
    assert record["seed_ranges"] == seed_ranges(300, 2) == [(0, 299), (300, 599)]
    second = metrics_of_features(extract_features(digits[300:600], extractor, 64), ref, EV)
    assert record["per_range"][1]["fid"] == pytest.approx(second["fid"], abs=1e-9)
    fids = [r["fid"] for r in record["per_range"]]
    assert record["metrics"]["fid"] == {"min": min(fids), "mean": pytest.approx(np.mean(fids))}
    with pytest.raises(MetricInputError, match="needs 2 seed ranges of 300 = 600"):
        evaluate_images(digits[:599], ref, extractor, EV)


@pytest.mark.parametrize("images,message", [
    (torch.zeros(4, 1, 8, 8) + 2.0, r"float values span \[2, 2\]"),
    (torch.full((4, 1, 8, 8), float("nan")), "4 image\\(s\\) contain NaN or infinite"),
    (torch.zeros(4, 8, 8, 1, dtype=torch.uint8), "channels last"),
    (torch.zeros(4, 2, 8, 8, dtype=torch.uint8), "1 or 3 channels"),
    (torch.zeros(4, 8, 8, dtype=torch.uint8), "expected a batch"),
    (torch.full((4, 1, 8, 8), 300, dtype=torch.int32), r"integer values span \[300, 300\]"),
    (torch.zeros(4, 1, 16, 16, dtype=torch.uint8), "were computed on \\(1, 8, 8\\)"),
    (torch.zeros(1, 1, 8, 8, dtype=torch.uint8), "at least 2"),
])
def test_bad_images_give_clear_errors(images, message):
    with pytest.raises(MetricInputError, match=message):
        as_uint8_images(images, "images", expected_shape=(1, 8, 8),
                        value_range="signed" if images.dtype.is_floating_point else None)


def test_float_images_in_model_range_are_quantised_like_samples():
    x = torch.linspace(-1, 1, 64).reshape(1, 1, 8, 8).repeat(2, 1, 1, 1)
    out = as_uint8_images(x, value_range="signed")
    assert out.dtype == torch.uint8 and out.min() == 0 and out.max() == 255


def test_reference_must_match_the_extractor(reference, tmp_path):
    ref = load_reference(reference)
    with pytest.raises(ReferenceError, match="computed with 'distill-domain', not 'inception-v3-compat'"):
        load_reference(reference, "inception-v3-compat")
    with pytest.raises(ReferenceError, match="other distill-domain weights"):
        load_reference(reference, "distill-domain", "0" * 64)
    with pytest.raises(ReferenceError, match="not found"):
        load_reference(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ReferenceError, match="corrupt"):
        load_reference(tmp_path / "bad.npz")
    assert ref.image_shape == (1, 8, 8) and ref.num_images == 797


def test_missing_extractor_weights_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights-inception-2015-12-05"):
        load_extractor("inception-v3-compat", str(tmp_path / "weights-inception-2015-12-05-6726825d.pth"))
    with pytest.raises(ValueError, match="unknown feature extractor"):
        load_extractor("clip", "x")


def test_inception_extractor_loads_a_local_weights_file(tmp_path):
    """The standard extractor path, offline: a weights file with random values, built here (never committed)."""
    path = random_inception(tmp_path / "weights-inception-2015-12-05-6726825d.pth")
    extractor = load_extractor("inception-v3-compat", str(path))
    images = torch.randint(0, 256, (6, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    feats = extract_features(images, extractor, batch_size=3)
    assert feats["fid"].shape == (6, 2048) and feats["isc"].shape == (6, 1008)
    assert torch.isfinite(feats["fid"]).all()


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_fid_cli_ref_and_calc(tmp_path, extractor_weights, digits):
    import shutil

    import yaml

    (tmp_path / "workflows").mkdir()
    shutil.copytree(ROOT / "workflows" / "schema", tmp_path / "workflows" / "schema")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profiles"]["smoke"]["evaluation"].update(num_samples=100, seed_ranges=2, feature_extractor_weights=extractor_weights[0])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    np.savez(tmp_path / "gen.npz", images=digits[:200].numpy())
    base = [sys.executable, "-m", "distill", "fid"]
    common = ["--params", str(tmp_path / "params.yaml"), "--profile", "smoke"]
    subprocess.run(base + ["ref", *common, "--out", str(tmp_path / "ref.npz")], check=True, capture_output=True)
    out = subprocess.run(base + ["calc", *common, "--images", str(tmp_path / "gen.npz"), "--ref", str(tmp_path / "ref.npz")],
                         check=True, capture_output=True, text=True).stdout
    record = json.loads(out)
    assert record["seed_ranges"] == [[0, 99], [100, 199]] and record["metrics"]["fid"]["min"] >= 0
    np.savez(tmp_path / "few.npz", images=digits[:50].numpy())
    bad = subprocess.run(base + ["calc", *common, "--images", str(tmp_path / "few.npz"), "--ref", str(tmp_path / "ref.npz")],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "needs 2 seed ranges of 100 = 200" in bad.stderr


@pytest.mark.parametrize("k", [1, 3, 5])
def test_density_and_coverage_are_prdcs(k):
    """distill/metrics/density_coverage.py against the authors' package, on features with clusters, duplicates (a
    distance tie) and a far outlier."""
    import contextlib
    import io

    import prdc

    from distill.metrics.density_coverage import density_coverage

    rng = np.random.default_rng(k)
    real = np.concatenate([rng.normal(0, 1, (120, 16)), rng.normal(4, 0.5, (40, 16))])
    fake = np.concatenate([rng.normal(0.3, 1.2, (90, 16)), real[:10], [np.full(16, 50.0)]])
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints its sample counts
        want = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    density, coverage = density_coverage(real, fake, k)
    assert density == float(want["density"]) and coverage == float(want["coverage"])
    assert 0 < coverage < 1 and density > 0


def test_published_fid_statistics_replace_the_mean_and_covariance_only(tmp_path, monkeypatch, smoke_cfg):
    """A data section's fid_statistics (SFD Table 3's and DisBack's ImageNet-64 experiments: EDM's imagenet-64x64.npz)
    give FID the published reference's mean and covariance, while KID and the floor keep the data's own features;
    statistics of another size, or a feature extractor they were not computed with, are refused by name."""
    from distill.metrics.reference import Reference
    from distill.metrics.text_fid import fid_against
    from distill.pipeline import reference

    monkeypatch.chdir(tmp_path)  # the statistics' place, data/edm, is relative to the project
    rng = np.random.default_rng(0)
    stats = Path("data/edm/imagenet-64x64.npz")
    stats.parent.mkdir(parents=True)
    mu, a = rng.normal(size=16), rng.normal(size=(16, 32))  # 2048-dimensional Inception statistics, in small
    np.savez(stats, mu=mu, sigma=a @ a.T / 32)
    feats = rng.normal(size=(6, 16)).astype(np.float32)
    own = Reference(feats.mean(0), np.cov(feats.T), feats, (3, 64, 64), "inception-v3-compat", "abc",
                    "imagenet64 (6 images, 3x64x64)", 6)
    ref = reference.with_statistics(own, "edm_ref_imagenet64")
    assert np.allclose(ref.mu, mu) and ref.features is feats and ref.num_images == 6
    assert ref.source.startswith("FID mean and covariance: edm_ref_imagenet64 (imagenet-64x64.npz, sha256 ")
    gen = torch.from_numpy(feats[:4]).double()
    assert fid_of_features(gen, ref) == pytest.approx(fid_against(gen.numpy(), stats), rel=1e-9)
    np.savez(stats, mu=mu[:8], sigma=a[:8] @ a[:8].T)
    with pytest.raises(ValueError, match="8-dimensional statistics"):
        reference.with_statistics(own, "edm_ref_imagenet64")
    cfg = {**smoke_cfg, "data": {"name": "imagenet64", "root": str(tmp_path / "none"), "resolution": 64,
                                 "conditional": True, "fid_statistics": "edm_ref_imagenet64"}}
    with pytest.raises(ValueError, match="fid_statistics edm_ref_imagenet64 are Inception statistics"):
        reference.run(cfg, tmp_path / "ref.npz")  # the smoke profile's extractor is the domain classifier
    assert not (tmp_path / "ref.npz").exists()
