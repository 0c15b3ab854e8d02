"""Step: draw the evaluation samples of one trained model with one sampler: seeds 0 .. R*N-1 for R seed ranges of
N images (evaluation.seed_ranges, evaluation.num_samples).

Writes an .npz with uint8 images, the seeds and the sampler settings. A model whose training diverged, or whose
samples are not finite, gives an .npz with status 'diverged' / 'non-finite samples' and no images, so the table
can show it instead of the pipeline crashing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch
from tqdm.auto import tqdm

from distill.core import distributed
from distill.core.checkpoint import atomic_write, load_weights
from distill.core.grids import from_sigmas, make_grid
from distill.core.guidance import GuidedDenoiser
from distill.core.provenance import provenance
from distill.core.samplers import evaluations_per_step, get_sampler, run_sampler
from distill.data import images_to_uint8
from distill.data.npz import read_npz
from distill.pipeline.common import load_denoiser, setup_torch


def save_samples(path: str | Path, images: np.ndarray, status: str, meta: dict[str, Any]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, images=images, status=np.array(status), **{k: np.array(v) for k, v in meta.items()})

    atomic_write(path, write)


def load_samples(path: str | Path) -> tuple[np.ndarray, str, dict[str, Any]]:
    npz = read_npz(path, "samples file", required=("images", "status"))
    meta = {k: v.item() if v.ndim == 0 else v for k, v in npz.items() if k not in ("images", "status")}
    if "provenance" in meta:
        meta["provenance"] = json.loads(meta["provenance"])
    return npz["images"], str(npz["status"]), meta


def class_labels(seeds: list[int], num_classes: int, device: torch.device | str) -> dict[str, torch.Tensor]:
    """Labels of a class-conditional model's samples: seed i draws class i mod num_classes (balanced classes)."""
    return {"label": torch.tensor([seed % num_classes for seed in seeds], dtype=torch.int64, device=device)}


def conditions(seeds: list[int], num_classes: int, cond: dict[str, float], device: torch.device | str):
    """Per-sample conditions: a class-conditional model's labels (seed i draws class i mod num_classes, unless
    cond sets 'label'), and every scalar of `cond` (e.g. a guidance weight w) for every sample."""
    out: dict[str, torch.Tensor] = {}
    if num_classes > 0:
        out = class_labels(seeds, num_classes, device)
    for key, value in cond.items():
        if key == "label":  # checked against the model by check_conditions
            out["label"] = torch.full((len(seeds),), int(value), dtype=torch.int64, device=device)
        else:
            out[key] = torch.full((len(seeds),), float(value), dtype=torch.float32, device=device)
    return out or None


def check_conditions(cond: dict[str, float], model_cfg: dict[str, Any]) -> None:
    """Every --cond key is a condition the model takes: a label of a class-conditional model (an integer class), or
    one of its network's scalar_conditions. One it would ignore is an error, never a recorded no-op."""
    num_classes = model_cfg["data"]["num_classes"]
    scalars = list(model_cfg["network"].get("scalar_conditions") or [])
    takes = (["label"] if num_classes else []) + scalars
    for key, value in cond.items():
        if key == "label":
            if not num_classes:
                raise ValueError("--cond label: the model is not class-conditional; it takes "
                                 f"{', '.join(takes) or 'no condition'}")
            if not float(value).is_integer() or not 0 <= value < num_classes:
                raise ValueError(f"--cond label={value}: the model has {num_classes} classes (0 .. {num_classes - 1})")
        elif key not in scalars:
            raise ValueError(f"--cond {key}: the model takes no condition {key!r}; it takes "
                             f"{', '.join(takes) or 'no condition'} (network.scalar_conditions of its training)")
    if "w" in cond and model_cfg.get("w_range"):  # a guided student: the guidance weights it was trained on
        low, high = (float(v) for v in model_cfg["w_range"])
        w = float(cond["w"])
        if low == high and w != low:
            raise ValueError(f"--cond w={w:g}: this student was trained at w = {low:g} only (a fixed-w student, "
                             f"line {model_cfg.get('line', '?')!r}); sample it at w={low:g}, or use the w-conditioned "
                             "student for other weights")
        if not low <= w <= high:
            raise ValueError(f"--cond w={w:g} lies outside the guidance weights this student was trained on "
                             f"(w_range [{low:g}, {high:g}]); choose w in that range")


def check_guidance(w: float, model_cfg: dict[str, Any]) -> None:
    """Classifier-free guidance needs a class-conditional model trained with a null label."""
    if not w >= 0 or w == float("inf"):
        raise ValueError(f"--guidance must be a finite number >= 0, got {w}")
    if model_cfg.get("w_range") or "w" in (model_cfg["network"].get("scalar_conditions") or []):
        raise ValueError("--guidance on a guided student: its outputs are already guided (it was distilled from the "
                         "guided teacher with its w condition); give the weight as --cond w=... instead")
    if not model_cfg["data"].get("num_classes") or not model_cfg["network"].get("null_label"):
        raise ValueError("--guidance needs a class-conditional model trained with a null label (network.null_label "
                         "and teacher.label_dropout in params.yaml); this model has none")


def check_memory(n: int, shape: list[int]) -> None:
    """The n samples are held in memory until written (float32 while drawn, then uint8): refuse a count this machine
    cannot hold before drawing any."""
    need = n * int(np.prod(shape)) * 5
    free = psutil.virtual_memory().available
    if need > free:
        raise ValueError(f"{n:,} samples of shape {tuple(shape)} need about {need / 2**30:,.1f} GiB of memory to hold; "
                         f"this machine has {free / 2**30:,.1f} GiB free: draw fewer (--num-samples, or "
                         "evaluation.num_samples x seed_ranges in params.yaml)")


def own_sampler(model_path: str | Path) -> str:
    """The sampler a distilled model records in its model.json; an error naming --sampler when it records none."""
    _, model_cfg = load_weights(model_path)
    if not model_cfg.get("sampling"):
        raise ValueError(f"give --sampler: {model_path} records no sampler of its own")
    return model_cfg["sampling"]["sampler"]


def recorded_sampling(model_cfg: dict[str, Any], sampler: str | None, steps: int | None,
                      options: dict[str, Any], grid: str | None, grid_options: dict[str, float],
                      cond: dict[str, float]) -> tuple[str, int | None, dict[str, Any], str, dict[str, float]]:
    """A distilled model's own sampler (its model.json `sampling`: an SFD student's Euler with AFS on its
    polynomial grid) fills what the command leaves out; a model with a step condition gets its step count as the
    `steps` condition. A model without a record needs --sampler."""
    rec = model_cfg.get("sampling")
    if rec is None or (sampler is not None and sampler != rec["sampler"]):
        if sampler is None:
            raise ValueError("give --sampler: this model records no sampler of its own")
        return sampler, steps, options, grid or "uniform", grid_options
    steps = rec["steps"] if steps is None else steps
    if steps is None:
        raise ValueError("give --steps: this model was trained for several step counts (SFD-v)")
    trained = (model_cfg.get("distill") or {}).get("num_steps")
    if rec.get("step_condition") and isinstance(trained, list) and steps not in trained:
        raise ValueError(f"--steps {steps}: this student was trained for num_steps {', '.join(map(str, trained))} "
                         "(SFD-v's step condition) and never saw this count; choose one of them")
    if rec.get("step_condition"):
        name = rec["step_condition"]
        if name in cond and cond[name] != steps:
            raise ValueError(f"--cond {name}={cond[name]:g} contradicts --steps {steps}: the model's {name} condition "
                             "is its step count")
        cond[name] = float(steps)
    return (rec["sampler"], steps, {**rec["options"], **options}, grid or rec["grid"],
            {**rec["grid_options"], **grid_options} if (grid or rec["grid"]) == rec["grid"] else grid_options)


def run(cfg: dict[str, Any], model_path: str | Path, sampler: str | None, out_path: str | Path,
        threads: int | None = None, progress: bool = True, num_samples: int | None = None,
        steps: int | None = None, options: dict[str, Any] | None = None, grid: str | None = None,
        cond: dict[str, float] | None = None, grid_options: dict[str, float] | None = None,
        sigmas: list[float] | None = None, guidance: float | None = None) -> str:
    """Sample `num_samples` images (default: all seed ranges of the protocol) with the named sampler on the named
    grid and write them to out_path. `steps` defaults to sampling.steps, the ancestral sampler's gamma to
    sampling.ancestral_gamma; `cond` gives scalar conditions (w, steps, a fixed label) to every sample. A model that
    records its own sampler (an SFD student) is sampled with it unless told otherwise (`recorded_sampling`)."""
    device = setup_torch(threads, cfg["device"])
    s, ev = cfg["sampling"], cfg["evaluation"]
    _, model_cfg = load_weights(model_path)
    cond = dict(cond or {})
    sampler, steps, options, grid, grid_options = recorded_sampling(
        model_cfg, sampler, steps, dict(options or {}), grid, dict(grid_options or {}), cond)
    spec = get_sampler(sampler)
    n = ev["num_samples"] * ev["seed_ranges"] if num_samples is None else num_samples
    steps = s["steps"] if steps is None else steps
    if sampler == "ancestral":
        options.setdefault("gamma", s["ancestral_gamma"])
    options = spec.with_defaults(options)  # a solver's own clipping is recorded as it ran
    grid_options = dict(grid_options or {})
    if sigmas is not None:  # a given schedule (GITS's) replaces the named grid

        from_sigmas(sigmas)
        steps, grid, grid_options = len(sigmas), "given", {}
    else:
        make_grid(grid, steps, **grid_options)  # a bad step count, grid or grid option stops here, before any work
    if n < 1:
        raise ValueError(f"number of samples must be >= 1, got {n}")
    meta = {"sampler": sampler, "steps": steps, **({} if spec.clips_itself else {"clip_x": s["clip_x"]}),
            "num_samples": n, "model": str(model_path),
            **options, **({"grid": grid} if grid != "uniform" else {}), **{f"cond_{k}": v for k, v in cond.items()},
            **{f"grid_{k}": v for k, v in grid_options.items()},
            **({"sigmas": json.dumps([float(v) for v in sigmas])} if sigmas else {})}
    check_conditions(cond, model_cfg)
    if guidance is not None:
        check_guidance(guidance, model_cfg)
        meta["guidance"] = guidance
    check_memory(n, model_cfg["data"]["shape"])
    meta["provenance"] = json.dumps(provenance({"model": model_path}), sort_keys=True)
    status = model_cfg.get("status", "completed")
    if status != "completed":  # a diverged model (or a student of one) gives no images, and says why
        if distributed.is_main():
            save_samples(out_path, np.zeros((0,), np.uint8), status, meta)
        return status
    denoiser, model_cfg = load_denoiser(model_path, device)
    if guidance is not None:  # classifier-free guidance: two network evaluations per step, the NFE counts both

        denoiser = GuidedDenoiser(denoiser, guidance, null_label=model_cfg["data"]["num_classes"])
    meta["nfe"] = spec.nfe(steps, options, evaluations_per_step(denoiser))
    shape, num_classes = tuple(model_cfg["data"]["shape"]), model_cfg["data"]["num_classes"]
    # each rank of a torchrun job draws its share of the seeds; every sample has its own seed's noise, so the
    # gathered images are those of one process
    seeds, chunks = list(distributed.my_share(n)), []
    with torch.no_grad():
        for start in tqdm(range(0, len(seeds), s["batch_size"]), desc=f"sample {sampler}",
                          disable=not (progress and distributed.is_main())):
            batch = seeds[start:start + s["batch_size"]]
            x = run_sampler(sampler, denoiser, shape, batch, steps, cond=conditions(batch, num_classes, cond, device),
                            clip_x=s["clip_x"], grid=grid, device=device, grid_options=grid_options,
                            sigmas=None if sigmas is None else torch.tensor(sigmas, dtype=torch.float64), **options)
            chunks.append(x.float().cpu())
    x = distributed.gather_rows(torch.cat(chunks) if chunks else torch.zeros((0, *shape)))
    if not distributed.is_main():
        return "ok" if torch.isfinite(x).all() else "non-finite samples"
    if not torch.isfinite(x).all():
        save_samples(out_path, np.zeros((0,), np.uint8), "non-finite samples", meta)
        return "non-finite samples"
    images = images_to_uint8(x).numpy() if x.ndim == 4 else x.numpy()
    save_samples(out_path, images, "ok", meta)
    return "ok"
