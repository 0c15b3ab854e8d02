"""Consistency distillation's pipeline steps: the I/O around its math (distill/methods/cd.py): the consistency
model trained from the teacher (resumable) and its samples at the sigmas of a time list."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from distill.experiment_views import experiment_settings
from distill.core.checkpoint import file_sha256, load_into, load_weights, save_weights
from distill.core.provenance import write_record
from distill.core.schedule import CosineSchedule
from distill.core.sigma_solvers import sigma_denoiser
from distill.core.training import Part, TrainConfig, precision_record, train_parts
from distill.data import load_dataset
from distill.methods.batches import Batches, dataset_batches
from distill.methods.cd import cd_loss, ema_into, karras_sigmas, student_denoiser
from distill.nets import IMPORTED_NETWORKS
from distill.pipeline.common import build_denoiser, load_denoiser, setup_torch
from distill.pipeline.conditions import is_text_to_image, training_data
from distill.pipeline.imported_teacher import artifact_of, load_imported, timing_data
from distill.pipeline.sample import run
from distill.pipeline.train_teacher import teacher_step
from distill.registry import TrainingStep
from distill.plugins.cd import SAMPLER, sampling_record, step_counts, step_sigmas


def build_student(cfg: dict[str, Any], exp: dict[str, Any], teacher_path: str | Path, device="cpu"):
    """(student, target, teacher, the student's model config): student and target are the teacher's network with
    its weights (cm_train.py copies the teacher into both), the teacher frozen."""
    tensors, teacher_cfg = load_weights(teacher_path)
    if teacher_cfg.get("status", "completed") != "completed":
        raise RuntimeError(f"teacher {teacher_path} is {teacher_cfg['status']}: nothing to distil")
    teacher, _ = load_denoiser(teacher_path, device)
    teacher.requires_grad_(False)
    model_cfg = {**{k: v for k, v in teacher_cfg.items() if k not in ("status", "precision", "sampling")},
                 "kind": "cd-student", "teacher": str(teacher_path), "teacher_sha256": file_sha256(teacher_path),
                 "network": {**teacher_cfg["network"], **({} if teacher_cfg["network"]["kind"] in IMPORTED_NETWORKS
                                                          else {"dropout": exp["train"]["dropout"]})},
                 "sampling": sampling_record(exp), "distill": {k: v for k, v in exp.items() if k != "multistep"},
                 **precision_record(cfg["precision"])}
    torch.manual_seed(exp["seed"])
    student = build_denoiser(model_cfg).to(device)
    load_into(student.net, tensors, teacher_path)
    student.train().requires_grad_(True)  # an imported EDM network is built frozen
    return student, copy.deepcopy(student), teacher, model_cfg


def cd_step(student, target, teacher, exp: dict[str, Any], batches: Batches):
    """The step function of one CD update: theta- moved to theta (rate mu) after the previous update, a batch (x and
    its conditions: class labels, a prompt's) from `batches`, the CD loss, the student's update (cm/train_util.py
    CMTrainLoop: step, then `_update_target_ema`)."""
    schedule, s = CosineSchedule(), exp["train"]
    sigmas = karras_sigmas(exp["num_scales"], exp["sigma_min"], exp["sigma_max"], exp["rho"], schedule)

    def step_fn(ctx):
        ema_into(target.net, student.net, exp["target_ema"])
        x, cond = batches(ctx.gen)
        loss = cd_loss(student_denoiser(student, exp["sigma_min"], cond, schedule),
                       student_denoiser(target, exp["sigma_min"], cond, schedule),
                       sigma_denoiser(teacher, schedule, cond, "none"), x, sigmas, ctx.gen, exp["distance"],
                       exp["solver"])
        ctx.update("student", loss)
        ctx.count_images(s["batch_size"])
        return {"loss": loss}

    return step_fn


def teacher_evaluations(exp: dict[str, Any]) -> int:
    """Teacher evaluations per training image: Heun's 2 (the official heun_solver), Euler's 1."""
    return 2 if exp["solver"] == "heun" else 1


def train_config(exp: dict[str, Any], precision: str = "fp32"):
    return TrainConfig.from_params({**exp["train"], "steps": exp["updates"], "precision": precision}, exp["seed"])


def train_student(cfg: dict[str, Any], experiment: str, teacher_path: str | Path, out_dir: str | Path,
                  threads: int | None = None, progress: bool = True,
                  captions: str | Path | None = None) -> dict[str, Any]:
    """Step: the consistency model of one experiment (resumable: student, target and optimizer are checkpointed); a
    text-to-image teacher trains on the caption latents of the folder `captions`."""
    device = setup_torch(threads, cfg["device"])
    exp, out_dir = experiment_settings(cfg, "cd", experiment), Path(out_dir)
    student, target, teacher, model_cfg = build_student(cfg, exp, teacher_path, device)
    model_cfg["experiment"] = experiment
    s = exp["train"]
    data = training_data(model_cfg, cfg["data"], s["batch_size"], s["random_flip"], device, captions)
    step_fn = cd_step(student, target, teacher, exp, data.batches)
    run_cfg = train_config(exp, cfg["precision"])
    result, weights = train_parts({"student": Part(student.net, run_cfg), "target": Part(target.net, run_cfg)},
                                  step_fn, run_cfg, out_dir, desc=f"CD {experiment}", progress=progress,
                                  fingerprint=model_cfg)
    summary = {**result.summary(), "experiment": experiment, "profile": cfg["profile"],
               "batch_size": exp["train"]["batch_size"], "num_scales": exp["num_scales"],
               "teacher_evals": teacher_evaluations(exp) * result.images_seen, "teacher": str(teacher_path)}
    save_weights(out_dir / "model.safetensors", weights["student"], {**model_cfg, "status": result.status})
    write_record(out_dir / "summary.json", summary, {"teacher": teacher_path, "weights": out_dir / "model.safetensors"})
    return summary


def sample_student(cfg: dict[str, Any], experiment: str, model: str | Path, steps: int, out: str | Path,
                   threads: int | None = None, progress: bool = True) -> str:
    """Step: the evaluation samples of a consistency model with the official multistep sampler at the sigmas of the
    experiment's time list for `steps` (distill.pipeline.sample: seeds, batches, status)."""
    exp = experiment_settings(cfg, "cd", experiment)
    if steps not in step_counts(exp):
        raise ValueError(f"--steps {steps}: cd.experiments.{experiment}.multistep has time lists for "
                         f"{step_counts(exp)} steps")
    return run(cfg, model, SAMPLER, out, threads, progress, sigmas=step_sigmas(exp, steps))


def train_command(args, cfg, progress):
    """`distill cd-train`."""
    summary = train_student(cfg, args.experiment, args.teacher, args.out, args.threads, progress, args.captions)
    print(f"{summary['status']} after {summary['steps']} updates")


def sample_command(args, cfg, progress):
    """`distill cd-sample`."""
    status = sample_student(cfg, args.experiment, args.model, args.steps, args.out, args.threads, progress)
    print(f"{args.steps}-step samples: {status}")


def training_steps(cfg, device="cpu") -> dict[str, TrainingStep]:
    """One CD update of the first experiment on its teacher's architecture, freshly initialised, or an imported
    teacher's network (the cost does not depend on the weights): student forward + backward, the target's forward, the teacher's Heun step."""
    exp = next(iter(cfg["cd"]["experiments"].values()))
    t, s = exp["teacher"], exp["train"]
    if artifact_of(t):  # an imported EDM network or diffusers pipeline, read where it was imported
        teacher, model_cfg = load_imported(cfg, artifact_of(t), device)
        batches = timing_data(model_cfg, s["batch_size"], device).batches if is_text_to_image(model_cfg) else \
            dataset_batches(load_dataset(cfg["data"]), s["batch_size"], s["random_flip"], device)
    else:
        data = load_dataset(cfg["data"])
        teacher, _, _ = teacher_step(cfg, data, t["parameterization"], t["weighting"], t["seed"])
        teacher = teacher.to(device).eval().requires_grad_(False)
        batches = dataset_batches(data, s["batch_size"], s["random_flip"], device)
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    target = copy.deepcopy(student)
    torch.manual_seed(exp["seed"])
    run_cfg = train_config(exp)
    step_fn = cd_step(student, target, teacher, exp, batches)
    passes = "1 forward + 1 backward (student), 1 forward (target), " + \
        ("2 forwards (teacher's Heun step)" if exp["solver"] == "heun" else "1 forward (teacher's Euler step)")
    return {"cd": TrainingStep({"student": Part(student.net, run_cfg), "target": Part(target.net, run_cfg)},
                               step_fn, exp["train"]["batch_size"], passes, frozen=(teacher.net,))}
