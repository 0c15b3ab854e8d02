"""Progressive Distillation's steps: one round of pd.experiments.<experiment> (the shared round step,
distill/pipeline/distill_round.py, with PD's settings), its command, and the benchmarked update."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.experiment_views import experiment_profile, method_experiments
from distill.core.checkpoint import load_weights
from distill.core.training import Part, SINGLE, TrainConfig, one_loss_step
from distill.data import load_dataset
from distill.methods.batches import dataset_batches
from distill.pipeline import distill_round
from distill.pipeline.imported_teacher import load_imported, pipeline_of, timing_data
from distill.pipeline.train_teacher import teacher_step
from distill.plugins.pd_layout import round_updates
from distill.registry import TrainingStep


def run_round(cfg: dict[str, Any], experiment: str, student_steps: int, teacher_path: str | Path, out_dir: str | Path,
        threads: int | None = None, progress: bool = True, captions: str | Path | None = None) -> dict[str, Any]:
    """One PD round of pd.experiments.<experiment> (`run_round` with PD's settings); a text-to-image teacher trains
    on the caption latents of the folder `captions`."""
    exp = method_experiments(cfg, "pd")[experiment]
    _, teacher_cfg = load_weights(teacher_path)
    return distill_round.run_round(cfg, experiment_profile(cfg, "pd", experiment), experiment, exp, student_steps,
                     round_updates(exp, student_steps), distill_round.teacher_sampler_steps(teacher_cfg, exp["teacher_steps"]),
                     teacher_path, out_dir, kind="pd-student", desc=f"PD {experiment}", threads=threads,
                     progress=progress, captions=captions)


def round_command(args, cfg, progress):
    """`distill pd-round`."""
    summary = run_round(cfg, args.experiment, args.student_steps, args.teacher, args.out, args.threads, progress,
                        args.captions)
    print(f"{summary['status']} after {summary['steps']} updates")


def training_steps(cfg, device="cpu") -> dict[str, TrainingStep]:
    """One update of the first round of the first experiment (Algorithm 2: two DDIM steps of the frozen teacher, the
    target, the student's loss, backward, clipping, AdamW), the teacher a fresh Table 1 teacher, or the imported
    pipeline of the text_to_image experiment the profile is seen as."""
    name, exp = next(iter(cfg["pd"]["experiments"].items()))
    ecfg, s, student_steps = experiment_profile(cfg, "pd", name), exp["train"], exp["teacher_steps"] // 2
    pipeline = pipeline_of(cfg, "pd")  # a text_to_image experiment's teacher, imported
    if pipeline:
        teacher, model_cfg = load_imported(cfg, pipeline, device)
        batches = timing_data(model_cfg, s["batch_size"], device).batches
    else:
        data = load_dataset(ecfg["data"])
        teacher, model_cfg, _ = teacher_step(ecfg, data, exp["parameterization"], exp["teacher_weighting"],
                                             exp["seed"], device)
        teacher.eval().requires_grad_(False)
        batches = dataset_batches(data, s["batch_size"], s["random_flip"], device)
    student_cfg = {**model_cfg, "network": {**model_cfg["network"], "dropout": s["dropout"]}}
    student, loss_fn = distill_round.distillation_step(exp, batches, student_cfg, teacher, student_steps, device)
    tcfg = TrainConfig.from_params({**s, "steps": round_updates(exp, student_steps)})  # the round's lr anneal
    return {"distillation": TrainingStep({SINGLE: Part(student.net, tcfg)},
                                         one_loss_step(student.net, loss_fn, s["batch_size"]), s["batch_size"],
                                         "2 teacher forwards without gradient + 1 student forward and backward",
                                         frozen=(teacher.net,))}
