import sys

import numpy as np
import pytest
import scipy.linalg
import torch

from distill.core.training import TrainConfig
from distill.data import load_dataset
from distill.metrics.classifier import train_classifier
from distill.metrics.fid import MetricInputError, fid
from distill.metrics.torchvision_fallback import ensure_torchvision
from distill.core.checkpoint import save_weights


@pytest.fixture(scope="module")
def extractor_weights(tmp_path_factory):
    """A quickly trained domain classifier (weights file), as the pipeline writes it."""
    out = tmp_path_factory.mktemp("clf")
    data = load_dataset({"name": "digits", "conditional": True})
    cfg = {"in_channels": 1, "resolution": 8, "num_classes": 10, "width": 8, "feature_dim": 16, "max_shift": 1}
    net, _ = train_classifier(data, cfg, TrainConfig(steps=40, batch_size=64, lr=3e-3), out, progress=False)
    save_weights(out / "model.safetensors", net.state_dict(), {"classifier": cfg})
    return str(out / "model.safetensors"), net


def test_torchvision_is_real_or_a_registered_stand_in():
    real = ensure_torchvision()
    import torchvision

    assert real != bool(getattr(torchvision, "__distill_fallback__", False))
    if not real:
        with pytest.raises(RuntimeError, match="not available"):
            torchvision.models.vgg16()


def _frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # dead ReLU features of the tiny test classifier
def test_fid_through_torch_fidelity_matches_an_independent_computation(extractor_weights):
    path, net = extractor_weights
    images = torch.from_numpy(load_dataset({"name": "digits"}).data)
    a, b = images[:600], images[600:1400]
    value = fid(a, b, "distill-domain", path, batch_size=128)
    with torch.no_grad():
        fa = net.forward_features(a.float() / 127.5 - 1)[0].double().numpy()
        fb = net.forward_features(b.float() / 127.5 - 1)[0].double().numpy()
    assert value == pytest.approx(_frechet(fa, fb), rel=1e-3)
    assert fid(a, a, "distill-domain", path) == pytest.approx(0.0, abs=1e-4)
    noise = torch.randint(0, 256, (600, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert fid(noise, b, "distill-domain", path) > 10 * value


def test_fid_rejects_bad_inputs(extractor_weights):
    path, _ = extractor_weights
    ok = torch.zeros(10, 1, 8, 8, dtype=torch.uint8)
    with pytest.raises(MetricInputError, match="uint8"):
        fid(ok.float(), ok, "distill-domain", path)
    with pytest.raises(MetricInputError, match="shape"):
        fid(ok[:, 0], ok, "distill-domain", path)
    with pytest.raises(MetricInputError, match="must match"):
        fid(torch.zeros(10, 1, 4, 4, dtype=torch.uint8), ok, "distill-domain", path)
    with pytest.raises(MetricInputError, match="at least 50"):
        fid(ok, ok, "distill-domain", path, min_count=50)
