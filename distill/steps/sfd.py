"""SFD's pipeline steps: the I/O around its math (distill/methods/sfd.py): a run's student trained from the
teacher (resumable), the GITS baseline's search and samples, the budget curve's evaluations, and the benchmarked
iteration."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import torch

from distill.core import distributed
from distill.core.checkpoint import atomic_write, file_sha256, load_into, load_weights, save_weights
from distill.core.provenance import write_record
from distill.core.samplers import get_sampler
from distill.core.schedule import CosineSchedule
from distill.core.seeding import SeededNoise
from distill.core.sigma_solvers import sigma_denoiser, split_clip
from distill.core.snapshots import Snapshots
from distill.core.training import Part, precision_record, train_parts
from distill.data import load_dataset
from distill.methods import gits, sfd
from distill.metrics.classifier import load_classifier
from distill.pipeline import sample, sfd_curve
from distill.pipeline.common import build_denoiser, load_denoiser, setup_torch
from distill.pipeline.conditions import Draw, is_text_to_image, training_conditions
from distill.pipeline.imported_teacher import artifact_of, load_imported, timing_prompts
from distill.pipeline.sfd_curve import PART, SNAPSHOTS
from distill.pipeline.train_teacher import teacher_step
from distill.registry import TrainingStep
from distill.plugins.sfd import (STUDENT_SAMPLER, curve_iterations, curve_runs, lr_schedule, run_settings,
                                 sampling_record, snapshot_every, solver_steps, step_counts, student_nfe,
                                 teacher_evaluations, train_config)


def sfd_step(student, teacher, settings: dict[str, Any], shape, conditions: Draw, device="cpu",
             features=None, teacher_sampling: dict[str, Any] | None = None, step_condition: bool = False):
    """The step function of one SFD iteration (distill.core.training.train_parts): fresh noise (and the batch's
    labels or prompts, `conditions`: distill/pipeline/conditions.py), the teacher's trajectory, then the student's
    Euler steps with one update each (distill/methods/sfd.py); with `step_condition` the student is given its num_steps as the `steps` condition (SFD-v).
    `teacher_sampling` is a first-stage student's own sampling record (the second stage: Euler, its AFS and step
    condition); otherwise the teacher runs sfd.student.teacher_solver without AFS. Each solver clips x-hat as its
    official code does (sigma_solvers.OFFICIAL_CLIP: the teacher's DPM-Solver++ thresholds dynamically, the Euler
    steps of the student and of a first-stage teacher do not clip), unless its options name a `clip`."""
    counts, batch, m = step_counts(settings), settings["train"]["batch_size"], settings["inserted"]
    grid = settings["grid"]
    if teacher_sampling is not None:  # the first-stage student's Euler, its AFS and any clip it records
        solver = "euler"
        options = {k: v for k, v in teacher_sampling["options"].items() if k in ("afs", "clip")}
        teacher_grid = teacher_sampling["grid_options"]
    else:
        solver, options = settings["teacher_solver"]["sampler"], dict(settings["teacher_solver"]["options"])
        teacher_grid = grid
    teacher_clip, options = split_clip(solver, options)
    student_clip, _ = split_clip(STUDENT_SAMPLER, {})

    def step_fn(ctx):
        n = sfd.draw_num_steps(counts, ctx.gen) if len(counts) > 1 else counts[0]
        sigmas = sfd.student_sigmas(n, grid)
        z = sfd.draw_noise(batch, shape, ctx.gen, device)
        base = conditions(ctx.gen) or {}  # sfd-main trains a text-to-image teacher unguided (guidance_rate 1)
        rows = z.shape[0]
        t_cond = dict(base)
        if teacher_sampling is not None and teacher_sampling.get("step_condition"):
            t_cond["steps"] = torch.full((rows,), float(sfd.teacher_grid_size(n, m)), device=device)
        x0 = z * sigmas[0].to(z.dtype)
        targets = sfd.teacher_targets(teacher, x0, n, m, teacher_grid, solver, options, t_cond or None, teacher_clip)
        s_cond = {**base, **({"steps": torch.full((rows,), float(n), device=device)} if step_condition else {})}
        losses = sfd.student_steps(student, x0, targets, sigmas, settings["afs"],
                                   lambda loss: ctx.update("student", loss), s_cond or None, student_clip,
                                   settings["loss"], features, settings["perceptual"]["weight"] if features else 0.0)
        ctx.count_images(batch)
        return {"loss": torch.stack(losses).mean(), "loss_last": losses[-1]}

    return step_fn


def classifier_features(classifier_path: str | Path, device="cpu"):
    """The second stage's perceptual space at reduced scale: the domain classifier's penultimate features."""
    net = load_classifier(classifier_path, "the domain classifier the second stage's perceptual term needs")
    net.to(device).eval().requires_grad_(False)
    return lambda x: net.forward_features(x)[0]


def perceptual_features(settings: dict[str, Any], classifier: str | None, device="cpu"):
    kind = settings["perceptual"]["kind"]
    if settings["kind"] != "second-stage" or kind == "none":
        if classifier:  # an option the run would ignore is an error, never a silent no-op
            raise ValueError(f"--classifier is read only by a second-stage run whose perceptual term is 'classifier'; "
                             f"this is a {settings['kind']} run (perceptual term {kind!r}): drop --classifier")
        return None
    if kind == "classifier":
        if not classifier:
            raise ValueError("the second stage's perceptual term 'classifier' needs --classifier (the domain "
                             "classifier's model.safetensors)")
        return classifier_features(classifier, device)
    raise ValueError(f"unknown perceptual term {kind!r}; expected 'classifier' or 'none' (the paper's LPIPS needs "
                     "weights this suite cannot fetch)")


def build_student(cfg: dict[str, Any], settings: dict[str, Any], teacher_path: str | Path, device="cpu"):
    """(student denoiser initialised from the teacher, its model config, the teacher, the teacher's config): SFD-v
    gains a zero-initialised `steps` embedding, so its initial student is the teacher exactly."""
    tensors, teacher_cfg = load_weights(teacher_path)
    if teacher_cfg.get("status", "completed") != "completed":
        raise RuntimeError(f"teacher {teacher_path} is {teacher_cfg['status']}: nothing to distil")
    teacher, _ = load_denoiser(teacher_path, device)
    teacher.requires_grad_(False)
    has = list(teacher_cfg["network"].get("scalar_conditions") or [])
    new = ("steps",) if settings["kind"] == "sfd-v" and "steps" not in has else ()
    network = {**teacher_cfg["network"], "scalar_conditions": has + list(new)}
    model_cfg = {**{k: v for k, v in teacher_cfg.items() if k not in ("status", "precision", "sampling")},
                 "kind": "sfd-student", "network": network, "teacher": str(teacher_path),
                 "teacher_sha256": file_sha256(teacher_path),
                 "sampling": sampling_record(settings, "steps" in network["scalar_conditions"]),
                 "distill": {k: v for k, v in settings.items()}, **precision_record(cfg["precision"])}

    torch.manual_seed(settings["seed"])
    student = build_denoiser(model_cfg).to(device)
    load_into(student.net, tensors, teacher_path, new_conditions=new)
    student.train().requires_grad_(True)  # an imported EDM network is built frozen
    return student, model_cfg, teacher, teacher_cfg


def train_student(cfg: dict[str, Any], run: str, teacher_path: str | Path, out_dir: str | Path,
                  classifier: str | None = None, threads: int | None = None, progress: bool = True,
                  prompts: str | Path | None = None) -> dict[str, Any]:
    """Step: one run's student (resumable); for the second stage `teacher_path` is the first-stage student; a
    text-to-image teacher trains on the prompts of the file `prompts`."""
    device = setup_torch(threads, cfg["device"])
    settings, out_dir = run_settings(cfg, run), Path(out_dir)
    student, model_cfg, teacher, teacher_cfg = build_student(cfg, settings, teacher_path, device)
    model_cfg["run"] = run
    first_stage = teacher_cfg.get("sampling") if settings["kind"] == "second-stage" else None
    if settings["kind"] == "second-stage" and first_stage is None:
        raise ValueError(f"the second stage's teacher {teacher_path} is not an SFD student (no sampling record): "
                         "give a first-stage SFD or SFD-v student")
    shape = tuple(model_cfg["data"]["shape"])
    draw = training_conditions(model_cfg, settings["train"]["batch_size"], device, prompts)
    step_fn = sfd_step(student, teacher, settings, shape, draw, device,
                       perceptual_features(settings, classifier, device), first_stage,
                       model_cfg["sampling"]["step_condition"] is not None)
    run_cfg = train_config(settings, settings["seed"], cfg["precision"])
    every = snapshot_every(cfg, run)  # the budget curve's students, saved along training (sfd.curve)
    snapshots = None if every is None else Snapshots(out_dir / SNAPSHOTS, every, (PART,), {PART: model_cfg})
    result, weights = train_parts({"student": Part(student.net, run_cfg, lr_schedule=lr_schedule(settings))},
                                  step_fn, run_cfg, out_dir, desc=f"SFD {run}", progress=progress,
                                  fingerprint=model_cfg, snapshots=snapshots)
    evals_per_iteration = teacher_evaluations(settings, first_stage)
    summary = {**result.summary(), "run": run, "kind": settings["kind"], "profile": cfg["profile"],
               "batch_size": settings["train"]["batch_size"], "trajectories": result.images_seen,
               "teacher_evals": evals_per_iteration * result.steps * settings["train"]["batch_size"],
               "teacher": str(teacher_path)}
    if distributed.is_main():
        save_weights(out_dir / "model.safetensors", weights["student"], {**model_cfg, "status": result.status})
        write_record(out_dir / "summary.json", summary, {"teacher": teacher_path,
                                                         "weights": out_dir / "model.safetensors"})
    return summary


def gits_search(cfg: dict[str, Any], solver: str, nfe: int, teacher_path: str | Path, samples_out: str | Path,
                schedule_out: str | Path, threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Step: GITS (distill/methods/gits.py): the time schedule of `nfe` evaluations for the teacher's solver
    sfd.solvers.<solver>, found on sfd.gits.trajectories teacher trajectories (seeds from first_seed, disjoint from
    the evaluation seeds), then the protocol's samples on it."""
    device = setup_torch(threads, cfg["device"])
    g, section = cfg["sfd"]["gits"], cfg["sfd"]
    s = section["solvers"][solver]
    num_steps = solver_steps(cfg, solver, nfe)
    fine = sfd.student_sigmas(g["teacher_steps"], section["grid"])
    teacher, model_cfg = load_denoiser(teacher_path, device)
    shape, num_classes = tuple(model_cfg["data"]["shape"]), model_cfg["data"]["num_classes"]
    start, cost, batches = time.perf_counter(), None, 0
    first, n, batch = g["first_seed"], g["trajectories"], cfg["sampling"]["batch_size"]
    clip, options = split_clip(g["teacher_solver"]["sampler"], g["teacher_solver"]["options"])
    for lo in range(first, first + n, batch):
        seeds = list(range(lo, min(lo + batch, first + n)))
        z = SeededNoise(seeds, device=device).randn(*shape)
        d = sigma_denoiser(teacher, CosineSchedule(), sample.conditions(seeds, num_classes, {}, device), clip)
        states, directions = gits.teacher_trajectory(d, z * fine[0].to(z.dtype), fine, g["teacher_solver"]["sampler"],
                                                     options)
        part = gits.cost_matrix(states.cpu(), directions.cpu(), fine, g["metric"])
        cost, batches = (part if cost is None else cost + part), batches + 1
    path = gits.dp_schedule(cost / batches, num_steps, g["coeff"])  # gits_utils: the batches' mean cost matrix
    sigmas = [float(v) for v in fine[path]]
    seconds = time.perf_counter() - start
    status = sample.run(cfg, teacher_path, s["sampler"], samples_out, threads, progress, options=dict(s["options"]),
                        sigmas=sigmas)

    teacher_evals = n * (get_sampler(g["teacher_solver"]["sampler"]).nfe(len(fine), g["teacher_solver"]["options"])
                         + len(fine) - 1)
    record = {"solver": solver, "nfe": nfe, "num_steps": num_steps, "indices": path, "sigmas": sigmas,
              "search_seconds": seconds, "trajectories": n, "teacher_evals": teacher_evals, "metric": g["metric"],
              "coeff": g["coeff"], "teacher_steps": g["teacher_steps"], "status": status}
    atomic_write(schedule_out, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))
    return record


def train_command(args, cfg, progress):
    """`distill sfd-train`."""
    summary = train_student(cfg, args.run, args.teacher, args.out, args.classifier, args.threads, progress,
                            args.prompts)
    print(f"SFD {args.run}: {summary['status']} after {summary['steps']} iterations "
          f"({summary['trajectories']} trajectories, {summary['wall_seconds']:.1f} s)")


def gits_command(args, cfg, progress):
    """`distill sfd-gits`."""
    r = gits_search(cfg, args.solver, args.nfe, args.teacher, args.out, args.schedule, args.threads, progress)
    print(f"GITS {args.solver} NFE {args.nfe}: sigmas {[round(v, 4) for v in r['sigmas']]} found in "
          f"{r['search_seconds']:.1f} s; samples {r['status']}")


def curve_command(args, cfg, progress):
    """`distill sfd-curve`."""
    if args.run not in curve_runs(cfg):
        raise ValueError(f"run {args.run!r} has no budget curve: sfd.curve.runs is {curve_runs(cfg)}")

    made = load_weights(args.model)[1].get("run")
    if made != args.run:  # the snapshots beside --model are that run's
        raise ValueError(f"--model {args.model} is the student of SFD run {made!r}, not of {args.run!r}; give run "
                         f"{args.run}'s model.safetensors")
    for r in sfd_curve.run(cfg, curve_iterations(cfg, args.run), step_counts(run_settings(cfg, args.run)), args.model,
                           args.reference, args.extractor_weights, args.out_dir, args.threads, progress):
        m = r.get("metrics") or {}
        print(f"{Path(r['sampling']['model']).stem} at {r['sampling']['steps']} steps: {r['status']}"
              + (f", FID {m['fid']['min']:.3f}" if m else ""))


BENCH_BATCH = 16  # trajectories of the benchmarked iteration: one makes ~12 network passes per trajectory, so a


def training_steps(cfg, device="cpu") -> dict[str, TrainingStep]:
    """One SFD iteration of the first table run (the teacher's trajectory over the fine grid, the student's Euler
    steps and their updates) on at most BENCH_BATCH trajectories, on freshly initialised networks of the profile's
    teacher shape."""
    run = next(iter(cfg["sfd"]["runs"]))
    settings, t = run_settings(cfg, run), cfg["sfd"]["teacher"]
    settings["train"]["batch_size"] = min(settings["train"]["batch_size"], BENCH_BATCH)
    if artifact_of(t):  # an imported EDM network or diffusers pipeline, read where it was imported
        teacher, model_cfg = load_imported(cfg, artifact_of(t), device)
        student = copy.deepcopy(teacher).train().requires_grad_(True)
    else:
        _, model_cfg, _ = teacher_step(cfg, load_dataset(cfg["data"]), t["parameterization"], t["weighting"],
                                       t["seed"])
        torch.manual_seed(0)
        teacher, student = build_denoiser(model_cfg).to(device), build_denoiser(model_cfg).to(device)
    teacher.requires_grad_(False)
    shape = tuple(model_cfg["data"]["shape"])
    prompts = timing_prompts(model_cfg, device) if is_text_to_image(model_cfg) else None
    step_fn = sfd_step(student, teacher, settings, shape,
                       training_conditions(model_cfg, settings["train"]["batch_size"], device, source=prompts), device,
                       step_condition=False)
    n = step_counts(settings)[0]
    passes = (f"{teacher_evaluations(settings):g} teacher forwards + {student_nfe(n, settings['afs'])} student "
              "forward-backward")
    return {"sfd": TrainingStep({"student": Part(student.net, train_config(settings, 0))}, step_fn,
                                settings["train"]["batch_size"], passes, frozen=(teacher,))}
