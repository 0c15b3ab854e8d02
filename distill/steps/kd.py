"""Knowledge distillation's pipeline steps: the I/O around its math (distill/methods/kd.py): the teacher's (z_1, x)
pairs, the one-step student trained on them (resumable), and the benchmarked update."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from distill.experiment_views import experiment_settings
from distill.core import distributed
from distill.core.checkpoint import atomic_write, file_sha256, load_into, load_weights, save_weights
from distill.core.provenance import provenance, write_record
from distill.core.training import Part, SINGLE, TrainConfig, one_loss_step, precision_record, train
from distill.data import load_dataset
from distill.data.npz import read_npz
from distill.methods.kd import make_kd_loss, teacher_pairs
from distill.pipeline.common import build_denoiser, load_denoiser, setup_torch
from distill.pipeline.sample import conditions
from distill.pipeline.train_teacher import teacher_step
from distill.registry import TrainingStep


def make_pairs(cfg: dict[str, Any], experiment: str, teacher_path: str | Path, out: str | Path,
               threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Step: the teacher's (z_1, x) pairs, x its teacher_steps-step DDIM sample (seeds from pairs_first_seed, so
    disjoint from the evaluation seeds), written atomically with the cost of making them."""
    device = setup_torch(threads, cfg["device"])
    exp = experiment_settings(cfg, "kd", experiment)
    _, teacher_cfg = load_weights(teacher_path)
    if teacher_cfg.get("status", "completed") != "completed":
        raise RuntimeError(f"teacher {teacher_path} is {teacher_cfg['status']}: nothing to distil")
    teacher, model_cfg = load_denoiser(teacher_path, device)
    teacher.requires_grad_(False)
    shape, num_classes = tuple(model_cfg["data"]["shape"]), model_cfg["data"]["num_classes"]
    first, n, batch = exp["pairs_first_seed"], exp["pairs"], cfg["sampling"]["batch_size"]
    start, zs, xs = time.perf_counter(), [], []
    for lo in tqdm(range(first, first + n, batch), desc=f"KD pairs ({exp['teacher_steps']} DDIM steps)",
                   disable=not progress):
        seeds = list(range(lo, min(lo + batch, first + n)))
        z, x = teacher_pairs(teacher, shape, seeds, exp["teacher_steps"], conditions(seeds, num_classes, {}, device),
                             cfg["sampling"]["clip_x"], device)
        zs.append(z.float().cpu())
        xs.append(x.float().cpu())
    z, x = torch.cat(zs), torch.cat(xs)
    if not torch.isfinite(x).all():
        raise RuntimeError(f"teacher {teacher_path} gave non-finite samples; no pairs written")
    info = {"pairs": n, "first_seed": first, "teacher_steps": exp["teacher_steps"], "teacher": str(teacher_path),
            "teacher_sha256": file_sha256(teacher_path), "wall_seconds": time.perf_counter() - start,
            "teacher_evals": n * exp["teacher_steps"], "provenance": json.dumps(provenance({"teacher": teacher_path}))}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, z=z.numpy(), x=x.numpy(), **{k: np.array(v) for k, v in info.items()})

    atomic_write(out, write)
    return info


def train_student(cfg: dict[str, Any], experiment: str, teacher_path: str | Path, pairs_path: str | Path,
                  out_dir: str | Path, threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Step: the one-step student, initialised from the teacher, trained on the pairs (resumable)."""
    device = setup_torch(threads, cfg["device"])
    exp, out_dir = experiment_settings(cfg, "kd", experiment), Path(out_dir)
    tensors, teacher_cfg = load_weights(teacher_path)
    info_keys = ("pairs", "wall_seconds", "teacher_evals", "teacher_steps")
    f = read_npz(pairs_path, "KD pairs file (written by `distill kd-pairs`)", required=("z", "x", *info_keys))
    z, x, pairs_info = torch.from_numpy(f["z"]), torch.from_numpy(f["x"]), {k: f[k].item() for k in info_keys}
    settings = exp["train"]
    model_cfg = {**teacher_cfg, "kind": "kd-student", "experiment": experiment, "steps": 1,
                 "teacher": str(teacher_path), "teacher_sha256": file_sha256(teacher_path),
                 "pairs_sha256": file_sha256(pairs_path),
                 "network": {**teacher_cfg["network"], "dropout": settings["dropout"]},
                 "distill": {"updates": exp["updates"], "seed": exp["seed"], **settings}}
    model_cfg.pop("status", None)
    model_cfg.pop("precision", None)  # the teacher's
    model_cfg.update(precision_record(cfg["precision"]))
    student, loss_fn = kd_step(exp, model_cfg, z.to(device), x.to(device), device)
    load_into(student.net, tensors, teacher_path)  # initialised from the teacher
    result, weights = train(student.net, loss_fn,
                            TrainConfig.from_params({**settings, "steps": exp["updates"],
                                                     "precision": cfg["precision"]}, exp["seed"]), out_dir,
                            desc=f"KD {experiment}", progress=progress, fingerprint=model_cfg)
    summary = {**result.summary(), "experiment": experiment, "profile": cfg["profile"], "pairs": pairs_info["pairs"],
               "pairs_wall_seconds": pairs_info["wall_seconds"], "teacher_evals": pairs_info["teacher_evals"],
               "teacher_steps": pairs_info["teacher_steps"], "batch_size": settings["batch_size"]}
    if distributed.is_main():  # rank 0 writes the results of a data-parallel run
        save_weights(out_dir / "model.safetensors", weights, {**model_cfg, "status": result.status})
        write_record(out_dir / "summary.json", summary, {"teacher": teacher_path, "pairs": pairs_path,
                                                         "weights": out_dir / "model.safetensors"})
    return summary


def kd_step(exp: dict[str, Any], model_cfg: dict[str, Any], z, x, device="cpu"):
    """A freshly initialised student (seeded; `train_student` then copies the teacher's weights into it) and its
    regression loss on the pairs (z, x): what `train_student` trains and the throughput benchmarks time."""
    torch.manual_seed(exp["seed"])
    student = build_denoiser(model_cfg).to(device)
    return student, make_kd_loss(student, z, x, exp["train"]["batch_size"])


def pairs_command(args, cfg, progress):
    """`distill kd-pairs`."""
    info = make_pairs(cfg, args.experiment, args.teacher, args.out, args.threads, progress)
    print(f"{info['pairs']} pairs in {info['wall_seconds']:.1f} s ({info['teacher_evals']} teacher evaluations)")


def train_command(args, cfg, progress):
    """`distill kd-train`."""
    summary = train_student(cfg, args.experiment, args.teacher, args.pairs, args.out, args.threads, progress)
    print(f"{summary['status']} after {summary['steps']} updates")


def training_steps(cfg, device="cpu") -> dict[str, TrainingStep]:
    """One update of the first experiment's one-step student (a batch of pairs, Luhman & Luhman's regression,
    backward, clipping, AdamW, EMA); the pairs are random stand-ins of the teacher's (the cost does not depend on
    their values)."""
    exp = next(iter(cfg["kd"]["experiments"].values()))
    s, data = exp["train"], load_dataset(cfg["data"])
    _, model_cfg, _ = teacher_step(cfg, data, exp["parameterization"], exp["teacher_weighting"], exp["seed"])
    gen = torch.Generator().manual_seed(exp["seed"])
    z, x = torch.randn(exp["pairs"], *data.shape, generator=gen), torch.rand(exp["pairs"], *data.shape, generator=gen)
    student_cfg = {**model_cfg, "network": {**model_cfg["network"], "dropout": s["dropout"]}}
    student, loss_fn = kd_step(exp, student_cfg, z.to(device), (2 * x - 1).to(device), device)
    return {"kd": TrainingStep({SINGLE: Part(student.net, TrainConfig.from_params({**s, "steps": exp["updates"]}))},
                               one_loss_step(student.net, loss_fn, s["batch_size"]), s["batch_size"],
                               "1 forward + 1 backward")}
