"""Consistency distillation (Song et al., ICML 2023) as a plug-in, on the teacher that PD, KD and SFD distil, so that
its one- and two-step students stand beside theirs with their costs.

Files: math distill/methods/cd.py (the loss, the boundary condition, the official multistep sampler); steps
distill/steps/cd.py; layout, commands and card here; rules workflows/methods/cd.smk; report distill/reports/cd.py;
claims distill/claims/cd.py; params section `cd` (schema workflows/schema/methods/cd.json).
Outputs under results/<profile>: cd/<experiment>/student/ (weights, summary; DVC), cd_samples/<experiment>/ (temporary),
cd_metrics/<experiment>/n<k>.json (the k-step evaluations), rows/cd-<experiment>.csv, cd_<experiment>.json;
reports/cd_<experiment>.pdf and .csv.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distill.bench.work import Unit, sampler_steps, source_of_model
from distill.commands.options import captions_option, experiment_report_io, spread_io
from distill.commands.paths import output, run_folder
from distill.commands.spec import Command
from distill.experiment_views import experiment_settings, spread_experiment
from distill.methods.cd import multistep_sigmas
from distill.registry import Method, named
from distill.results import LOSS_XY
from distill.results.tolerance import FEW_STEP, NumberTolerance

LABEL = "CD"  # its name in SFD Tables 2/3 and Multistep-CM Table 3
SAMPLER = "consistency"  # distill/methods/cd.py: the official multistep sampler (one step: the official onestep)
MULTISTEP_TABLE = ("PD", "Multistep-CM Table 3 (quoted)")  # S12: PD, CD and CT on one ImageNet-64 model


def paths(results: str, experiment: str) -> dict[str, str]:
    """Where one experiment's files live (workflows/methods/cd.smk and the report); {k}: the sampler's steps."""
    return {"student": f"{results}/cd/{experiment}/student",
            "samples": f"{results}/cd_samples/{experiment}/n{{k}}.npz",
            "metrics": f"{results}/cd_metrics/{experiment}/n{{k}}.json",
            "grid": f"{results}/cd_metrics/{experiment}/n{{k}}.png"}


def teacher_run(exp: dict[str, Any]) -> str:
    """The teacher it distils, a folder under results/<profile>/teachers: a Table 1 run
    '<parameterization>-<weighting>-s<seed>' (PD's, KD's and SFD's at mini), or an imported EDM network."""
    t = exp["teacher"]
    if t.get("diffusers"):  # a text_to_image experiment's pipeline, imported under its artifact name
        return t["diffusers"]
    return t["edm"] if t.get("edm") else f"{t['parameterization']}-{t['weighting']}-s{t['seed']}"


def step_counts(exp: dict[str, Any]) -> list[int]:
    """The sampler's step counts (NFE), one per time list of `multistep`."""
    return [len(ts) - 1 for ts in exp["multistep"]]


def step_sigmas(exp: dict[str, Any], k: int) -> list[float]:
    """The states of the k-step sampler: the sigmas at the indices of its time list on the N-sigma grid."""
    (ts,) = [ts for ts in exp["multistep"] if len(ts) - 1 == k]
    return multistep_sigmas(exp["num_scales"], list(ts), exp["sigma_min"], exp["sigma_max"], exp["rho"])


def spread_points(cfg: dict[str, Any], results: str) -> tuple[list[tuple[str, str, int, str]], str, str]:
    """(cell, sampler, training seed, metrics record) of every experiment's model at each step count, for its own
    seed and each seed of cd.spread_seeds (its copy <experiment>_s<seed>, the same teacher), with the report's title
    and caption."""
    section, points = cfg["cd"], []
    for name, exp in section["experiments"].items():
        runs = [(exp["seed"], name)] + [(s, spread_experiment(name, s)) for s in section.get("spread_seeds") or []]
        points += [(f"{name}-n{k}", SAMPLER, seed, paths(results, run)["metrics"].format(k=k))
                   for seed, run in runs for k in step_counts(exp)]
    caption = (f"Profile '{cfg['profile']}': each experiment's consistency model trained with its own seed and with "
               f"training seeds {section.get('spread_seeds') or []} (cd.spread_seeds), from the same teacher, sampled "
               "at each step count of its time lists; FID is the minimum over the protocol's seed ranges.")
    return points, "Consistency distillation — training-seed spread (FID)", caption


def sampling_record(exp: dict[str, Any]) -> dict[str, Any]:
    """The sampler the student records (`distill sample` uses it when given none): one consistency step from sigma_max
    on the polynomial grid of its training (more --steps: more states of that grid)."""
    return {"sampler": SAMPLER, "steps": 2, "options": {}, "grid": "edm", "step_condition": None,
            "grid_options": {"rho": exp["rho"], "sigma_min": exp["sigma_min"], "sigma_max": exp["sigma_max"]}}


def train_work(cfg, args, producers):
    return [(Unit("train", ("cd", args.experiment), ("cd", "cd")),
             experiment_settings(cfg, "cd", args.experiment)["updates"])]


def sample_work(cfg, args, producers):
    n = cfg["evaluation"]["num_samples"] * cfg["evaluation"]["seed_ranges"]
    return [(Unit("sampler_step", source_of_model(args.model, producers)), sampler_steps(cfg, args.steps, n))]


def _train_options(p):
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher")
    captions_option(p)
    run_folder(p, "model.safetensors, summary.json, the training state")


def _sample_options(p):
    p.add_argument("--model", required=True, help="model.safetensors of the consistency model (cd-train)")
    p.add_argument("--steps", type=int, required=True, help="sampler steps (NFE): a time list of the experiment")
    output(p, "--out", required=True, help="output samples .npz")


COMMANDS = (
    Command("cd-spread", "distill.reports.cd:spread_command",
            "consistency distillation: the consistency models' training-seed spread and each number's tolerance",
            "Collect every cd experiment's model trained with its own seed and each cd.spread_seeds seed, at each "
            "step count: the FID of each seed, mean, standard deviation and tolerance. Writes a CSV "
            "(results/<profile>/spread/cd.csv) and a PDF.", spread_io),
    Command("cd-train", "distill.steps.cd:train_command",
            "consistency distillation: train the consistency model; resumes if interrupted",
            "Distil the teacher into a consistency model (Song et al. 2023, CM Eq. 7): Karras grid of num_scales "
            "sigmas, the teacher's Heun step between adjacent sigmas, a target network (EMA rate target_ema), "
            "cd.experiments.<EXPERIMENT>.train.", _train_options, method="cd", job="distill", cost=train_work),
    Command("cd-sample", "distill.steps.cd:sample_command",
            "consistency distillation: the consistency model's k-step samples",
            "Draw the evaluation samples of a consistency model with the official multistep sampler at the sigmas of "
            "the experiment's time list for --steps (one step: one evaluation at sigma_max).", _sample_options,
            method="cd", job="sample", cost=sample_work),
    Command("cd-report", "distill.reports.cd:command",
            "consistency distillation: its rows of the results table and its report",
            "Write the experiment's rows of the results table (the consistency model at each step count, with its "
            "cost), a JSON summary, and a page with its rows beside PD's, KD's and SFD's students of the same "
            "teacher.", experiment_report_io, method="cd"),
)


def targets(cfg) -> list[str]:
    return [f"reports/cd_{e}.pdf" for e in cfg["cd"]["experiments"]]


def rows(cfg, results: str) -> list[str]:
    return [f"{results}/rows/cd-{e}.csv" for e in cfg["cd"]["experiments"]]


def subjects(cfg, results: Path) -> dict[str, dict[str, Any]]:
    """Claim subject 'cd': each experiment's report summary (its FID by steps, and the same teacher's other students
    beside it)."""
    out = {name: json.loads(path.read_text()) for name in cfg["cd"]["experiments"]
           if (path := Path(results) / f"cd_{name}.json").is_file()}
    return {"cd": out} if out else {}


def check(cfg) -> list[tuple[str, str]]:
    """Each time list runs from 0 to N - 1 and increases; one time list per step count; no EDM teacher at a data set
    it was not trained on is checked where it is imported."""
    out = []
    for name, exp in cfg["cd"]["experiments"].items():
        where = f"cd.experiments.{name}"
        for i, ts in enumerate(exp["multistep"]):
            if ts[0] != 0 or ts[-1] != exp["num_scales"] - 1 or any(b <= a for a, b in zip(ts, ts[1:])):
                out.append((f"{where}.multistep.{i}", f"the time list {ts} must increase from 0 to num_scales - 1 = "
                                                      f"{exp['num_scales'] - 1} (the official sampler's ts)"))
        if len(set(step_counts(exp))) != len(exp["multistep"]):
            out.append((f"{where}.multistep", f"two time lists of the same step count: {step_counts(exp)}"))
        if not exp["sigma_min"] < exp["sigma_max"]:
            out.append((f"{where}.sigma_min", "sigma_min must be below sigma_max"))
    return out


METHOD = Method(
    name="cd", label=LABEL,
    reproduces={("SFD", "Table 2"): frozenset({LABEL}), ("SFD", "Table 3"): frozenset({LABEL}),
                MULTISTEP_TABLE: frozenset({LABEL})},
    tolerances={(*MULTISTEP_TABLE, "FID"): NumberTolerance("rel", 0.10, FEW_STEP)},
    sections=("data", "network", "teacher", "sampling", "evaluation", "classifier", "device", "precision", "threads"),
    commands=COMMANDS, targets=targets, rows=rows, published_rows=named("distill.reports.cd:published_rows"),
    subjects=subjects, dvc_outs=("cd",), dvc_small=("cd_metrics",),
    dvc_metrics=lambda cfg: [f"cd_{e}.json" for e in cfg["cd"]["experiments"]],
    dvc_plots=lambda cfg: [(f"plots/cd_{e}/losses", *LOSS_XY) for e in cfg["cd"]["experiments"]],
    training_steps=named("distill.steps.cd:training_steps"), check=check, registers=("distill.methods.cd",),
)
