"""The time of one unit of work on this machine (a training step, a sampler step, an extractor batch), measured on
freshly initialised networks of a profile's shapes: what `distill gpu-hours --measure` multiplies by the counts of
distill/bench/work.py."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

import torch

from distill.bench.work import Source, Unit
from distill.experiment_views import experiment_profile
from distill.core.grids import uniform
from distill.core.samplers import sample_ddim
from distill.core.timing import synced
from distill.core.training import StepRunner
from distill.data import load_dataset
from distill.metrics.extractors import extract_features, timing_extractor
from distill.core.checkpoint import load_weights
from distill.nets import autoencoder
from distill.pipeline.common import load_denoiser
from distill.pipeline import text_to_image as T2I
from distill.pipeline.conditions import is_text_to_image, prompt_encoder_of
from distill.pipeline.imported_teacher import load_imported
from distill.pipeline.sample import conditions
from distill.pipeline.train_teacher import teacher_step
from distill.registry import get


VAE_BATCH = 4  # images per timed VAE call (encode-captions' default batch is 16; the time is per image)


def _restricted(cfg: Mapping[str, Any], method: str, experiment: str) -> dict[str, Any]:
    """The profile with only `experiment` in `method`'s section (a method's training steps use its first one)."""
    section = cfg[method]
    return {**cfg, method: {**section, "experiments": {experiment: section["experiments"][experiment]}}}


def _profile_of(cfg: Mapping[str, Any], source: Source) -> dict[str, Any]:
    return experiment_profile(cfg, *source) if not isinstance(source, str) else dict(cfg)


def _unit_fn(cfg: Mapping[str, Any], unit: Unit, device, scratch: Path):
    """(a function doing `per` units of work on `device`, per)."""
    if unit.kind == "train":
        method, name = unit.step
        wm, we = unit.source
        c = _restricted(_profile_of(cfg, unit.source), method, we) if wm == method else _profile_of(cfg, unit.source)
        step = get(method).training_steps(c, device)[name]
        return StepRunner(step.parts, step.step_fn, precision=cfg["precision"]), 1
    if unit.kind == "sampler_step":
        model_cfg = None
        if isinstance(unit.source, str) or unit.source[0] == T2I.METHOD:  # a model file, or a pipeline's student
            denoiser, model_cfg = load_denoiser(unit.source, device) if isinstance(unit.source, str) else \
                load_imported(cfg, T2I.teacher_artifact(cfg, unit.source[1]), device)
            shape, classes = tuple(model_cfg["data"]["shape"]), model_cfg["data"]["num_classes"]
        else:
            ecfg, (wm, we) = _profile_of(cfg, unit.source), unit.source
            exp = cfg[wm]["experiments"][we] if wm else {}
            data = load_dataset(ecfg["data"])
            # a fresh network of the experiment (the loss weighting does not change a forward pass)
            denoiser = teacher_step(ecfg, data, exp.get("parameterization", "eps"), "snr", 0, device)[0].eval()
            shape, classes = data.shape, data.num_classes
        b = cfg["sampling"]["batch_size"]
        z, cond = torch.randn(b, *shape, device=device), conditions(list(range(b)), classes, {}, device)
        if model_cfg is not None and is_text_to_image(model_cfg):  # a pipeline's UNet: a prompt's conditions
            cond = {k: v.to(device) for k, v in prompt_encoder_of(model_cfg, device)(["a photograph"] * b).items()}
            cond.update({k: torch.ones(b, device=device) for k in model_cfg["network"].get("scalar_conditions") or []})

        def one_step():
            with torch.no_grad():
                sample_ddim(denoiser, z, uniform(1), cond, clip_x=cfg["sampling"]["clip_x"])

        return one_step, 1
    if unit.kind == "features":
        shape = load_dataset(cfg["data"]).shape
        extractor = timing_extractor(cfg, shape, scratch)
        batch = cfg["evaluation"]["batch_size"]
        images = torch.randint(0, 256, (2 * batch, *shape), dtype=torch.uint8)
        return (lambda: extract_features(images, extractor, batch)), len(images)
    if unit.kind == "vae_encode":  # a latent teacher's autoencoder on images of its resolution
        _, model_cfg = load_weights(unit.source)
        vae, res = autoencoder(model_cfg["network"]).to(device), model_cfg["data"]["resolution"]
        images = torch.rand(VAE_BATCH, 3, res, res, device=device) * 2 - 1

        def encode_batch():
            with torch.no_grad():
                vae.encode(images.to(vae.dtype)).latent_dist.sample()

        return encode_batch, VAE_BATCH
    raise ValueError(f"unknown unit of work {unit.kind!r}")


def measure(cfg: Mapping[str, Any], units: list[Unit], device, repeats: int = 5) -> dict[str, float]:
    """Seconds of one unit of each kind of work on `device`: the median of `repeats` timed runs after two warm-ups
    (optimizer state, kernel selection), the GPU synchronised before each reading."""
    out = {}
    with tempfile.TemporaryDirectory() as scratch:
        for unit in units:
            fn, per = _unit_fn(cfg, unit, device, Path(scratch))
            fn = synced(fn, device)
            fn(), fn()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            out[unit.key] = statistics.median(times) / per
            print(f"measured {unit.key}: {out[unit.key]:.4g} s", file=sys.stderr)
    return out
