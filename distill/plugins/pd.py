"""Progressive Distillation (Salimans & Ho 2022, Algorithm 2, Fig. 4, Table 2) as a plug-in.

Files: math distill/methods/progressive.py; steps distill/steps/pd.py (a round: the round step
distill/pipeline/distill_round.py that guided distillation shares, with PD's settings); layout
distill/plugins/pd_layout.py; commands and card here; rules workflows/methods/pd.smk; reports distill/reports/pd.py
(Fig. 4, App. F, cost) and table2.py; claims distill/claims/pd.py; params section `pd` (schema
workflows/schema/methods/pd.json).
"""

from __future__ import annotations


from distill.bench.work import Unit
from distill.results.tolerance import FEW_STEP, NumberTolerance
from distill.commands.options import (captions_option, experiment_report_io, floor_option, positive_int, report_io,
                                     spread_io)
from distill.commands.spec import Command
from distill.registry import Method, named
from distill.results import LOSS_XY
from distill.commands.paths import run_folder
from distill.experiment_views import method_experiments, spread_experiment
from distill.plugins.pd_layout import round_updates

LABEL = "Progressive Distillation (ours)"  # PD Table 2's name for it
DDIM_LABEL = "DDIM (Song et al., 2021a)"
NFES = (1, 2, 4, 8)  # PD Table 2's step counts of the distilled students
# Fig. 4 curve -> (method, sampler) of the published figure
FIG4_CURVES = {"distilled_ddim": ("distilled", "ddim"), "distilled_stochastic": ("distilled", "ancestral"),
               "teacher_ddim": ("undistilled", "ddim"), "teacher_stochastic": ("undistilled", "ancestral")}


def round_work(cfg, args, producers):
    """A round's updates of the experiment's distillation step (its network, batch and two teacher steps)."""
    exp = cfg["pd"]["experiments"][args.experiment]
    return [(Unit("train", ("pd", args.experiment), ("pd", "distillation")), round_updates(exp, args.student_steps))]


def _round_options(p):
    p.add_argument("--student-steps", type=positive_int, required=True, help="N, the student's sampling steps")
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher (2N steps)")
    captions_option(p)
    run_folder(p, "model.safetensors, model.json, summary.json")


def _table2_options(p):
    p.add_argument("--rows", nargs="+", required=True, help="the results-table parts of the contributing methods")
    p.add_argument("--spread", nargs="+", default=None,
                   help="the spread targets' CSVs (results/<profile>/spread/pd.csv and kd.csv; absent ones are "
                        "skipped): each student's seed std, shown beside the numbers it was measured for")
    report_io(p, results=False)
    floor_option(p)


def _report_options(p):
    experiment_report_io(p, "output JSON summary (DVC metrics; claim subject)")


COMMANDS = (
    Command("pd-round", "distill.steps.pd:round_command",
            "one round of Progressive Distillation (PD Algorithm 2); resumes if interrupted",
            "Distil a teacher sampled with 2N DDIM steps into a student of N steps: the student starts from the "
            "teacher's weights, is trained on two-step DDIM targets at the discrete times i/N with a fresh optimizer "
            "and a learning rate annealed to 0, with the settings of pd.experiments.<EXPERIMENT>. The teacher is the "
            "trained teacher (first round) or the previous round's student.", _round_options, method="pd",
            job="distill", data_parallel=True, cost=round_work),
    Command("pd-report", "distill.reports.pd:command",
            "PD Fig. 4 for one experiment: FID vs steps, App. F, cost and claims",
            "Write the experiment's rows of the results table (every evaluation with its model's cost), then from "
            "them draw FID against steps beside the paper's known points, tabulate the students' DDIM vs stochastic "
            "FID and the cost of every round, and check the paper's claims.", _report_options, method="pd"),
    Command("pd-spread", "distill.reports.spread:pd_command",
            "the PD students' training-seed spread and each number's tolerance",
            "Collect every student of every PD experiment (DDIM at its own steps) distilled from the teacher of its "
            "training seed and of each pd.spread_seeds seed: the FID of each seed, mean, standard deviation and "
            "tolerance. Writes a CSV (results/<profile>/spread/pd.csv) and a PDF.", spread_io),
    Command("table2", "distill.reports.table2:command",
            "build PD Table 2 (published rows beside the reproduced ones) as CSV and PDF",
            "Put the published fast-sampling rows of PD Table 2 beside this profile's reproduced rows of every "
            "method that reproduces one (PD, DDIM, knowledge distillation, ...), each with its cost, from their "
            "parts of the results table.", _table2_options),
)


def targets(cfg) -> list[str]:
    return [f"reports/pd_fig4_{e}.pdf" for e in cfg["pd"]["experiments"]] + ["reports/table2.pdf"]


def rows(cfg, results: str) -> list[str]:
    return [f"{results}/rows/pd-{e}.csv" for e in cfg["pd"]["experiments"]]


def check(cfg) -> list[tuple[str, str]]:
    """Every experiment's teacher steps halve down to 1 (Algorithm 2); the spread seeds are extra seeds."""
    out = []
    for seed in cfg["pd"].get("spread_seeds") or []:
        for name, exp in cfg["pd"]["experiments"].items():
            if seed == exp["seed"]:
                out.append(("pd.spread_seeds", f"seed {seed} is experiment {name}'s own seed; the spread seeds are "
                                               "the extra ones"))
            if spread_experiment(name, seed) in cfg["pd"]["experiments"]:
                out.append((f"pd.experiments.{spread_experiment(name, seed)}",
                            f"the name is taken by the spread run of {name} with seed {seed}; rename the experiment"))
    for name, exp in cfg["pd"]["experiments"].items():
        n = exp["teacher_steps"]
        if n < 2 or n & (n - 1):
            out.append((f"pd.experiments.{name}.teacher_steps",
                        f"{n} is not a power of two >= 2 (each round halves the steps down to 1)"))
        if exp["data"] is not None and not cfg["evaluation"]["feature_extractor_weights"]:
            out.append((f"pd.experiments.{name}.data", "an experiment with its own data set needs a feature extractor "
                                                       "of its own: the profile's is the classifier of the profile's "
                                                       "data; name evaluation.feature_extractor_weights (e.g. "
                                                       "Inception)"))
    experiments = method_experiments(cfg, "pd")
    if cfg["pd"]["table2"] not in experiments:
        out.append(("pd.table2", f"{cfg['pd']['table2']!r} is not one of pd.experiments {sorted(experiments)}"))
    return out


METHOD = Method(
    name="pd", label=LABEL,
    reproduces={("PD", "Figure 4"): None, ("PD", "Table 2"): frozenset({LABEL, DDIM_LABEL})},
    tolerances={("PD", "Table 2", "FID"): NumberTolerance("rel", 0.10, FEW_STEP),
                ("PD", "Figure 4", "FID"): NumberTolerance("rel", 0.10, FEW_STEP)},
    sections=("data", "network", "teacher", "sampling", "evaluation", "classifier", "device", "precision", "threads"),
    commands=COMMANDS, targets=targets, rows=rows, published_rows=named("distill.reports.pd:published_rows"),
    subjects=named("distill.reports.pd:subjects"),
    dvc_outs=("pd",), dvc_small=("pd_metrics",),
    dvc_metrics=lambda cfg: [f"pd_{e}.json" for e in cfg["pd"]["experiments"]],
    dvc_plots=lambda cfg: [p for e in cfg["pd"]["experiments"]
                           for p in ((f"plots/pd_{e}/fig4", "steps", "fid"), (f"plots/pd_{e}/losses", *LOSS_XY))],
    check=check, training_steps=named("distill.steps.pd:training_steps"),
)
