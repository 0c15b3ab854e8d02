"""Knowledge distillation (Luhman & Luhman 2021) as a plug-in: the one-step baseline of PD Table 2, on the same
teacher as Progressive Distillation so that both rows and both costs compare.

Files: math distill/methods/kd.py; steps distill/steps/kd.py; layout, commands and card here; rules
workflows/methods/kd.smk; report distill/reports/kd.py; claims distill/claims/kd.py; params section `kd` (schema
workflows/schema/methods/kd.json).
Outputs: results/<profile>/kd/<experiment>/pairs.npz (the teacher's (z_1, x) pairs; DVC), student/ (weights,
summary), kd_metrics/<experiment>/ (its evaluation), rows/kd-<experiment>.csv, kd_<experiment>.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.bench.work import Unit, sampler_steps, source_of_model
from distill.commands.options import experiment_report_io, spread_io
from distill.commands.spec import Command
from distill.experiment_views import experiment_settings, spread_experiment
from distill.registry import Method, named
from distill.results import LOSS_XY
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


def pairs_work(cfg, args, producers):
    """The teacher's DDIM steps over the pairs, in batches of sampling.batch_size."""
    exp = experiment_settings(cfg, "kd", args.experiment)
    return [(Unit("sampler_step", source_of_model(args.teacher, producers)),
             sampler_steps(cfg, exp["teacher_steps"], exp["pairs"]))]


def train_work(cfg, args, producers):
    return [(Unit("train", ("kd", args.experiment), ("kd", "kd")),
             experiment_settings(cfg, "kd", args.experiment)["updates"])]


def _pairs_options(p):
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher")
    output(p, "--out", required=True, help="output .npz (z, x and the cost of making them)")


def _train_options(p):
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher")
    p.add_argument("--pairs", required=True, help="pairs .npz of kd-pairs")
    run_folder(p, "model.safetensors, model.json, summary.json")


COMMANDS = (
    Command("kd-spread", "distill.reports.spread:kd_command",
            "knowledge distillation: the one-step students' training-seed spread and each number's tolerance",
            "Collect the one-step student of every kd experiment trained with its own seed and each kd.spread_seeds "
            "seed: the FID of each seed, mean, standard deviation and tolerance. Writes a CSV "
            "(results/<profile>/spread/kd.csv) and a PDF.", spread_io),
    Command("kd-pairs", "distill.steps.kd:pairs_command",
            "knowledge distillation: the teacher's (z_1, x) pairs, x = N-step DDIM",
            "Generate kd.experiments.<EXPERIMENT>.pairs pairs (z_1, x): z_1 from the seeds pairs_first_seed, ... "
            "(disjoint from the evaluation seeds), x the teacher's teacher_steps-step DDIM sample. One job, once per "
            "teacher.", _pairs_options, method="kd", job="sample", cost=pairs_work),
    Command("kd-train", "distill.steps.kd:train_command",
            "knowledge distillation: train the one-step student; resumes if interrupted",
            "Train a one-step student, initialised from the teacher, to map z_1 to the teacher's sample (Luhman & "
            "Luhman 2021), with kd.experiments.<EXPERIMENT>.train.", _train_options, method="kd", job="distill",
            data_parallel=True, cost=train_work),
    Command("kd-report", "distill.reports.kd:command",
            "knowledge distillation: its rows of the results table and its report",
            "Write the experiment's rows of the results table (the student's one-step evaluation with its cost: "
            "pairs and training), a JSON summary and a one-page report.", experiment_report_io, method="kd"),
)


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
    training_steps=named("distill.steps.kd:training_steps"),
)
