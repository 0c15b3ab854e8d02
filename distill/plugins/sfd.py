"""Simple and Fast Distillation (Zhou et al., NeurIPS 2024) as a plug-in, on the Table 1 teacher that PD and KD
distil, so that their rows and costs compare: the teacher's own EDM solvers at a few NFE (SFD Table 2's solver rows),
SFD students at NFE 2-5, SFD-v (one student for every NFE), the second stage (NFE 1) and the ablations.

Files: math distill/methods/sfd.py; steps distill/steps/sfd.py; layout distill/plugins/sfd_layout.py; commands and
card here; rules
workflows/methods/sfd.smk; report distill/reports/sfd.py; claims distill/claims/sfd.py; params section `sfd` (schema
workflows/schema/methods/sfd.json).
Outputs under results/<profile>: sfd/<run>/ (the student: weights, summary; DVC), sfd_metrics/ (evaluations of the
students and of the teacher's solvers), rows/sfd.csv, sfd.json; reports/sfd.pdf and reports/sfd.csv.

Each run of sfd.runs is the section's `student` settings with the run's own overrides (a key it names replaces the
default; `grid` and `train` are merged key by key), so an ablation names only what it varies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from distill.results.tolerance import FEW_STEP, NumberTolerance
from distill.commands.options import spread_io
from distill.commands.spec import Command
from distill.experiment_views import spread_experiment
from distill.core.grids import grid_options
from distill.core.samplers import get_sampler
from distill.core.training import TrainConfig
from distill.methods.sfd import teacher_grid_size
from distill.registry import Method, named
from distill.plugins.kd import LABEL as KD_LABEL
from distill.plugins.pd import LABEL as PD_LABEL
from distill.plugins.sfd_layout import experiments, paths, tag
from distill.results import LOSS_XY

LABEL = "SFD"  # SFD Table 2's names for its rows
LABEL_V, LABEL_SECOND = "SFD-v (one model)", "SFD (second-stage)"
KINDS = {"sfd": LABEL, "sfd-v": LABEL_V, "second-stage": LABEL_SECOND}
STUDENT_SAMPLER = "euler"  # every SFD student samples with Euler steps on its own polynomial grid


def spread_runs(cfg: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(run, seed, name of the copy) of the training-seed spread: every run without `ablation` (SFD, SFD-v, the
    second stage) trained again with each seed of sfd.spread_seeds as its student seed, from the same teacher; a
    second stage's copy distils its teacher run's copy of the same seed."""
    section = cfg["sfd"]
    return [(run, seed, spread_experiment(run, seed)) for seed in section.get("spread_seeds") or []
            for run, own in section["runs"].items() if not (own or {}).get("ablation")]


def spread_points(cfg: dict[str, Any], results: str) -> tuple[list[tuple[str, str, int, str]], str, str]:
    """(cell, sampler, training seed, metrics record) of every spread run at each of its step counts, for its own
    seed and each seed of sfd.spread_seeds, with the report's title and caption."""
    p, points, copies = paths(results), [], spread_runs(cfg)
    own = list(dict.fromkeys((run, run_settings(cfg, run)["seed"], run) for run, _, _ in copies))
    for base, seed, run in own + copies:
        s = run_settings(cfg, run)
        points += [(f"{base} NFE {student_nfe(n, s['afs'])}", STUDENT_SAMPLER, seed,
                    p["metrics"].format(srun=run, sn=n)) for n in step_counts(s)]
    caption = (f"Profile '{cfg['profile']}': every SFD run without an ablation (SFD at each NFE, SFD-v, the second "
               f"stage) trained with its own student seed and with seeds {cfg['sfd'].get('spread_seeds') or []} "
               "(sfd.spread_seeds) from the same teacher (a second stage from its SFD-v run of the same seed); FID is "
               "the minimum over the protocol's seed ranges.")
    return points, "SFD — training-seed spread of the students (FID)", caption


def run_settings(cfg: dict[str, Any], run: str) -> dict[str, Any]:
    """A run's settings: sfd.student overridden by sfd.runs.<run> (grid and train merged key by key); a spread copy
    (<run>_s<seed>, spread_runs) is its run with the student seed replaced."""
    section = cfg["sfd"]
    copies = {name: (base, seed) for base, seed, name in spread_runs(cfg)}
    if run in copies and run not in section["runs"]:
        base, seed = copies[run]
        out = {**run_settings(cfg, base), "seed": seed}
        if out["kind"] == "second-stage":
            out["teacher_run"] = f"{out['teacher_run']}_s{seed}"
        return out
    if run not in section["runs"]:
        raise ValueError(f"unknown SFD run {run!r}; sfd.runs has {sorted(section['runs'])}")
    own = section["runs"][run] or {}
    out = {**section["student"], **{k: v for k, v in own.items() if k not in ("grid", "train")}}
    out["grid"] = {**section["grid"], **(own.get("grid") or {})}
    out["train"] = {**section["train"], **(own.get("train") or {})}
    out.setdefault("kind", "sfd")
    return out


def step_counts(settings: dict[str, Any]) -> list[int]:
    """The num_steps a run's student is sampled with: one, or SFD-v's list."""
    n = settings["num_steps"]
    return list(n) if isinstance(n, list) else [n]


def student_nfe(num_steps: int, afs: bool) -> int:
    """Euler over n states: n - 1 evaluations, one fewer with AFS (sfd-main: NFE = num_steps - 2 with AFS)."""
    return num_steps - 1 - int(afs)


def teacher_run(cfg: dict[str, Any]) -> str:
    """The teacher it distils, a folder under results/<profile>/teachers: a Table 1 run
    '<parameterization>-<weighting>-s<seed>', or an official EDM network or a diffusers pipeline imported under its
    artifact name."""
    t = cfg["sfd"]["teacher"]
    if t.get("edm") or t.get("diffusers"):
        return t.get("edm") or t["diffusers"]
    return f"{t['parameterization']}-{t['weighting']}-s{t['seed']}"


def curve_runs(cfg: dict[str, Any]) -> list[str]:
    """The runs with a budget curve (sfd.curve; none without one)."""
    c = cfg["sfd"].get("curve")
    return list(c["runs"]) if c else []


def curve_iterations(cfg: dict[str, Any], run: str) -> list[int]:
    """A curve run's evaluated iterations of the whole run, 0 (the teacher) first: sfd.curve.iterations per step
    count, times an SFD-v run's step counts (it trains each a share of its iterations)."""
    return [0] + [i * len(step_counts(run_settings(cfg, run))) for i in cfg["sfd"]["curve"]["iterations"]]


def snapshot_every(cfg: dict[str, Any], run: str) -> int | None:
    """The interval of a curve run's snapshots (every iteration the curve evaluates is a multiple), None off it."""
    if run not in curve_runs(cfg):
        return None
    return math.gcd(*curve_iterations(cfg, run)[1:])


def solver_grid(cfg: dict[str, Any], name: str) -> tuple[str, dict[str, float]]:
    """A solver row's grid and its options from sfd.grid (edm_logsnr takes the sigma range, not rho)."""
    grid = cfg["sfd"]["solvers"][name]["grid"]
    takes = grid_options(grid)
    return grid, {k: v for k, v in cfg["sfd"]["grid"].items() if k in takes}


def solver_points(cfg: dict[str, Any]) -> list[tuple[str, int]]:
    """(solver name, NFE) of every evaluated teacher-solver point."""
    return [(name, nfe) for name, s in cfg["sfd"]["solvers"].items() for nfe in s["nfe"]]


def solver_steps(cfg: dict[str, Any], name: str, nfe: int) -> int:
    """The num_steps that give a solver `nfe` evaluations (its registered count); an NFE it cannot make is an error."""
    s = cfg["sfd"]["solvers"][name]
    spec = get_sampler(s["sampler"])
    for n in range(2, 4 * nfe + 3):
        if spec.nfe(n, s["options"]) == nfe:
            return n
    raise ValueError(f"sfd.solvers.{name}: {s['sampler']} with {s['options']} cannot make exactly {nfe} evaluations")


def student_points(cfg: dict[str, Any]) -> list[tuple[str, int]]:
    """(run, num_steps) of every evaluated student point."""
    return [(run, n) for run in cfg["sfd"]["runs"] for n in step_counts(run_settings(cfg, run))]


def gits_points(cfg: dict[str, Any]) -> list[tuple[str, int]]:
    """(solver name of sfd.solvers, NFE) of every GITS point (none without an sfd.gits section)."""
    g = cfg["sfd"].get("gits")
    return [] if not g else [(name, nfe) for name in g["solvers"] for nfe in g["nfe"]]


def sampling_record(settings: dict[str, Any], step_condition: bool) -> dict[str, Any]:
    """What a student's model.json records so that `distill sample` needs no flags: Euler with its AFS on its
    polynomial grid, its num_steps (SFD-v: given per sampling, also as the `steps` condition)."""
    n = settings["num_steps"]
    return {"sampler": STUDENT_SAMPLER, "options": {"afs": settings["afs"]}, "grid": "edm",
            "grid_options": dict(settings["grid"]), "steps": None if isinstance(n, list) else n,
            "step_condition": "steps" if step_condition else None}


# ---- the training step ----


def iterations(settings: dict[str, Any]) -> int:
    """Training iterations: the run's trajectories in batches (sfd-main: total_kimg x 1000 / batch)."""
    return max(1, settings["train"]["trajectories"] // settings["train"]["batch_size"])


def lr_schedule(settings: dict[str, Any]):
    """lr, then lr / 10 once lr_drop of the trajectories are done (training_loop.py checks cur_nimg >= half before
    counting the iteration just made, so the drop starts one iteration after the half)."""
    t = settings["train"]
    lr, batch, half = t["lr"], t["batch_size"], t["lr_drop"] * t["trajectories"]
    return lambda step: lr / 10 if step >= 1 and (step - 1) * batch >= half else lr


def train_config(settings: dict[str, Any], seed: int, precision: str = "fp32"):
    """Adam without weight decay, clipping or EMA (sfd-main/train.py: Adam(lr, betas (0.9, 0.999), eps 1e-8))."""
    t = settings["train"]
    return TrainConfig(steps=iterations(settings), batch_size=t["batch_size"], lr=t["lr"],
                       adam_betas=tuple(t["adam_betas"]), checkpoint_every=t["checkpoint_every"],
                       log_every=t["log_every"], seed=seed, precision=precision)


def teacher_evaluations(settings: dict[str, Any], first_stage: dict[str, Any] | None = None) -> float:
    """The teacher's network evaluations per trajectory, averaged over SFD-v's step counts."""
    if first_stage is not None:
        spec, options = get_sampler("euler"), {"afs": first_stage["options"]["afs"]}
    else:
        spec, options = get_sampler(settings["teacher_solver"]["sampler"]), settings["teacher_solver"]["options"]
    counts = step_counts(settings)
    return sum(spec.nfe(teacher_grid_size(n, settings["inserted"]), options) for n in counts) / len(counts)


# ---- commands ----


JOBS = "distill.plugins.sfd_commands:"  # its commands' options and work (distill gpu-hours)
COMMANDS = (
    Command("sfd-spread", "distill.reports.spread:sfd_command",
            "SFD: the students' training-seed spread and each number's tolerance",
            "Collect every SFD run without an ablation (SFD at each NFE, SFD-v, the second stage) trained with its own "
            "student seed and each sfd.spread_seeds seed: the FID of each seed, mean, standard deviation and "
            "tolerance. Writes a CSV (results/<profile>/spread/sfd.csv) and a PDF.", spread_io),
    Command("sfd-train", "distill.steps.sfd:train_command",
            "SFD: train one run's student along its own Euler trajectory; resumes if interrupted",
            "Train the student of sfd.runs.<RUN> (SFD, SFD-v or the second stage; Zhou et al. 2024): from the "
            "teacher's weights, one optimizer step per student Euler step towards the teacher solver's state on "
            "the fine grid, fresh noise every iteration, no data. The student's model.json records its sampler, grid "
            "and num_steps, so `distill sample --model` needs no sampler flags.",
            named(JOBS + "train_options"), job="distill", data_parallel=True, cost=named(JOBS + "train_work")),
    Command("sfd-gits", "distill.steps.sfd:gits_command",
            "SFD Table 2's GITS baseline: search a solver's time schedule, sample on it",
            "GITS (Chen, Zhou et al. 2024): run the teacher's solver over a fine grid on sfd.gits.trajectories "
            "trajectories, price every Euler step between two of its states, choose the schedule of --nfe "
            "evaluations by dynamic programming, and draw the protocol's samples on it with the solver.",
            named(JOBS + "gits_options"), job="sample", cost=named(JOBS + "gits_work")),
    Command("sfd-curve", "distill.steps.sfd:curve_command",
            "SFD's budget curve: evaluate one run's students saved along training",
            "Sample and evaluate the snapshots a run of sfd.curve.runs saved at sfd.curve.iterations (per step "
            "count; 0 is the teacher with the student's sampler), every step count of an SFD-v run at each: FID "
            "against training iterations, which shows whether the run's budget converged.",
            named(JOBS + "curve_options"), job="evaluate", cost=named(JOBS + "curve_work")),
    Command("sfd-report", "distill.reports.sfd:command", "SFD: its rows of the results table and its report",
            "Write SFD's rows of the results table (the teacher's solvers, every student at its NFE, with costs), "
            "a JSON summary, and reports/sfd.pdf: SFD Table 2's layout with the PD and KD rows of the same teacher, "
            "Figure 1 (FID against fine-tuning time) and the ablations.", named(JOBS + "report_options")),
)


# profile's whole batch would take the benchmark several times its budget (tests/README.md); the overhead ratio of a
# smaller batch is the stricter one (the step's fixed work weighs more)


def targets(cfg) -> list[str]:
    return [paths("", e)["pdf"] for e in [None, *experiments(cfg)]]


def rows(cfg, results: str) -> list[str]:
    return [paths(results, e)["rows"] for e in [None, *experiments(cfg)]]


def subjects(cfg, results: Path) -> dict[str, dict[str, Any]]:
    """The section's summary (its claims; an experiment's report has no claims of its own)."""
    path = Path(results) / "sfd.json"
    return {"sfd": {"sfd": json.loads(path.read_text())}} if path.exists() else {}


METHOD = Method(
    name="sfd", label=LABEL,
    reproduces={("SFD", "Table 2"): frozenset({LABEL, LABEL_V, LABEL_SECOND, "DDIM", "DPM++(3M)", "GITS",  # CIFAR-10
                                               "PD", KD_LABEL}),
                ("SFD", "Table 3"): frozenset({LABEL, LABEL_V, LABEL_SECOND, "DDIM", "DPM++(3M)", "GITS"}),  # ImageNet
                ("SFD", "Figure 1"): frozenset({"DDIM", "DPM++", "iPNDM", "GITS"})},  # solver points read off the plot
    tolerances={("SFD", "Table 2", "FID"): NumberTolerance("rel", 0.10, FEW_STEP),
                ("SFD", "Table 3", "FID"): NumberTolerance("rel", 0.10, FEW_STEP),
                # values read off the plot (PLOT provenance): the reading adds its own error
                ("SFD", "Figure 1", "FID"): NumberTolerance("rel", 0.20,
                                                            FEW_STEP + "; the published values are read off a plot")},
    sections=("data", "network", "teacher", "sampling", "evaluation", "classifier", "device", "precision", "threads"),
    commands=COMMANDS, targets=targets, rows=rows, published_rows=named("distill.reports.sfd:published_rows"),
    subjects=subjects, dvc_outs=("sfd",), dvc_small=("sfd_metrics",),
    dvc_metrics=lambda cfg: [f"sfd{tag(e)}.json" for e in [None, *experiments(cfg)]],
    dvc_plots=lambda cfg: [(f"plots/sfd{tag(e)}/losses", *LOSS_XY) for e in [None, *experiments(cfg)]],
    training_steps=named("distill.steps.sfd:training_steps"), check=named("distill.plugins.sfd_check:check"),
    # SFD Table 2 lists PD's students as "PD" and KD's one-step student (not published there) beside its own rows:
    # those of PD Table 2, on SFD's teacher (the report keeps one teacher's rows)
    gathers={("SFD", "Table 2"): {("PD", "Table 2"): {PD_LABEL: "PD", KD_LABEL: KD_LABEL}}},
)
