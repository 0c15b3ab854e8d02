"""Throughput of sampling, training steps, feature extraction and FID at the mini profile's settings."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from distill.pipeline.pd_layout import round_updates
from distill.core.grids import uniform
from distill.core.samplers import sample_ddim
from distill.core.training import TrainConfig, make_optimizer, train_step
from distill.core.ema import EMA
from distill.methods.progressive import make_distillation_loss
from distill.methods.teacher import make_teacher_loss
from distill.core.checkpoint import save_weights
from distill.metrics.classifier import build_classifier
from distill.metrics.extractors import extract_features, load_extractor
from distill.data.base import images_to_uint8
from distill.metrics.protocol import fid_of_features
from distill.metrics.reference import Reference, fid_statistics

from distill.core.timing import NetworkTime

from .conftest import NFES, ROUNDS, SAMPLER_AIM, STEP_AIM, record_overhead


def _batch(cfg, which: str) -> int:
    return cfg["sampling"]["batch_size"] if which == "sampling_batch" else cfg["teacher"]["batch_size"]


def _images_per_second(benchmark, n: int) -> None:
    benchmark.extra_info["images"] = n
    benchmark.extra_info["images_per_second"] = n / benchmark.stats.stats.median


@pytest.mark.parametrize("which", ["sampling_batch", "train_batch"])
def test_network_forward(benchmark, cfg, data, teacher, which):
    """One forward of the mini U-Net without gradient (the unit of the sampler and of the PD teacher)."""
    b = _batch(cfg, which)
    net, z, t = teacher.net.eval(), torch.randn(b, *data.shape), torch.rand(b)
    with torch.no_grad():
        benchmark(net, z, t)
    _images_per_second(benchmark, b)


def test_network_forward_backward(benchmark, cfg, data, teacher):
    """One forward and backward at the training batch (the unit of a training step)."""
    b = cfg["teacher"]["batch_size"]
    net, z, t = teacher.net.train(), torch.randn(b, *data.shape), torch.rand(b)

    def fwd_bwd():
        net.zero_grad(set_to_none=True)
        net(z, t).square().mean().backward()

    benchmark(fwd_bwd)
    _images_per_second(benchmark, b)


@pytest.mark.parametrize("nfe", NFES)
def test_ddim_sampler(benchmark, cfg, data, teacher, nfe):
    """DDIM with the mini U-Net: images/s at each number of function evaluations (NFE = steps)."""
    b = cfg["sampling"]["batch_size"]
    denoiser, z = teacher.eval(), torch.randn(b, *data.shape)
    timer = NetworkTime(denoiser.net)
    with torch.no_grad():
        benchmark.pedantic(sample_ddim, (denoiser, z, uniform(nfe)), {"clip_x": cfg["sampling"]["clip_x"]}, rounds=ROUNDS)
    record_overhead(benchmark, timer, SAMPLER_AIM, nfe=nfe)
    _images_per_second(benchmark, b)


def _trainer(net, loss_fn, tcfg):
    params = [p for p in net.parameters() if p.requires_grad]
    opt, gen = make_optimizer(params, tcfg), torch.Generator().manual_seed(0)
    ema = EMA(net, tcfg.ema_decay) if tcfg.ema_decay > 0 else None
    return lambda: train_step(net, loss_fn, opt, params, gen, tcfg.grad_clip, ema)


def test_teacher_training_step(benchmark, cfg, data, teacher):
    """One teacher update (batch, Eq. 2 loss, backward, clipping, AdamW, EMA) as `distill.core.training` runs it."""
    t = cfg["teacher"]
    teacher.net.train()
    loss_fn = make_teacher_loss(teacher, data.model_tensor(), None, t["batch_size"], "snr", t["random_flip"])
    step = _trainer(teacher.net, loss_fn, TrainConfig.from_params(t))
    step()  # the optimizer allocates its state on the first step
    timer = NetworkTime(teacher.net)
    benchmark.pedantic(step, rounds=4 * ROUNDS)
    record_overhead(benchmark, timer, STEP_AIM, step="teacher")
    _images_per_second(benchmark, t["batch_size"])


def test_distillation_training_step(benchmark, cfg, data, teacher):
    """One PD update (Algorithm 2: two teacher DDIM steps, the target, the student's loss and update)."""
    exp = cfg["pd"]["experiments"]["digits"]
    s = exp["train"]
    assert s["batch_size"] == cfg["teacher"]["batch_size"], "the ideal reuses the train-batch network timings"
    student = copy.deepcopy(teacher).train()
    frozen = teacher.eval().requires_grad_(False)
    loss_fn = make_distillation_loss(student, frozen, data.model_tensor(), None, s["batch_size"],
                                     exp["teacher_steps"] // 2, exp["weighting"], s["random_flip"])
    updates = round_updates(exp, exp["teacher_steps"] // 2)  # the first round's length (sets the lr anneal)
    step = _trainer(student.net, loss_fn, TrainConfig.from_params({**s, "steps": updates}))
    step()
    timer = NetworkTime(student.net, frozen.net)
    benchmark.pedantic(step, rounds=4 * ROUNDS)
    record_overhead(benchmark, timer, STEP_AIM, step="distillation")
    _images_per_second(benchmark, s["batch_size"])
    teacher.requires_grad_(True)


@pytest.fixture(scope="module")
def extractor(cfg, data, tmp_path_factory):
    """The domain feature extractor through torch-fidelity, as the evaluation loads it (random weights)."""
    c = cfg["classifier"]
    net_cfg = {"in_channels": data.shape[0], "resolution": data.shape[-1], "num_classes": 10,
               "width": c["width"], "feature_dim": c["feature_dim"], "max_shift": c["max_shift"]}
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("extractor") / "model.safetensors"
    save_weights(path, build_classifier(net_cfg).state_dict(), {"kind": "classifier", "classifier": net_cfg})
    return load_extractor("distill-domain", str(path))


@pytest.fixture(scope="module")
def images(cfg, data):
    """One seed range of uint8 images (the data set's own, repeated as needed)."""
    n, x = cfg["evaluation"]["num_samples"], data.model_tensor()
    x = x.repeat((n + len(x) - 1) // len(x), 1, 1, 1)[:n]
    return images_to_uint8(x)


def test_feature_extraction(benchmark, cfg, images, extractor):
    """Features of one seed range of images (torch-fidelity, the mini FID's feature space)."""
    feats = benchmark(extract_features, images, extractor, cfg["evaluation"]["batch_size"])
    assert feats["fid"].shape[0] == len(images)
    _images_per_second(benchmark, len(images))


def test_fid(benchmark, cfg, images, extractor):
    """FID of one seed range from images: features, then torch-fidelity's Frechet distance to the reference."""
    ref_feats = extract_features(images, extractor, cfg["evaluation"]["batch_size"])["fid"]
    mu, sigma = fid_statistics(ref_feats)
    ref = Reference(mu, sigma, ref_feats.numpy().astype(np.float32), tuple(images.shape[1:]), "distill-domain", "",
                    "", len(images))
    batch = cfg["evaluation"]["batch_size"]
    value = benchmark(lambda: fid_of_features(extract_features(images, extractor, batch)["fid"], ref))
    assert abs(value) < 1e-6  # the same images as the reference
    _images_per_second(benchmark, len(images))
