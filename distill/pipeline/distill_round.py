"""Step: one round of Progressive Distillation (PD Algorithm 2): a student of N steps from a teacher of 2N steps;
shared by PD and guided distillation's stage two (whose students also take a guidance weight w).

The student starts from the teacher's weights (same architecture; dropout from pd.<experiment>.train), the optimizer
is new and the learning rate anneals linearly to 0 over the round. The teacher is the previous round's student, or
the trained teacher for the first round. The round's wall time and images processed are recorded for the cost table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from distill.errors import ConfigError
from distill.core import distributed
from distill.core.checkpoint import file_sha256, load_into, load_weights, save_weights
from distill.core.provenance import write_record
from distill.core.denoiser import NetworkDenoiser
from distill.core.training import LossFn, TrainConfig, precision_record, train
from distill.methods.batches import Batches
from distill.methods.progressive import distillation_loss
from distill.pipeline.common import build_denoiser, load_denoiser, setup_torch
from distill.pipeline.conditions import training_data
from distill.pipeline.train_teacher import SUMMARY, WEIGHTS


def teacher_sampler_steps(teacher_cfg: dict[str, Any], start_steps: int, kind: str = "pd-student") -> int:
    """Steps of the sampler the student imitates: a previous round's student's own steps (a model of `kind`), or
    `start_steps` for the first round's teacher (pd.<experiment>.teacher_steps)."""
    return teacher_cfg["steps"] if teacher_cfg.get("kind") == kind else start_steps


# a round's loss of a batch: (student, teacher, x, student steps, weighting, generator, conditions, times per step) ->
# loss; PD's is distill.methods.progressive.distillation_loss
BatchLoss = Callable[..., torch.Tensor]


def run_round(cfg: dict[str, Any], ecfg: dict[str, Any], experiment: str, exp: dict[str, Any], student_steps: int,
              updates: int, n_teacher: int, teacher_path: str | Path, out_dir: str | Path, kind: str, desc: str,
              loss: BatchLoss = distillation_loss, threads: int | None = None,
              progress: bool = True, captions: str | Path | None = None) -> dict[str, Any]:
    """One halving round of any method that distils rounds (PD; guided distillation's stage two, whose `loss` draws
    a w per sample: distill.methods.guided.round_loss): `exp` gives train, weighting and seed; `ecfg` the profile as
    the experiment sees it (its data); the student is a model of `kind` with `student_steps` steps, the teacher
    samples with `n_teacher` steps. A text-to-image teacher trains on its caption latents, the folder `captions`."""
    device = setup_torch(threads, cfg["device"])
    out_dir = Path(out_dir)
    teacher_tensors, teacher_cfg = load_weights(teacher_path)
    if n_teacher != 2 * student_steps:
        raise ConfigError(f"{teacher_path} samples with {n_teacher} steps; a student of {student_steps} steps "
                          f"distils a teacher of {2 * student_steps}")
    settings = exp["train"]
    model_cfg = {
        **teacher_cfg, "kind": kind, "experiment": experiment, "steps": student_steps,
        "teacher": str(teacher_path), "teacher_sha256": file_sha256(teacher_path),
        "network": {**teacher_cfg["network"], "dropout": settings["dropout"]},
        "distill": {"weighting": exp["weighting"], "updates": updates, "seed": exp["seed"], **settings,
                    # the stochastic sampler's times between the grid's (guided distillation), where asked for
                    **({"times_per_step": exp["times_per_step"]} if exp.get("times_per_step", 1) != 1 else {})},
    }
    model_cfg.pop("status", None)
    model_cfg.pop("precision", None)  # the teacher's
    model_cfg.pop("sampling", None)  # a stage-one student's record: a round student samples with its own steps
    model_cfg.update(precision_record(cfg["precision"]))
    base = {"experiment": experiment, "student_steps": student_steps, "teacher_steps": n_teacher,
            "profile": cfg["profile"], "batch_size": settings["batch_size"]}
    if teacher_cfg.get("status", "completed") != "completed":  # nothing to distil: carry the failure forward
        summary = {**base, "status": f"teacher {teacher_cfg['status']}", "steps": 0, "wall_seconds": 0.0,
                   "images_seen": 0}
        if distributed.is_main():
            save_weights(out_dir / WEIGHTS, teacher_tensors, {**model_cfg, "status": summary["status"]})
            write_record(out_dir / SUMMARY, summary, {"teacher": teacher_path, "weights": out_dir / WEIGHTS})
        return summary

    data = training_data(model_cfg, ecfg["data"], settings["batch_size"], settings["random_flip"], device, captions)
    teacher, _ = load_denoiser(teacher_path, device)
    teacher.requires_grad_(False)
    student, loss_fn = distillation_step(exp, data.batches, model_cfg, teacher, student_steps, device, loss)
    load_into(student.net, teacher_tensors, teacher_path)  # theta <- eta
    train_cfg = TrainConfig.from_params({**settings, "steps": updates, "precision": cfg["precision"]}, exp["seed"])
    result, weights = train(student.net, loss_fn, train_cfg, out_dir,
                            desc=f"{desc} {n_teacher}->{student_steps}", progress=progress, fingerprint=model_cfg)
    summary = {**result.summary(), **base,
               # network evaluations per image: 2 teacher forwards + 1 student forward and backward
               "teacher_forwards": 2 * result.images_seen}
    if distributed.is_main():  # rank 0 writes the results of a data-parallel run
        save_weights(out_dir / WEIGHTS, weights, {**model_cfg, "status": result.status})
        write_record(out_dir / SUMMARY, summary, {"teacher": teacher_path, "weights": out_dir / WEIGHTS})
    return summary


def distillation_step(exp: dict[str, Any], batches: Batches, model_cfg: dict[str, Any], teacher: NetworkDenoiser,
                      student_steps: int, device: torch.device | str = "cpu",
                      loss: BatchLoss = distillation_loss) -> tuple[NetworkDenoiser, LossFn]:
    """A freshly initialised student (seeded; `run_round` then copies the teacher's weights into it) and its round
    loss against the frozen `teacher` on `batches` (x and its conditions): what a round trains and the throughput
    benchmarks time. `exp` gives train, weighting and seed, and optionally times_per_step
    (`distill.methods.progressive.student_times`)."""
    torch.manual_seed(exp["seed"])
    student = build_denoiser(model_cfg).to(device)
    student.train().requires_grad_(True)  # an imported network (a diffusers UNet) is built frozen

    def loss_fn(net, gen: torch.Generator) -> torch.Tensor:
        x, cond = batches(gen)
        return loss(student, teacher, x, student_steps, exp["weighting"], gen, cond, exp.get("times_per_step", 1))

    return student, loss_fn
