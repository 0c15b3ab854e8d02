"""Guided distillation's pipeline steps: the I/O around its math (distill/methods/guided.py): stage one (the
w-conditioned or fixed-w student of the guided teacher), each halving round (the shared round step,
distill/pipeline/distill_round.py), the w sweeps, and the benchmarked steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from distill.experiment_views import experiment_profile, experiment_settings
from distill.core import distributed
from distill.core.checkpoint import file_sha256, load_into, load_weights, save_weights
from distill.core.provenance import write_record
from distill.core.training import Part, SINGLE, TrainConfig, one_loss_step, precision_record, train
from distill.data import load_dataset
from distill.methods.batches import dataset_batches
from distill.methods.guided import label_guide, make_stage_one_loss, prompt_guide, round_loss
from distill.pipeline import distill_round, evaluate
from distill.pipeline.common import build_denoiser, load_denoiser, setup_torch
from distill.pipeline.conditions import TrainingData, is_text_to_image, training_data
from distill.pipeline.distill_round import distillation_step
from distill.pipeline.imported_teacher import load_imported, pipeline_of, timing_data
from distill.pipeline.train_teacher import SUMMARY, WEIGHTS, teacher_step
from distill.registry import TrainingStep
from distill.plugins.guided import (KIND_ROUND, KIND_STAGE_ONE, W_LINE, line_w_range, model_path_of, round_settings,
                                    round_updates, stage_one_settings, wtag)
from distill.plugins.guided_commands import parse_weights


def student_config(teacher_cfg: dict[str, Any], exp: dict[str, Any], experiment: str, line: str) -> dict[str, Any]:
    """The stage-one student's model config: the teacher's network with a `w` scalar condition added (a fixed-w line
    keeps the input, constant: one code path) and the distillation's dropout."""
    network = dict(teacher_cfg["network"])
    network["scalar_conditions"] = list(network.get("scalar_conditions") or []) + ["w"]
    network["condition_scales"] = {**(network.get("condition_scales") or {}), "w": exp["stage_one"]["w_embedding_scale"]}
    network["dropout"] = exp["train"]["dropout"]
    cfg = {k: v for k, v in teacher_cfg.items() if k not in ("status", "precision")}
    return {**cfg, "kind": KIND_STAGE_ONE, "experiment": experiment, "line": line,
            "w_range": list(line_w_range(exp, line)), "network": network}


def stage_one_step(exp: dict[str, Any], data: TrainingData, model_cfg: dict[str, Any], teacher, line: str,
                   null_label: int | None, device="cpu"):
    """A freshly initialised stage-one student (seeded; `train_stage_one` then loads the teacher's weights, the new
    w embedding zeroed) and its loss against the guided teacher on `data`'s batches: what stage one trains and the
    benchmarks time. The teacher is guided with its null label, or a text-to-image teacher with its unconditional
    prompt (`data.null`)."""
    torch.manual_seed(exp["seed"])
    student = build_denoiser(model_cfg).to(device)
    student.train().requires_grad_(True)  # an imported network (a diffusers UNet) is built frozen
    guide = prompt_guide(data.null) if data.null is not None else label_guide(null_label)
    loss_fn = make_stage_one_loss(student, teacher, data.batches, line_w_range(exp, line),
                                  exp["stage_one"]["weighting"], guide)
    return student, loss_fn


def train_stage_one(cfg: dict[str, Any], experiment: str, line: str, teacher_path: str | Path, out_dir: str | Path,
                    threads: int | None = None, progress: bool = True,
                    captions: str | Path | None = None) -> dict[str, Any]:
    """Step: stage one of a line (resumable): the w-conditioned student from the guided teacher's weights; a
    text-to-image teacher trains on the caption latents of the folder `captions`."""
    device = setup_torch(threads, cfg["device"])
    exp, out_dir = experiment_settings(cfg, "guided", experiment), Path(out_dir)
    tensors, teacher_cfg = load_weights(teacher_path)
    if teacher_cfg.get("status", "completed") != "completed":
        raise RuntimeError(f"teacher {teacher_path} is {teacher_cfg['status']}: nothing to distil")
    if not is_text_to_image(teacher_cfg) and not teacher_cfg["network"].get("null_label"):
        raise ValueError(f"{teacher_path} has no null label: guided distillation needs a teacher trained with label "
                         "dropout (network.null_label and teacher_training.label_dropout of the experiment)")
    settings = stage_one_settings(exp)
    model_cfg = {**student_config(teacher_cfg, exp, experiment, line),
                 "teacher": str(teacher_path), "teacher_sha256": file_sha256(teacher_path),
                 "distill": {"seed": exp["seed"], **settings}}
    model_cfg.update(precision_record(cfg["precision"]))
    data_cfg = experiment_profile(cfg, "guided", experiment)["data"]
    if not is_text_to_image(teacher_cfg) and not data_cfg.get("conditional"):
        raise ValueError("guided distillation needs class-conditional data: set data.conditional: true in the "
                         "experiment's data section")
    data = training_data(model_cfg, data_cfg, exp["train"]["batch_size"], exp["train"]["random_flip"], device,
                         captions)
    teacher, _ = load_denoiser(teacher_path, device)
    teacher.requires_grad_(False)
    null_label = None if is_text_to_image(teacher_cfg) else teacher_cfg["data"]["num_classes"]  # after the last class
    student, loss_fn = stage_one_step(exp, data, model_cfg, teacher, line, null_label, device)
    load_into(student.net, tensors, teacher_path, new_conditions=("w",))  # the conditional teacher, bit for bit
    result, weights = train(student.net, loss_fn,
                            TrainConfig.from_params({**exp["train"], "steps": settings["updates"],
                                                     "precision": cfg["precision"]}, exp["seed"]), out_dir,
                            desc=f"guided {experiment} stage one ({line})", progress=progress, fingerprint=model_cfg)
    summary = {**result.summary(), "experiment": experiment, "line": line, "profile": cfg["profile"],
               "w_range": list(line_w_range(exp, line)), "batch_size": exp["train"]["batch_size"],
               # network evaluations: the guided teacher's two per image (conditional and unconditional)
               "teacher_forwards": 2 * result.images_seen}
    if distributed.is_main():
        save_weights(out_dir / WEIGHTS, weights, {**model_cfg, "status": result.status})
        write_record(out_dir / SUMMARY, summary, {"teacher": teacher_path, "weights": out_dir / WEIGHTS})
    return summary


def run_round(cfg: dict[str, Any], experiment: str, line: str, student_steps: int, teacher_path: str | Path,
              out_dir: str | Path, threads: int | None = None, progress: bool = True,
              captions: str | Path | None = None) -> dict[str, Any]:
    """Step: one stage-two round of a line (PD's round step with w drawn per sample and given to both networks); a
    text-to-image teacher's students train on the caption latents of the folder `captions`."""
    exp = experiment_settings(cfg, "guided", experiment)
    _, teacher_cfg = load_weights(teacher_path)
    if teacher_cfg.get("kind") not in (KIND_STAGE_ONE, KIND_ROUND):
        raise ValueError(f"{teacher_path} is not a guided-distillation student (kind {teacher_cfg.get('kind')!r}): a "
                         "round distils the stage-one student or the previous round's")
    n_teacher = distill_round.teacher_sampler_steps(teacher_cfg, exp["stage_two"]["start_steps"], KIND_ROUND)
    return distill_round.run_round(cfg, experiment_profile(cfg, "guided", experiment), experiment, round_settings(exp),
                                   student_steps, round_updates(exp, student_steps), n_teacher, teacher_path, out_dir,
                                   kind=KIND_ROUND, desc=f"guided {experiment} ({line})",
                                   loss=round_loss(line_w_range(exp, line)), threads=threads,
                                   progress=progress, captions=captions)


def sweep(cfg: dict[str, Any], experiment: str, model: str, sampler: str, steps: int, weights: list[float],
          reference: str, extractor_weights: str | None, out_dir: str | Path, threads: int | None = None,
          progress: bool = True) -> list[dict[str, Any]]:
    """Step: sample and evaluate one model with one sampler at every w of `weights` (one job, so the extractor and
    the reference load once): a guided teacher is wrapped in classifier-free guidance at w, a student is given w as
    its condition. Writes <out_dir>/w<w>.json (metrics record, `guidance` in its sampling record) and .png."""
    exp = experiment_settings(cfg, "guided", experiment)
    ecfg = {**cfg, "evaluation": {**cfg["evaluation"], "kid_subsets": exp["kid_subsets"]}}
    weights_path = model_path_of(model, out_dir, cfg, experiment)
    _, model_cfg = load_weights(weights_path)
    student = "w" in (model_cfg["network"].get("scalar_conditions") or [])
    points = [(f"w{wtag(w)}", weights_path, {"sampler": sampler, "steps": steps,
                                              **({"cond": {"w": w}} if student else {"guidance": w})})
              for w in weights]
    return evaluate.evaluate_points(ecfg, points, reference, extractor_weights, out_dir, threads, progress)


def stage_one_command(args, cfg, progress):
    """`distill guided-stage-one`."""
    s = train_stage_one(cfg, args.experiment, args.line, args.teacher, args.out, args.threads, progress,
                        args.captions)
    print(f"{s['status']} after {s['steps']} updates")


def round_command(args, cfg, progress):
    """`distill guided-round`."""
    s = run_round(cfg, args.experiment, args.line, args.student_steps, args.teacher, args.out, args.threads, progress,
                  args.captions)
    print(f"{s['status']} after {s['steps']} updates")


def sweep_command(args, cfg, progress):
    """`distill guided-sweep`."""
    records = sweep(cfg, args.experiment, args.model, args.sampler, args.steps, parse_weights(args.weights),
                    args.reference, args.extractor_weights, args.out_dir, args.threads, progress)
    for r in records:
        m = r.get("metrics") or {}
        print(f"w {r['sampling'].get('guidance', r['sampling'].get('cond_w'))}: {r['status']}"
              + (f", FID {m['fid']['min']:.3f}, IS {m['is']['min']:.3f}" if m else ""))


def training_steps(cfg, device="cpu") -> dict[str, TrainingStep]:
    """One update of stage one (the guided teacher's two evaluations, the student's forward and backward) and one of
    a stage-two round (the w-student teacher's two DDIM steps), on freshly initialised networks of the first
    experiment's shapes."""
    name = next(iter(cfg["guided"]["experiments"]))
    exp, ecfg = cfg["guided"]["experiments"][name], experiment_profile(cfg, "guided", name)
    s, b = exp["train"], exp["train"]["batch_size"]
    pipeline = pipeline_of(cfg, "guided")  # a text_to_image experiment's teacher, imported
    if pipeline:
        teacher, teacher_cfg = load_imported(cfg, pipeline, device)
        data, null_label = timing_data(teacher_cfg, b, device), None
    else:
        dataset = load_dataset(ecfg["data"])
        _, teacher_cfg, _ = teacher_step(ecfg, dataset, exp["parameterization"], exp["teacher_weighting"],
                                         exp["seed"])
        torch.manual_seed(exp["seed"])
        teacher = build_denoiser(teacher_cfg).to(device).requires_grad_(False)
        data, null_label = TrainingData(dataset_batches(dataset, b, s["random_flip"], device)), dataset.num_classes
    student_cfg = student_config(teacher_cfg, exp, name, W_LINE)
    batches = data.batches
    stage_one, loss_one = stage_one_step(exp, data, student_cfg, teacher, W_LINE, null_label, device)
    w_teacher = build_denoiser(student_cfg).to(device).requires_grad_(False)
    n = exp["stage_two"]["start_steps"] // 2
    rounder, loss_round = distillation_step(round_settings(exp), batches, student_cfg, w_teacher, n, device,
                                            round_loss(tuple(exp["w_range"])))
    return {
        "stage_one": TrainingStep({SINGLE: Part(stage_one.net, TrainConfig.from_params(
            {**s, "steps": exp["stage_one"]["updates"]}))}, one_loss_step(stage_one.net, loss_one, b), b,
            "2 teacher forwards (guided) + 1 forward + 1 backward", frozen=(teacher,)),
        "round": TrainingStep({SINGLE: Part(rounder.net, TrainConfig.from_params(
            {**s, "steps": exp["stage_two"]["updates_per_round"]}))}, one_loss_step(rounder.net, loss_round, b), b,
            "2 teacher forwards + 1 forward + 1 backward", frozen=(w_teacher,)),
    }
