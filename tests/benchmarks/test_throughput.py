"""Throughput of sampling, every method's training steps, feature extraction and FID at the mini profile's settings.

Each benchmark records the reference kernel of the network it runs (`KernelTime`: its fastest round divided by
the kernel's fastest run is its normalised time); those marked `overhead` also record, and are failed by, an
overhead ratio."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
import torch

from distill.core.grids import uniform
from distill.core.samplers import sample_ddim
from distill.core.timing import NetworkTime, reference_kernel, synced
from distill.core.training import StepRunner
from distill.metrics.extractors import extract_features, timing_extractor
from distill.data.base import images_to_uint8
from distill.metrics.protocol import fid_of_features
from distill.metrics.reference import Reference, fid_statistics
from distill.nets.embedding import ConditionEmbedding
from distill.registry import get

from .conftest import NFES, ROUNDS, note, record_overhead

PORTABLE_NFES = (1, 8)  # the sampler's ratio does not depend on NFE; CI checks it on two short samplers
FORWARD_ROUNDS = 20


class KernelTime:
    """A reference kernel timed once before each round of a benchmark (pytest-benchmark's `setup`, not counted in the
    round): it sees the same machine state as the rounds it sits between. The normalised time is the benchmark's
    fastest round / the kernel's fastest run: minima, the least disturbed by other work on a shared machine."""

    def __init__(self, name: str, kernel, repeats: int = 1, device: torch.device | str = "cpu"):
        self.name, self.kernel, self.repeats, self.times = name, synced(kernel, device), repeats, []
        self.timer, self.network_marks = None, []  # with a NetworkTime: its reading before each round
        kernel()  # warm-up

    def __call__(self) -> None:
        """One sample: `repeats` runs back to back (about as long as one round, so as exposed to disturbances)."""
        if self.timer is not None:
            self.network_marks.append(self.timer.seconds)
        start = time.perf_counter()
        for _ in range(self.repeats):
            self.kernel()
        self.times.append((time.perf_counter() - start) / self.repeats)

    def store(self, benchmark) -> None:
        seconds = min(self.times)
        benchmark.extra_info.update(reference_kernel=self.name, reference_seconds=seconds,
                                    reference_median_seconds=statistics.median(self.times),
                                    reference_runs=len(self.times))
        note(benchmark, normalised=benchmark.stats.stats.min / seconds, kernel=self.name)


def images_per_second(benchmark, n: int) -> None:
    benchmark.extra_info["images"] = n
    benchmark.extra_info["images_per_second"] = n / benchmark.stats.stats.median


def example_cond(net, batch: int, device) -> dict[str, torch.Tensor]:
    """Conditions of the shapes `net` takes (a class label, named scalars such as guidance's w): the reference kernel
    of a conditional network runs its embedding's layers too."""
    emb = next((m for m in net.modules() if isinstance(m, ConditionEmbedding)), None)
    if emb is None:
        return {}
    cond = {name: torch.rand(batch, device=device) for name in emb.scalars}
    if emb.label is not None:
        cond["label"] = torch.randint(emb.num_classes, (batch,), device=device)
    return cond


def unet_kernel(net, data, batch: int, device, backward: bool = False):
    return reference_kernel(net, torch.randn(batch, *data.shape, device=device), torch.rand(batch, device=device),
                            example_cond(net, batch, device), backward=backward)


def unet_inputs(data, batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(batch, *data.shape, device=device), torch.rand(batch, device=device)


def _batch(cfg, which: str) -> int:
    return cfg["sampling"]["batch_size"] if which == "sampling_batch" else cfg["teacher"]["batch_size"]


@pytest.mark.parametrize("which", ["sampling_batch", "train_batch"])
def test_network_forward(benchmark, cfg, data, teacher, device, which):
    """One forward of the profile's U-Net without gradient (the unit of the sampler and of the PD teacher)."""
    b = _batch(cfg, which)
    net, (z, t) = teacher.net.eval(), unet_inputs(data, b, device)
    ref = KernelTime(f"unet-{which}", unet_kernel(net, data, b, device), device=device)
    with torch.no_grad():
        benchmark.pedantic(synced(net, device), (z, t), setup=ref, rounds=FORWARD_ROUNDS)
    ref.store(benchmark)
    images_per_second(benchmark, b)


def test_network_forward_backward(benchmark, cfg, data, teacher, device):
    """One forward and backward at the training batch (the unit of a training step)."""
    b = cfg["teacher"]["batch_size"]
    net, (z, t) = teacher.net.train(), unet_inputs(data, b, device)

    def fwd_bwd():
        net.zero_grad(set_to_none=True)
        net(z, t).square().mean().backward()

    ref = KernelTime("unet-train_batch-backward", unet_kernel(net, data, b, device, backward=True), device=device)
    benchmark.pedantic(synced(fwd_bwd, device), setup=ref, rounds=FORWARD_ROUNDS)
    ref.store(benchmark)
    images_per_second(benchmark, b)


@pytest.mark.parametrize("nfe", [pytest.param(n, marks=pytest.mark.overhead) if n in PORTABLE_NFES else n
                                 for n in NFES])
def test_ddim_sampler(benchmark, cfg, data, teacher, device, nfe):
    """DDIM with the profile's U-Net: images/s at each number of function evaluations (NFE = steps)."""
    b = cfg["sampling"]["batch_size"]
    denoiser, (z, _) = teacher.eval(), unet_inputs(data, b, device)
    # made before the timer (its one capturing forward is not counted); one sample = NFE runs, as long as a round
    ref = KernelTime("unet-sampling_batch", unet_kernel(denoiser.net, data, b, device), repeats=nfe, device=device)
    ref.timer = timer = NetworkTime(denoiser.net, sync=device.type == "cuda")
    with torch.no_grad():
        benchmark.pedantic(synced(sample_ddim, device), (denoiser, z, uniform(nfe)), {"clip_x": cfg["sampling"]["clip_x"]},
                           setup=ref, rounds=ROUNDS)
    ref.store(benchmark)
    images_per_second(benchmark, b)
    record_overhead(benchmark, timer, "sampler", ref.network_marks, nfe=nfe)


@pytest.mark.overhead
def test_training_step(benchmark, cfg, data, device, method_step):
    """One training step of a registered method (distill.plugins: Method.training_steps) as its trainer makes it:
    its losses, backward passes, clipping, optimizer updates and EMAs (distill.core.training.StepRunner)."""
    method, name = method_step
    step = get(method).training_steps(cfg, device)[name]
    run = synced(StepRunner(step.parts, step.step_fn, precision=cfg["precision"]), device)
    run()  # the optimizers allocate their state on the first step
    nets = [p.net for p in step.parts.values()]
    ref = KernelTime("unet-train_batch-backward", unet_kernel(nets[0], data, step.images, device, backward=True),
                     device=device)
    ref.timer = timer = NetworkTime(*nets, *step.frozen, sync=device.type == "cuda")
    benchmark.pedantic(run, setup=ref, rounds=4 * ROUNDS)
    ref.store(benchmark)
    images_per_second(benchmark, step.images)
    record_overhead(benchmark, timer, "training_step", ref.network_marks, step=f"{method}-{name}", passes=step.passes)


@pytest.fixture(scope="module")
def extractor(cfg, data, tmp_path_factory):
    """The profile's feature extractor through torch-fidelity, as the evaluation loads it (the domain classifier with
    random weights; Inception from its fetched weights: `distill fetch inception`)."""
    return timing_extractor(cfg, data.shape, tmp_path_factory.mktemp("extractor"))


@pytest.fixture(scope="module")
def images(cfg, data):
    """One seed range of uint8 images (the data set's own, repeated as needed)."""
    n, x = cfg["evaluation"]["num_samples"], data.model_tensor()
    x = x.repeat((n + len(x) - 1) // len(x), 1, 1, 1)[:n]
    return images_to_uint8(x)


def device_of(extractor) -> torch.device:
    """Where torch-fidelity put the extractor (the GPU when there is one, as the evaluation runs it)."""
    return next(extractor.parameters()).device


def extractor_kernel(cfg, extractor, images):
    return reference_kernel(extractor, images[:cfg["evaluation"]["batch_size"]].to(device_of(extractor)))


@pytest.mark.overhead
def test_feature_extraction(benchmark, cfg, images, extractor):
    """Features of one seed range of images (torch-fidelity, the mini FID's feature space)."""
    ref = KernelTime("extractor-eval_batch", extractor_kernel(cfg, extractor, images),
                     device=device_of(extractor))
    ref.timer = timer = NetworkTime(extractor, sync=device_of(extractor).type == "cuda")
    feats = benchmark.pedantic(synced(extract_features, device_of(extractor)), (images, extractor, cfg["evaluation"]["batch_size"]), setup=ref,
                               rounds=ROUNDS)
    assert feats["fid"].shape[0] == len(images)
    ref.store(benchmark)
    images_per_second(benchmark, len(images))
    record_overhead(benchmark, timer, "features", ref.network_marks)


@pytest.mark.overhead
def test_fid(benchmark, cfg, images, extractor):
    """FID of one seed range from images: features, then torch-fidelity's Frechet distance to the reference."""
    ref_feats = extract_features(images, extractor, cfg["evaluation"]["batch_size"])["fid"]
    mu, sigma = fid_statistics(ref_feats)
    ref = Reference(mu, sigma, ref_feats.numpy().astype(np.float32), tuple(images.shape[1:]), "distill-domain", "",
                    "", len(images))
    batch = cfg["evaluation"]["batch_size"]
    kernel = KernelTime("extractor-eval_batch", extractor_kernel(cfg, extractor, images),
                     device=device_of(extractor))
    kernel.timer = timer = NetworkTime(extractor, sync=device_of(extractor).type == "cuda")
    value = benchmark.pedantic(synced(lambda: fid_of_features(extract_features(images, extractor, batch)["fid"], ref),
                                      device_of(extractor)),
                               setup=kernel, rounds=ROUNDS)
    assert abs(value) < 1e-6  # the same images as the reference
    kernel.store(benchmark)
    images_per_second(benchmark, len(images))
    record_overhead(benchmark, timer, "fid", kernel.network_marks)
