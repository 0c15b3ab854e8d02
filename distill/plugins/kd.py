"""Knowledge distillation (Luhman & Luhman 2021) as a plug-in: the one-step baseline of PD Table 2, on the same
teacher as Progressive Distillation so that both rows and both costs compare.

Files: math distill/methods/kd.py; steps and card here; rules workflows/methods/kd.smk; report distill/reports/kd.py;
claims distill/claims/kd.py; params section `kd` (schema workflows/schema/methods/kd.json).
Outputs: results/<profile>/kd/<experiment>/pairs.npz (the teacher's (z_1, x) pairs; DVC), student/ (weights,
summary), kd_metrics/<experiment>/ (its evaluation), rows/kd-<experiment>.csv, kd_<experiment>.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.commands.options import floor_option, report_io, spread_io
from distill.commands.spec import Command
from distill.config import experiment_settings
from distill.plugins import Method, TrainingStep, named
from distill.results.plots import LOSS_XY
from distill.commands.paths import output, run_folder

LABEL = "Knowledge distillation (Luhman & Luhman, 2021)"  # PD Table 2's name for it
SAMPLER, STEPS = "ddim", 1  # the student samples with one DDIM step: x-hat(z_1, t = 1)


def paths(results: str, experiment: str) -> dict[str, str]:
    """Where one experiment's files live (workflows/methods/kd.smk and the report, distill/reports/kd.py)."""
    base = f"{results}/kd/{experiment}"
    return {"pairs": f"{base}/pairs.npz", "student": f"{base}/student",
            "samples": f"{results}/kd_samples/{experiment}/{SAMPLER}-n{STEPS}.npz",
            "metrics": f"{results}/kd_metrics/{experiment}/{SAMPLER}-n{STEPS}.json",
            "grid": f"{results}/kd_metrics/{experiment}/{SAMPLER}-n{STEPS}.png"}


def spread_points(cfg: dict[str, Any], results: str) -> tuple[list[tuple[str, str, int, str]], str, str]:
    """(cell, sampler, training seed, metrics record) of every experiment's one-step student, for its own seed and
    each seed of kd.spread_seeds (its copy <experiment>_s<seed>, distilled from the Table 1 teacher of that seed),
    with the report's title and caption."""
    from distill.config import spread_experiment

    section, points = cfg["kd"], []
    for name, exp in section["experiments"].items():
        runs = [(exp["seed"], name)] + [(s, spread_experiment(name, s)) for s in section.get("spread_seeds") or []]
        points += [(f"{name}-n{STEPS}", SAMPLER, seed, paths(results, run)["metrics"]) for seed, run in runs]
    caption = (f"Profile '{cfg['profile']}': each experiment's one-step student trained with its own seed and with "
               f"training seeds {section.get('spread_seeds') or []} (kd.spread_seeds), each from the Table 1 teacher "
               "of its seed (as PD's spread); FID is the minimum over the protocol's seed ranges.")
    return points, "Knowledge distillation — training-seed spread (FID)", caption


def teacher_run(exp: dict[str, Any]) -> str:
    """The Table 1 teacher it distils: '<parameterization>-<weighting>-s<seed>'."""
    return f"{exp['parameterization']}-{exp['teacher_weighting']}-s{exp['seed']}"


def make_pairs(cfg: dict[str, Any], experiment: str, teacher_path: str | Path, out: str | Path,
               threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Step: the teacher's (z_1, x) pairs, x its teacher_steps-step DDIM sample (seeds from pairs_first_seed, so
    disjoint from the evaluation seeds), written atomically with the cost of making them."""
    import time

    import numpy as np
    import torch
    from tqdm.auto import tqdm

    import json

    from distill.core.checkpoint import atomic_write, file_sha256, load_weights
    from distill.core.provenance import provenance
    from distill.methods.kd import teacher_pairs
    from distill.pipeline.common import load_denoiser, setup_torch
    from distill.pipeline.sample import conditions

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
    import torch

    from distill.core import distributed
    from distill.core.checkpoint import file_sha256, load_into, load_weights, save_weights
    from distill.core.provenance import write_record
    from distill.data.npz import read_npz
    from distill.core.training import TrainConfig, precision_record, train
    from distill.pipeline.common import setup_torch

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
    import torch

    from distill.methods.kd import make_kd_loss
    from distill.pipeline.common import build_denoiser

    torch.manual_seed(exp["seed"])
    student = build_denoiser(model_cfg).to(device)
    return student, make_kd_loss(student, z, x, exp["train"]["batch_size"])


def _pairs(args, cfg, progress):
    info = make_pairs(cfg, args.experiment, args.teacher, args.out, args.threads, progress)
    print(f"{info['pairs']} pairs in {info['wall_seconds']:.1f} s ({info['teacher_evals']} teacher evaluations)")


def _train(args, cfg, progress):
    summary = train_student(cfg, args.experiment, args.teacher, args.pairs, args.out, args.threads, progress)
    print(f"{summary['status']} after {summary['steps']} updates")


def pairs_work(cfg, args, producers):
    """The teacher's DDIM steps over the pairs, in batches of sampling.batch_size."""
    from distill.bench.work import Unit, sampler_steps, source_of_model

    exp = experiment_settings(cfg, "kd", args.experiment)
    return [(Unit("sampler_step", source_of_model(args.teacher, producers)),
             sampler_steps(cfg, exp["teacher_steps"], exp["pairs"]))]


def train_work(cfg, args, producers):
    from distill.bench.work import Unit

    return [(Unit("train", ("kd", args.experiment), ("kd", "kd")),
             experiment_settings(cfg, "kd", args.experiment)["updates"])]


def _pairs_options(p):
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher")
    output(p, "--out", required=True, help="output .npz (z, x and the cost of making them)")


def _train_options(p):
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher")
    p.add_argument("--pairs", required=True, help="pairs .npz of kd-pairs")
    run_folder(p, "model.safetensors, model.json, summary.json")


def _report_options(p):
    report_io(p, "output JSON summary")
    floor_option(p)
    p.add_argument("--rows", required=True, help="output: this experiment's part of the results table (CSV)")


COMMANDS = (
    Command("kd-spread", "distill.reports.spread:kd_command",
            "knowledge distillation: the one-step students' training-seed spread and each number's tolerance",
            "Collect the one-step student of every kd experiment trained with its own seed and each kd.spread_seeds "
            "seed: the FID of each seed, mean, standard deviation and tolerance. Writes a CSV "
            "(results/<profile>/spread/kd.csv) and a PDF.", spread_io),
    Command("kd-pairs", _pairs, "knowledge distillation: the teacher's (z_1, x) pairs, x = N-step DDIM",
            "Generate kd.experiments.<EXPERIMENT>.pairs pairs (z_1, x): z_1 from the seeds pairs_first_seed, ... "
            "(disjoint from the evaluation seeds), x the teacher's teacher_steps-step DDIM sample. One job, once per "
            "teacher.", _pairs_options, method="kd", job="sample", cost=pairs_work),
    Command("kd-train", _train, "knowledge distillation: train the one-step student; resumes if interrupted",
            "Train a one-step student, initialised from the teacher, to map z_1 to the teacher's sample (Luhman & "
            "Luhman 2021), with kd.experiments.<EXPERIMENT>.train.", _train_options, method="kd", job="distill",
            data_parallel=True, cost=train_work),
    Command("kd-report", "distill.reports.kd:command",
            "knowledge distillation: its rows of the results table and its report",
            "Write the experiment's rows of the results table (the student's one-step evaluation with its cost: "
            "pairs and training), a JSON summary and a one-page report.", _report_options, method="kd"),
)


def training_steps(cfg, device="cpu") -> dict[str, TrainingStep]:
    """One update of the first experiment's one-step student (a batch of pairs, Luhman & Luhman's regression,
    backward, clipping, AdamW, EMA); the pairs are random stand-ins of the teacher's (the cost does not depend on
    their values)."""
    import torch

    from distill.core.training import SINGLE, Part, TrainConfig, one_loss_step
    from distill.data import load_dataset
    from distill.pipeline.train_teacher import teacher_step

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


def targets(cfg) -> list[str]:
    return [f"reports/kd_{e}.pdf" for e in cfg["kd"]["experiments"]]


def rows(cfg, results: str) -> list[str]:
    return [f"{results}/rows/kd-{e}.csv" for e in cfg["kd"]["experiments"]]


def subjects(cfg, results: Path) -> dict[str, dict[str, Any]]:
    return {}


METHOD = Method(
    name="kd", label=LABEL, reproduces={("PD", "Table 2"): frozenset({LABEL})},
    sections=("data", "network", "teacher", "sampling", "evaluation", "classifier", "device", "precision", "threads"),
    commands=COMMANDS, targets=targets, rows=rows, published_rows=named("distill.reports.kd:published_rows"),
    subjects=subjects,
    dvc_outs=("kd",), dvc_small=("kd_metrics",),
    dvc_metrics=lambda cfg: [f"kd_{e}.json" for e in cfg["kd"]["experiments"]],
    dvc_plots=lambda cfg: [(f"plots/kd_{e}/losses", *LOSS_XY) for e in cfg["kd"]["experiments"]],
    training_steps=training_steps,
)
