"""DisBack (Zhang et al., ICLR 2025) as a plug-in: one-step score distillation that backtracks the teacher's
degradation path, against the same distillation without backtracking (the baseline), on the teacher PD distils, and
on the toy2d ring mixture where the truth is exact.

The paper's body is unreachable (PUBLISHED.md 4): every table and curve is NOT FOUND except ImageNet-64 FID 1.38, so
the suite checks the paper's claims (faster convergence than the baseline, a smaller score mismatch early on,
comparable or better final quality). Settings come from the official code (SYZhang0805/DisBack, built on
tianweiy/DMD2: main/edm/edm_guidance.py, main/edm/train_edm.py, main/train_sd.py, main/degradation.py); each names
its source in params.yaml.

Files: math distill/methods/disback.py; steps distill/steps/disback.py and distill/steps/disback_toy2d.py (the command
handlers in distill/steps/disback_commands.py); layout, commands and card here; rules workflows/methods/disback.smk;
reports distill/reports/disback.py and disback_toy2d.py; claims distill/claims/disback.py; params section `disback`
(schema workflows/schema/methods/disback.json).
Outputs under results/<profile>: disback/<experiment>/path/ (stage 1: nodes/ with their manifest; DVC),
disback/<experiment>/<run>/ (a generator: model.safetensors, summary.json, points/ with the evaluation points'
snapshots; DVC), disback_metrics/<experiment>/<run>/ (one record per point, curve.csv, final.json), rows/
disback-<experiment>.csv, disback_<experiment>.json, disback_toy2d/ and disback_toy2d.json; reports/
disback_<experiment>.pdf and .csv, reports/disback_toy2d.pdf and .csv.

Runs of an experiment: '<method>-s<seed>' for both methods and every training seed (the convergence curves), and
the ablation's DisBack runs at the first seed: 'disback-n<N>' (a path of N nodes: the first N + 1 nodes of the one
recorded path) and 'disback-i<I>' (the target switching every I iterations).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distill.bench.work import Unit, protocol_images, sampler_steps, source_of_model
from distill.commands.options import (extractor_weights_option, floor_option, positive_int, prompts_option,
                                      report_io)
from distill.commands.paths import input_folder, output, run_folder
from distill.commands.spec import Command
from distill.registry import Method, named

LABEL = "DisBack (Zhang et al., 2025)"
BASELINE_LABEL = "Score distillation without backtracking"
METHODS = ("disback", "baseline")
# methods whose one-step models distil the same Table 1 teacher: the report's one-step comparison reads their rows
ONE_STEP_METHODS = ("pd", "kd", "sfd")


def paths(results: str, experiment: str) -> dict[str, str]:
    base = f"{results}/disback/{experiment}"
    return {"path": f"{base}/path", "run": f"{base}/{{drun}}",
            "metrics": f"{results}/disback_metrics/{experiment}/{{drun}}"}


def teacher_run(exp: dict[str, Any]) -> str:
    """The teacher it distils, a folder under results/<profile>/teachers: a Table 1 run
    '<parameterization>-<weighting>-s<seed>', or an official EDM network or a diffusers pipeline imported under its
    artifact name."""
    t = exp["teacher"]
    if t.get("edm") or t.get("diffusers"):
        return t.get("edm") or t["diffusers"]
    return f"{t['parameterization']}-{t['weighting']}-s{t['seed']}"


def main_runs(exp: dict[str, Any]) -> list[str]:
    return [f"{m}-s{s}" for m in METHODS for s in exp["seeds"]]


def ablation_runs(exp: dict[str, Any]) -> list[str]:
    a = exp["ablation"]
    return [f"disback-n{n}" for n in a["nodes"]] + [f"disback-i{i}" for i in a["interval"]]


def runs(exp: dict[str, Any]) -> list[str]:
    return main_runs(exp) + ablation_runs(exp)


def run_settings(exp: dict[str, Any], run: str) -> dict[str, Any]:
    """A run's method, seed, path nodes and stage-2 settings, from its name."""
    method, _, tag = run.partition("-")
    s2 = dict(exp["stage_two"])
    nodes, seed = exp["path"]["nodes"], exp["seeds"][0]
    if method not in METHODS or not tag[1:].isdigit() or tag[0] not in "sni":
        raise ValueError(f"unknown DisBack run {run!r}; expected <disback|baseline>-s<seed>, disback-n<N> or "
                         f"disback-i<I>")
    value = int(tag[1:])
    if tag[0] == "s":
        if value not in exp["seeds"]:
            raise ValueError(f"run {run!r}: seed {value} is not in the experiment's seeds {exp['seeds']}")
        seed = value
    elif method != "disback":
        raise ValueError(f"run {run!r}: the ablation runs are DisBack's")
    elif tag[0] == "n":
        nodes = value
    else:
        s2["interval"] = value
    return {"method": method, "seed": seed, "nodes": nodes if method == "disback" else 0, "stage_two": s2}


def path_nodes_needed(exp: dict[str, Any]) -> int:
    """The recorded path's nodes: enough for the largest N of the ablation."""
    return max([exp["path"]["nodes"], *exp["ablation"]["nodes"]])


def recorded(exp: dict[str, Any]) -> dict[str, Any]:
    """The experiment as stage 1 records it (its path long enough for every run)."""
    return {**exp, "path": {**exp["path"], "nodes": path_nodes_needed(exp)}}


# ---- steps ----


def _experiment_teacher(p):
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher (the Table 1 run PD distils)")


def _path_options(p):
    _experiment_teacher(p)
    prompts_option(p)
    run_folder(p, "nodes/ (the path's N + 1 nodes and manifest.json), summary.json")


def _train_options(p):
    _experiment_teacher(p)
    p.add_argument("--run", required=True, help="<disback|baseline>-s<seed>, disback-n<N> or disback-i<I>")
    input_folder(p, "--path", help="the degradation path's folder (disback-path's --out); DisBack's runs need it")
    prompts_option(p)
    run_folder(p, "model.safetensors (the final generator), summary.json, points/ (the evaluation points)")


def _curve_options(p):
    _experiment_teacher(p)
    p.add_argument("--run", required=True, help="the run (as disback-train's --run)")
    input_folder(p, "--run-dir", required=True, help="the run's folder (disback-train's --out)")
    input_folder(p, "--path", help="the degradation path's folder; DisBack's runs need it")
    p.add_argument("--reference", required=True, help="reference statistics (.npz) of the data set")
    extractor_weights_option(p)
    output(p, "--out-dir", folder=True, required=True,
           help="output folder: one metrics record per evaluation point, curve.csv, final.json")


def _toy2d_options(p):
    output(p, "--out", folder=True, required=True,
           help="output folder: teacher/, path/, runs/, curves.csv, summary.json (each run resumes from it)")
    p.add_argument("--factor", type=positive_int, default=None,
                   help="run the budget trend's copy: the settings of disback.toy2d.trend.scale multiplied by this "
                        "factor (one of disback.toy2d.trend.factors)")


def _report_options(p):
    report_io(p)
    output(p, "--json", required=True, help="output JSON summary (the claims' subject)")
    floor_option(p)
    p.add_argument("--rows", required=True, help="output: this experiment's part of the results table (CSV)")
    p.add_argument("--others", nargs="*", default=[],
                   help="other methods' rows of the results table (the one-step comparison)")


def _toy2d_report_options(p):
    p.add_argument("--curves", required=True, help="curves.csv of disback-toy2d")
    output(p, "--pdf", required=True, help="output PDF")
    output(p, "--csv", required=True, help="output CSV (its table)")
    output(p, "--json", required=True, help="output JSON summary (the claims' subject)")


def path_work(cfg, args, producers):
    exp = recorded(cfg["disback"]["experiments"][args.experiment])
    return [(Unit("train", ("disback", args.experiment), ("disback", "degradation")),
             exp["path"]["nodes"] * exp["path"]["interval"])]


def train_work(cfg, args, producers):
    r = run_settings(cfg["disback"]["experiments"][args.experiment], args.run)
    return [(Unit("train", ("disback", args.experiment), ("disback", "score_distillation")),
             r["stage_two"]["iterations"])]


def curve_work(cfg, args, producers):
    """Per point: the generator's one step over its samples and the features; then the final protocol."""
    exp = cfg["disback"]["experiments"][args.experiment]
    r = run_settings(exp, args.run)
    n_points = r["stage_two"]["iterations"] // exp["eval_every"] + 1
    images = cfg["evaluation"]["num_samples"] * exp["curve"]["seed_ranges"]
    model = source_of_model(str(Path(args.run_dir) / "model.safetensors"), producers)
    return [(Unit("sampler_step", model), n_points * sampler_steps(cfg, 1, images)
             + sampler_steps(cfg, 1, protocol_images(cfg))),
            (Unit("features"), n_points * images + protocol_images(cfg))]


COMMANDS = (
    Command("disback-path", "distill.steps.disback_commands:path_command",
            "DisBack stage 1: record the teacher's degradation path; resumes",
            "Fine-tune a copy of the teacher on the initial one-step generator's samples (DisBack Eq. 7; the "
            "generator is the teacher at sigma_init and stays fixed), saving N + 1 nodes every path.interval steps "
            "(node 0 = the teacher) with a sha256 manifest; N is the largest of path.nodes and ablation.nodes.",
            _path_options, method="disback", job="distill", cost=path_work),
    Command("disback-train", "distill.steps.disback_commands:train_command",
            "DisBack stage 2 (or the baseline): train a one-step generator; resumes",
            "Train a one-step generator and its fake score, both initialised from the teacher, by DMD2's normalised "
            "score difference. DisBack's runs start the fake score at the path's last node and move the generator's "
            "target back one node every stage_two.interval iterations to the teacher; the baseline's target is the "
            "teacher throughout. Saves the generator and the fake score at every eval_every iterations.",
            _train_options, method="disback", job="distill", cost=train_work),
    Command("disback-curve", "distill.steps.disback_commands:curve_command",
            "DisBack: evaluate a run's points (FID, IS, score mismatch) and its final model",
            "For every saved point of a run: the generator's samples (curve.seed_ranges of the protocol) through the "
            "protocol, and the score mismatch between its fake score and the original teacher (and, for DisBack, its "
            "current path node) on the generator's noised samples; then the final generator through the whole "
            "protocol.", _curve_options, method="disback", job="evaluate", cost=curve_work),
    Command("disback-toy2d", "distill.steps.disback_toy2d:toy2d_command",
            "DisBack on the toy2d mixture against exact truth (about two minutes, CPU)",
            "The whole 2-D experiment of disback.toy2d in one job on the CPU: an MLP teacher of the ring mixture, "
            "the path, DisBack and the baseline for every seed, and at each evaluation point the sliced Wasserstein "
            "distance to the exact mixture and the score mismatch against the exact score.", _toy2d_options),
    Command("disback-report", "distill.reports.disback:command", "DisBack: its rows of the results table and report",
            "Write the experiment's rows of the results table (every run's final one-step evaluation, with its "
            "cost), a JSON summary for the claims and the report: convergence (FID against iteration, mean and "
            "band over seeds), score mismatch, the ablation and the one-step comparison.", _report_options,
            method="disback"),
    Command("disback-toy2d-report", "distill.reports.disback_toy2d:command", "DisBack: the toy2d report",
            "The toy2d report: the table (final distance, iterations to the baseline's final distance, early "
            "mismatch) and the curves over seeds.", _toy2d_report_options),
)


def targets(cfg) -> list[str]:
    out = [f"reports/disback_{e}.pdf" for e in cfg["disback"]["experiments"]]
    return out + (["reports/disback_toy2d.pdf"] if cfg["disback"].get("toy2d") else [])


def rows(cfg, results: str) -> list[str]:
    return [f"{results}/rows/disback-{e}.csv" for e in cfg["disback"]["experiments"]]


def subjects(cfg, results: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for name in [*cfg["disback"]["experiments"], *(["toy2d"] if cfg["disback"].get("toy2d") else [])]:
        path = Path(results) / f"disback_{name}.json"
        if path.exists():
            out[name] = json.loads(path.read_text())
    return {"disback": out} if out else {}


METHOD = Method(
    name="disback", label=LABEL, reproduces={("DisBack", "Abstract"): frozenset({"DisBack"})},
    sections=("data", "network", "teacher", "sampling", "evaluation", "classifier", "device", "precision", "threads"),
    commands=COMMANDS, targets=targets, rows=rows, published_rows=named("distill.reports.disback:published_rows"),
    subjects=subjects, dvc_outs=("disback", "disback_toy2d"), dvc_small=("disback_metrics",),
    dvc_metrics=lambda cfg: [f"disback_{e}.json" for e in cfg["disback"]["experiments"]]
    + (["disback_toy2d.json"] if cfg["disback"].get("toy2d") else []),
    training_steps=named("distill.steps.disback_commands:training_steps"), check=named("distill.plugins.disback_check:check"),
)
