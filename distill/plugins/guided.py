"""Guided distillation (Meng et al., CVPR 2023), pixel space, as a plug-in: a classifier-free-guided teacher, the
w-conditioned student (stage one), progressive rounds with w (stage two, PD's round step shared), deterministic (D)
and stochastic (S) samplers of the students, w sweeps, and students distilled at one fixed w as the baseline.

No official code of this paper exists: every setting the paper leaves open is a named setting of params.yaml whose
comment says so (PUBLISHED.md 2(b)).

Files: math distill/methods/guided.py (and distill/methods/progressive.py for the rounds, distill/core/guidance.py
for the guided teacher, the `renoise` sampler in distill/core/samplers.py); steps distill/steps/guided.py; layout,
commands and card here; rules workflows/methods/guided.smk; report distill/reports/guided.py; claims distill/claims/guided.py; params section
`guided` (schema workflows/schema/methods/guided.json).
Outputs under results/<profile>: guided/<experiment>/teacher/ (the guided teacher), guided/<experiment>/<line>/stage1
and <line>/n<N> (students: `w` the w-conditioned line, `w<value>` a fixed-w line; DVC), guided_metrics/<experiment>/
<model>/<sampler>-n<steps>/w<w>.json (one evaluation per w of a sweep), rows/guided-<experiment>.csv,
guided_<experiment>.json; reports/guided_<experiment>.pdf and .csv.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.commands.options import spread_io
from distill.commands.spec import Command
from distill.experiment_views import spread_experiment
from distill.plugins.pd_layout import check_power_of_two
from distill.registry import Method, named
from distill.results import LOSS_XY

LABEL = "Guided distillation (Meng et al., 2023)"
LABEL_FIXED = "Guided distillation, fixed w"
TEACHER_LABEL = "guided teacher"
W_LINE = "w"  # the w-conditioned student's line; a fixed-w line is 'w<value>'
TEACHER_SAMPLERS = ("ddim", "ancestral")  # the teacher's baselines at the students' NFE
KIND_STAGE_ONE, KIND_ROUND = "guided-stage-one", "guided-student"


def wtag(w: float) -> str:
    """A guidance weight in file names and labels: 0.3 -> '0.3', 1.0 -> '1'."""
    return f"{float(w):g}"


def fixed_line(w: float) -> str:
    return f"{W_LINE}{wtag(w)}"


def lines(exp: dict[str, Any]) -> list[str]:
    """The w-conditioned line and one line per fixed w of the baseline."""
    return [W_LINE] + [fixed_line(w) for w in exp["fixed_w"]["weights"]]


def line_w_range(exp: dict[str, Any], line: str) -> tuple[float, float]:
    """The w range a line's students are trained on: w_range, or [w, w] for a fixed-w line."""
    if line == W_LINE:
        return tuple(exp["w_range"])
    for w in exp["fixed_w"]["weights"]:
        if line == fixed_line(w):
            return float(w), float(w)
    raise ValueError(f"unknown guided line {line!r}; lines of this experiment: {lines(exp)}")


def round_steps(start: int, last: int = 1) -> list[int]:
    """The students' steps, round by round: start/2, start/4, ..., last."""
    check_power_of_two(start, "guided stage_two.start_steps")
    out, n = [], start // 2
    while n >= last:
        out.append(n)
        n //= 2
    return out


@dataclass(frozen=True)
class Variant:
    """How a student is sampled at N steps: its sampler and which round's model it evaluates. The paper's S at N
    steps makes jumps of 2/N, "the same as an N/2-step deterministic sampler", so it evaluates the N/2-step student
    (trained at the times between its grid's too: stage_two.stochastic_times); the ablation evaluates the N-step
    student, trained for jumps of 1/N, as the suite did before."""
    key: str
    sampler: str
    label: str
    halves: bool  # the model is the N/2-step student

    def model(self, line: str, steps: int) -> str | None:
        """The model id sampled at `steps`, or None where the variant does not exist (S below 2 steps)."""
        if self.sampler != "ddim" and steps < 2:
            return None
        return model_id(line, steps // 2 if self.halves else steps)


VARIANTS = (Variant("D", "ddim", "D", False),
            Variant("S", "renoise", "S (N/2-step model)", True),
            Variant("S-same", "renoise", "S ablation (N-step model)", False))
FIXED_VARIANTS = VARIANTS[:2]  # the fixed-w baseline: D and the paper's S


def parse_model(model: str) -> tuple[str, int]:
    """A student's model id '<line>-n<N>' as (line, N)."""
    line, _, n = model.rpartition("-n")
    return line, int(n)


def variant_of(model: str, sampler: str, steps: int) -> Variant | None:
    """The variant a (student model, sampler, steps) point was sampled with (None: the teacher)."""
    if model == "teacher":
        return None
    n = parse_model(model)[1]
    for v in VARIANTS:
        if v.sampler == sampler and n == (steps // 2 if v.halves else steps):
            return v
    raise ValueError(f"{model} sampled with {sampler} at {steps} steps is not a variant of {[v.key for v in VARIANTS]}")


def line_steps(exp: dict[str, Any], line: str) -> list[int]:
    """The rounds of a line: down to the fewest steps a variant samples with, over student_steps (w line) or
    fixed_w.steps (fixed lines): S at N steps needs the N/2-step student."""
    wanted = exp["student_steps"] if line == W_LINE else [exp["fixed_w"]["steps"]]
    variants = VARIANTS if line == W_LINE else FIXED_VARIANTS
    needed = [parse_model(m)[1] for n in wanted for v in variants if (m := v.model(line, n)) is not None]
    return round_steps(exp["stage_two"]["start_steps"], min(needed))


def round_settings(exp: dict[str, Any]) -> dict[str, Any]:
    """A stage-two round as PD's round step reads it: the shared train settings, the rounds' weighting, the seed, and
    the times it trains at (2 per step with stochastic_times: S's jumps between the grid's times)."""
    s = exp["stage_two"]
    return {"train": exp["train"], "weighting": s["weighting"], "seed": exp["seed"],
            "times_per_step": 2 if s["stochastic_times"] else 1}


def round_updates(exp: dict[str, Any], steps: int) -> int:
    s = exp["stage_two"]
    return s["updates_last_rounds"] if steps <= 2 else s["updates_per_round"]


def paths(results: str, experiment: str) -> dict[str, str]:
    """Where one experiment's files live (workflows/methods/guided.smk and distill/reports/guided.py); {gline},
    {gmodel}, {gsampler}, {gsteps} are Snakemake wildcards."""
    base = f"{results}/guided/{experiment}"
    return {"teacher": f"{base}/teacher", "stage_one": f"{base}/{{gline}}/stage1", "round": f"{base}/{{gline}}/n{{gsteps}}",
            "sweep": f"{results}/guided_metrics/{experiment}/{{gmodel}}/{{gsampler}}-n{{gsteps}}"}


def model_id(line: str, steps: int) -> str:
    """A student's name in metrics paths and the results table: '<line>-n<N>'."""
    return f"{line}-n{steps}"


def sweeps(exp: dict[str, Any]) -> list[tuple[str, str, int, list[float]]]:
    """Every (model, sampler, steps, weights) evaluated: the teacher's baselines at the students' NFE (steps NFE/2,
    DDIM and ancestral) and its full-step DDIM; the w-line students at every step count of `student_steps` with
    each variant (D; S with the N/2-step model, from 2 steps: at one step S is D; S with the N-step model, the
    ablation); each fixed-w student at its own w with D and S."""
    out: list[tuple[str, str, int, list[float]]] = []
    sweep = [float(w) for w in exp["sweep"]]
    for n in exp["student_steps"]:
        if n >= 2:
            out += [("teacher", s, n // 2, sweep) for s in TEACHER_SAMPLERS]
    out.append(("teacher", "ddim", exp["teacher_steps"], sweep))
    for n in exp["student_steps"]:
        out += [(m, v.sampler, n, sweep) for v in VARIANTS if (m := v.model(W_LINE, n)) is not None]
    n = exp["fixed_w"]["steps"]
    for w in exp["fixed_w"]["weights"]:
        out += [(m, v.sampler, n, [float(w)]) for v in FIXED_VARIANTS if (m := v.model(fixed_line(w), n)) is not None]
    return out


SPREAD_STEPS = (1, 2, 4)  # the w line's headline step counts (the abstract's 4 steps, 1 step, D against S at 2)


def spread_sweeps(exp: dict[str, Any]) -> list[tuple[str, str, int, list[float]]]:
    """The sweeps of the training-seed spread: the teacher at full steps, the w line at SPREAD_STEPS with D and the
    paper's S (not the S-same ablation), every fixed-w student."""
    paper = {v.sampler for v in FIXED_VARIANTS}
    return [(m, s, n, ws) for m, s, n, ws in sweeps(exp)
            if (m == "teacher" and n == exp["teacher_steps"])
            or (m != "teacher" and parse_model(m)[0] == W_LINE and n in SPREAD_STEPS and s in paper
                and variant_of(m, s, n) in FIXED_VARIANTS)
            or (m != "teacher" and parse_model(m)[0] != W_LINE)]


def spread_points(cfg: dict[str, Any], results: str) -> tuple[list[tuple[str, str, int, str]], str, str]:
    """(cell, sampler, training seed, metrics record) of every spread sweep at every w, for each experiment and
    each seed of guided.spread_seeds (its copy <experiment>_s<seed>: teacher, stage one, rounds, fixed-w students),
    with the report's title and caption."""
    section, points = cfg["guided"], []
    for name, exp in section["experiments"].items():
        runs = [(exp["seed"], name)] + [(s, spread_experiment(name, s)) for s in section.get("spread_seeds") or []]
        for seed, run in runs:
            for m, sampler, n, ws in spread_sweeps(exp):
                folder = paths(results, run)["sweep"].format(gmodel=m, gsampler=sampler, gsteps=n)
                label = "teacher" if m == "teacher" else variant_of(m, sampler, n).key
                points += [(f"{name} {m} {label}{n} w{wtag(w)}", sampler, seed, f"{folder}/w{wtag(w)}.json")
                           for w in ws]
    caption = (f"Profile '{cfg['profile']}': each guided experiment run again with training seeds "
               f"{section.get('spread_seeds') or []} (guided.spread_seeds: its teacher, stage one, rounds and fixed-w "
               f"students, each seeded alike) beside its own seed; cell <experiment> <model> <sampler><steps> w<w> "
               "(D deterministic, S the paper's stochastic sampler on the N/2-step student); FID is the minimum over "
               "the protocol's seed ranges.")
    return points, "Guided distillation — training-seed spread (FID)", caption


def model_path(results: str, experiment: str, model: str) -> str:
    """model.safetensors of 'teacher' or '<line>-n<N>'."""
    p = paths(results, experiment)
    if model == "teacher":
        return f"{p['teacher']}/model.safetensors"
    line, n = parse_model(model)
    return p["round"].format(gline=line, gsteps=n) + "/model.safetensors"


# ---- steps ----

def model_path_of(model: str, out_dir: str | Path, cfg: dict[str, Any], experiment: str) -> str:
    """A swept model's weights, under the results folder its metrics folder lies in."""
    results = str(Path(out_dir)).split("/guided_metrics/")[0]
    return model_path(results, experiment, model)


def stage_one_settings(exp: dict[str, Any]) -> dict[str, Any]:
    """Stage one as `distill.core.training.train` reads it: the shared train settings, its updates and weighting."""
    return {**exp["train"], "weighting": exp["stage_one"]["weighting"], "updates": exp["stage_one"]["updates"]}


# ---- commands ----

JOBS = "distill.plugins.guided_commands:"  # its commands' options and work (distill gpu-hours)
COMMANDS = (
    Command("guided-spread", "distill.reports.spread:guided_command",
            "guided distillation: the headline numbers' training-seed spread and each number's tolerance",
            "Collect the guided teacher at full steps, the w-conditioned students at 1, 2 and 4 steps (D and S) at "
            "every w of the sweep and the fixed-w students, from each experiment run with its own seed and each "
            "guided.spread_seeds seed: the FID of each seed, mean, standard deviation and tolerance. Writes a CSV "
            "(results/<profile>/spread/guided.csv) and a PDF.", spread_io),
    Command("guided-stage-one", "distill.steps.guided:stage_one_command",
            "guided distillation, stage one: the w-conditioned student; resumes",
            "Train a student x-hat(z_t, c, w) to match the classifier-free-guided teacher (1 + w) x-hat_c - w x-hat_null "
            "at w ~ U[w_min, w_max], t ~ U[0, 1], x from the data (Meng et al. 2023, stage one), initialised from the "
            "teacher with the new w embedding zeroed (so it starts as the conditional teacher). --line w<value> "
            "trains a fixed-w baseline student instead.", named(JOBS + "stage_one_options"), method="guided",
            job="distill", data_parallel=True, cost=named(JOBS + "stage_one_work")),
    Command("guided-round", "distill.steps.guided:round_command",
            "guided distillation, stage two: one progressive round with w; resumes",
            "Halve the sampler's steps (PD Algorithm 2, the round step PD uses) from the stage-one student or the "
            "previous round's, with w drawn per sample from the line's range and given to teacher and student.",
            named(JOBS + "round_options"), method="guided", job="distill", data_parallel=True,
            cost=named(JOBS + "round_work")),
    Command("guided-sweep", "distill.steps.guided:sweep_command",
            "guided distillation: sample and evaluate one model over a sweep of w",
            "For each w of --weights, draw the protocol's samples (a guided teacher with classifier-free guidance at "
            "w, two network evaluations per step; a student given w as its condition) and evaluate them; one "
            "metrics record per w.", named(JOBS + "sweep_options"), method="guided", job="evaluate",
            cost=named(JOBS + "sweep_work")),
    Command("guided-report", "distill.reports.guided:command",
            "guided distillation: its rows of the results table and its report",
            "Write the experiment's rows of the results table (every model, sampler, step count and w, with NFE, "
            "guidance and cost), a JSON summary for the claims, and its report: the pixel-space table (D/S), the "
            "FID-IS trade-off over w, the fixed-w baseline and the cost.", named(JOBS + "report_options"),
            method="guided"),
)


def targets(cfg) -> list[str]:
    return [f"reports/guided_{e}.pdf" for e in cfg["guided"]["experiments"]]


def rows(cfg, results: str) -> list[str]:
    return [f"{results}/rows/guided-{e}.csv" for e in cfg["guided"]["experiments"]]


def subjects(cfg, results: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for e in cfg["guided"]["experiments"]:
        path = Path(results) / f"guided_{e}.json"
        if path.exists():
            out[e] = json.loads(path.read_text())
    return {"guided": out} if out else {}


METHOD = Method(
    name="guided", label=LABEL,
    reproduces={("Guided", "SFD Table 2/3 (quoted)"): frozenset({"Guided PD"}),
                ("Guided", "Multistep-CM Table 5 (quoted)"): frozenset({"PD Stochastic (Meng et al., 2022)"})},
    sections=("data", "network", "teacher", "sampling", "evaluation", "classifier", "device", "precision", "threads"),
    commands=COMMANDS, targets=targets, rows=rows, published_rows=named("distill.reports.guided:published_rows"),
    subjects=subjects, dvc_outs=("guided",), dvc_small=("guided_metrics",),
    dvc_metrics=lambda cfg: [f"guided_{e}.json" for e in cfg["guided"]["experiments"]],
    dvc_plots=lambda cfg: [(f"plots/guided_{e}/losses", *LOSS_XY) for e in cfg["guided"]["experiments"]],
    training_steps=named("distill.steps.guided:training_steps"), check=named("distill.plugins.guided_check:check"),
)
