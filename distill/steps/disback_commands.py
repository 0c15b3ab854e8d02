"""DisBack's command handlers and benchmarked steps, over its pipeline steps (distill/steps/disback.py: the path,
the generators, their evaluation points; distill/steps/disback_toy2d.py: the 2-D comparison with exact truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from distill.core.checkpoint import atomic_write
from distill.core.denoiser import SigmaFormDenoiser
from distill.core.training import Part
from distill.data import load_dataset
from distill.methods.disback import ScoreDistillation, degradation_step, score_distillation_step
from distill.pipeline import evaluate, sample
from distill.pipeline.common import build_denoiser, setup_torch
from distill.pipeline.imported_teacher import artifact_of, load_imported, timing_prompts
from distill.pipeline.train_teacher import teacher_step
from distill.registry import TrainingStep
from distill.plugins.disback import recorded, run_settings
from distill.steps import disback
from distill.pipeline.conditions import is_text_to_image, training_conditions
from distill.steps.disback import train_config


def path_command(args, cfg, progress):
    """`distill disback-path`."""
    device = setup_torch(args.threads, cfg["device"])
    exp = recorded(cfg["disback"]["experiments"][args.experiment])
    s = disback.record_path(exp, Path(args.teacher), Path(args.out), device, progress, cfg["precision"], args.prompts)
    print(f"{s['status']}: {s['nodes']} + 1 nodes every {s['interval']} steps")


def _nodes(exp, r, args):
    """A DisBack run's path nodes (--path required); a baseline run reads none, and --path on it is an error."""
    if r["method"] != "disback":
        if args.path:
            raise ValueError(f"--path is read only by DisBack's runs; {args.run} is a {r['method']} run, which trains "
                             "without the degradation path: drop --path")
        return None
    if not args.path:
        raise ValueError("DisBack needs its degradation path: give --path (the folder disback-path wrote)")
    return disback.path_nodes(Path(args.path), r["nodes"], exp["path"]["interval"])


def _check_run_dir(run_dir: Path, run: str, r: dict[str, Any]) -> None:
    """--run-dir holds the run --run names: its summary records the same method, seed, nodes and interval."""
    path = run_dir / "summary.json"
    if not path.is_file():
        raise ValueError(f"--run-dir {run_dir} holds no finished stage-2 run (no summary.json); give disback-train's "
                         f"--out of run {run}")
    record = json.loads(path.read_text())
    want = {"method": r["method"], "seed": r["seed"], "nodes": r["nodes"], "interval": r["stage_two"]["interval"],
            "iterations": r["stage_two"]["iterations"]}
    differ = {k: (record.get(k), v) for k, v in want.items() if record.get(k) != v}
    if differ:
        raise ValueError(f"--run-dir {run_dir} holds another run than {run}: " + ", ".join(
            f"its {k} is {got!r}, {run}'s {exp!r}" for k, (got, exp) in differ.items()) + "; give the folder of "
            f"run {run}")


def train_command(args, cfg, progress):
    """`distill disback-train`."""
    device = setup_torch(args.threads, cfg["device"])
    exp = cfg["disback"]["experiments"][args.experiment]
    r = run_settings(exp, args.run)
    nodes = _nodes(exp, r, args)
    s = disback.train_generator(exp, r["method"], r["seed"], Path(args.teacher), nodes, Path(args.out), device,
                                progress, r["stage_two"], cfg["precision"], args.prompts)
    print(f"{args.run}: {s['status']} after {s['steps']} iterations ({s['updates']})")


def curve_command(args, cfg, progress):
    """`distill disback-curve`."""
    exp = cfg["disback"]["experiments"][args.experiment]
    r = run_settings(exp, args.run)
    _check_run_dir(Path(args.run_dir), args.run, r)
    nodes = _nodes(exp, r, args)
    out = Path(args.out_dir)
    rows = disback.evaluate_points(cfg, exp, Path(args.run_dir), Path(args.teacher), nodes, args.reference,
                                   args.extractor_weights, out, args.threads, progress, r["stage_two"])
    # the final generator through the whole protocol (every seed range): its row of the results table
    final = out / "final.npz"
    sample.run(cfg, Path(args.run_dir) / "model.safetensors", None, final, args.threads, progress)
    evaluate.run(cfg, final, args.reference, out / "final.json", out / "final.png", args.extractor_weights,
                 args.threads)
    final.unlink()
    atomic_write(out / "curve.csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False, float_format="%.6g"))
    print(f"{args.run}: FID " + ", ".join(f"{row['iteration']}: {row['fid']:.2f}" for row in rows
                                          if row["fid"] is not None))



def training_steps(cfg, device="cpu") -> dict[str, TrainingStep]:
    """One stage-2 iteration (the generator's one step, real and fake scores, the generator's update on its turn,
    the fake score's update) and one stage-1 step, on freshly initialised networks of the first experiment's
    teacher shapes. Timed over `fake_updates` iterations: one generator update among them."""
    exp = next(iter(cfg["disback"]["experiments"].values()))
    t = exp["teacher"]
    if artifact_of(t):  # an imported EDM network or diffusers pipeline, read where it was imported
        _, teacher_cfg = load_imported(cfg, artifact_of(t))
    else:
        _, teacher_cfg, _ = teacher_step(cfg, load_dataset(cfg["data"]), t["parameterization"], t["weighting"],
                                         t["seed"])
    prompts = timing_prompts(teacher_cfg, device) if is_text_to_image(teacher_cfg) else None
    torch.manual_seed(0)
    nets = [build_denoiser(teacher_cfg).to(device).train().requires_grad_(True) for _ in range(4)]  # imported ones: frozen
    real = nets[3].requires_grad_(False)
    core, s2, p = ScoreDistillation.from_params(exp["core"]), exp["stage_two"], exp["path"]
    shape = tuple(teacher_cfg["data"]["shape"])
    real_d, levels = disback.real_score(real, core, prompts[1] if prompts else None), disback.teacher_levels(real)
    two = score_distillation_step(core, SigmaFormDenoiser(nets[0]), SigmaFormDenoiser(nets[1]),
                                  lambda step: real_d, shape, s2["batch_size"], device,
                                  training_conditions(teacher_cfg, s2["batch_size"], device, source=prompts),
                                  levels=levels)
    one = degradation_step(core, SigmaFormDenoiser(real), SigmaFormDenoiser(nets[2]), shape, p["batch_size"], device,
                           training_conditions(teacher_cfg, p["batch_size"], device, source=prompts), levels=levels)
    tc = lambda b, steps: train_config(exp, steps, 0, b)  # noqa: E731
    return {
        "score_distillation": TrainingStep(
            {"generator": Part(nets[0].net, tc(s2["batch_size"], s2["iterations"])),
             "fake_score": Part(nets[1].net, tc(s2["batch_size"], s2["iterations"]))}, two, s2["batch_size"],
            f"1 forward (+ 1 backward, 2 forwards every {core.fake_updates}) + 1 forward + 1 backward",
            frozen=(real,)),
        "degradation": TrainingStep({"score": Part(nets[2].net, tc(p["batch_size"], p["nodes"] * p["interval"]))},
                                    one, p["batch_size"], "1 forward (generator) + 1 forward + 1 backward",
                                    frozen=(real,)),
    }
