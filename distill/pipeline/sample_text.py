"""Step: evaluation images of a text-to-image teacher (or a student of one): sample i is drawn from seed i's noise
with prompt i mod P of the prompt file (SFD's and DMD2's evaluations pair seeds and MS-COCO captions so), the
latents sampled by any registered sampler on any grid, then decoded by the pipeline's autoencoder. Classifier-free
guidance with weight w is diffusers' guidance_scale 1 + w; the unconditional branch is the pipeline's (the empty
prompt, or SDXL's zeros). Writes the same samples .npz as `distill sample` (images uint8, status, meta), with the
prompt file's sha256 and each image's prompt index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from distill.core.checkpoint import file_sha256, load_weights
from distill.core.grids import from_sigmas, make_grid
from distill.core.guidance import PromptGuided, check_weight
from distill.core.provenance import provenance
from distill.core.samplers import evaluations_per_step, get_sampler, run_sampler
from distill.data import images_to_uint8
from distill.pipeline.common import load_denoiser, setup_torch
from distill.pipeline.sample import check_memory, recorded_sampling, save_samples
from distill.data.prompts import read_prompts
from distill.nets import prompt_encoder
from distill.nets.diffusers_vae import decode, load_vae


def run(cfg: dict[str, Any], model_path: str | Path, prompts_path: str | Path, sampler: str | None,
        out_path: str | Path, steps: int | None, num_samples: int, guidance: float | None = None,
        grid: str | None = None, grid_options: dict[str, float] | None = None, options: dict[str, Any] | None = None,
        threads: int | None = None, progress: bool = True, first_seed: int = 0,
        sigmas: list[float] | None = None) -> str:
    """Seeds first_seed .. first_seed + num_samples - 1 (a point sampled in parts). A model that records its own
    sampler (an SFD student of a text-to-image teacher) is sampled with it unless
    told otherwise (distill.pipeline.sample.recorded_sampling); a teacher needs --sampler, --steps (and takes the
    `edm` grid unless told otherwise)."""
    device = setup_torch(threads, cfg["device"])
    _, model_cfg = load_weights(model_path)
    if model_cfg["network"]["kind"] != "diffusers":
        raise ValueError(f"{model_path} is not a text-to-image model (its network is {model_cfg['network']['kind']!r});"
                         " sample it with `distill sample`")
    if num_samples < 1:
        raise ValueError(f"--num-samples must be >= 1, got {num_samples}")
    if sigmas is not None and steps is not None and steps != len(sigmas):
        raise ValueError(f"--steps {steps} contradicts --sigmas, {len(sigmas)} levels (one per step)")
    prompts = read_prompts(prompts_path)
    scalars: dict[str, float] = {}  # SFD-v's step condition
    sampler, steps, options, grid, grid_options = recorded_sampling(
        model_cfg, sampler, steps, dict(options or {}), grid if grid is not None or model_cfg.get("sampling")
        else "edm", dict(grid_options or {}), scalars)
    if sigmas is not None:  # a given schedule (a consistency model's time list) replaces the grid
        from_sigmas(sigmas)
        steps, grid, grid_options = len(sigmas), "given", {}
    if steps is None:
        raise ValueError("give --steps: this model records no step count of its own")
    spec = get_sampler(sampler)
    options = spec.with_defaults(dict(options or {}))
    if sigmas is None:
        make_grid(grid, steps, **grid_options)  # a bad step count, grid or grid option stops here, before loading
    if guidance is not None:
        check_weight(guidance)
    elif "w" in (model_cfg["network"].get("scalar_conditions") or []):
        raise ValueError(f"{model_path} is a w-conditioned student (guided distillation): give --guidance, the w it "
                         "samples at")
    folder = model_cfg["network"]["folder"]
    resolution = model_cfg["data"]["resolution"]
    check_memory(num_samples, [3, resolution, resolution])
    denoiser, model_cfg = load_denoiser(model_path, device)
    network = model_cfg["network"]
    if grid == "uniform" and not grid_options and sigmas is None:  # the model's own levels (core/time_window.py)
        grid_options = dict(zip(("sigma_min", "sigma_max"), denoiser.sigma_range()))
    encoder = prompt_encoder(network, (resolution, resolution) if network["sdxl"] else None)
    if guidance is not None and "w" in (network.get("scalar_conditions") or []):
        scalars["w"] = guidance  # a w-conditioned student (guided distillation): w is its input, one evaluation
    elif guidance is not None:
        denoiser = PromptGuided(denoiser, guidance, encoder.null(1))
    vae = load_vae(folder).to(device)
    shape = tuple(model_cfg["data"]["shape"])
    meta = {"sampler": sampler, "steps": steps, "grid": grid, **{f"grid_{k}": v for k, v in grid_options.items()},
            **({"sigmas": json.dumps([float(v) for v in sigmas])} if sigmas is not None else {}),
            **{f"cond_{k}": v for k, v in scalars.items()},
            **options, "num_samples": num_samples, "first_seed": first_seed, "model": str(model_path),
            "prompts": str(prompts_path),
            "prompts_sha256": file_sha256(prompts_path), "nfe": spec.nfe(steps, options, evaluations_per_step(denoiser)),
            **({"guidance": guidance, "guidance_scale": 1 + guidance} if guidance is not None else {}),
            "provenance": json.dumps(provenance({"model": model_path, "prompts": prompts_path}), sort_keys=True)}
    seeds, chunks = list(range(first_seed, first_seed + num_samples)), []
    batch_size = cfg["sampling"]["batch_size"]
    with torch.no_grad():
        for start in tqdm(range(0, num_samples, batch_size), desc=f"sample {sampler}", disable=not progress):
            batch = seeds[start:start + batch_size]
            cond = {k: v.to(device) for k, v in encoder([prompts[i % len(prompts)] for i in batch]).items()}
            cond.update({k: torch.full((len(batch),), v, device=device) for k, v in scalars.items()})
            latents = run_sampler(sampler, denoiser, shape, batch, steps, cond=cond, clip_x=False, grid=grid,
                                  device=device, grid_options=grid_options,
                                  sigmas=None if sigmas is None else torch.tensor(sigmas, dtype=torch.float64),
                                  **options)
            chunks.append(decode(vae, latents, batch_size).cpu())
    x = torch.cat(chunks)
    meta["prompt_index"] = np.array([i % len(prompts) for i in seeds])
    if not torch.isfinite(x).all():
        save_samples(out_path, np.zeros((0,), np.uint8), "non-finite samples", meta)
        return "non-finite samples"
    save_samples(out_path, images_to_uint8(x).numpy(), "ok", meta)
    return "ok"
