"""PD Table 1 (Salimans & Ho 2022): teachers trained with every output parameterization x loss weighting, sampled
with DDIM and the stochastic sampler, no distillation. Its jobs are the suite's shared ones (classifier, reference
statistics, teacher training, sampling, evaluation), so its job time counts every job no other method owns.

Files: math distill/methods/teacher.py; steps distill/pipeline/train_teacher.py (core: every method trains teachers
with it); rules workflows/methods/table1.smk; report distill/reports/table1.py; claims distill/claims/table1.py;
params section `table1` (schema workflows/schema/methods/table1.json).
"""

from __future__ import annotations

from typing import Any

from distill.results.tolerance import NumberTolerance
from distill.commands.options import floor_option, report_io, spread_io
from distill.commands.spec import Command
from distill.registry import Method, named
from distill.results import LOSS_XY

LABEL = "teacher (no distillation)"


# PD Table 1's tolerance at the paper scale (distill compare)
TABLE1_NOISE = ("PD Table 1's caption puts its own seed-to-seed noise at ±0.1; three times that allows for the "
                "Inception port and FID protocol (NOT FOUND in the paper)")


def run_name(parameterization: str, weighting: str, seed: int) -> str:
    """A Table 1 run's name, '<parameterization>-<weighting>-s<seed>': its folders under teachers/, samples/,
    metrics/ and benchmarks/ of results/<profile> (workflows/methods/table1.smk)."""
    return f"{parameterization}-{weighting}-s{seed}"


def spread_seeds(t: dict[str, Any]) -> list[int]:
    """Table 1's training seeds with the spread target's extra ones (table1.seeds + table1.spread_seeds)."""
    return sorted(set(t["seeds"]) | set(t.get("spread_seeds") or []))


def _report_options(p):
    report_io(p, "metrics JSON (DVC metrics file; claim subject)")
    p.add_argument("--rows", required=True, help="output: Table 1's part of the results table (CSV)")
    floor_option(p)
    p.add_argument("--spread", default=None,
                   help="the spread target's CSV (results/<profile>/spread/table1.csv): each cell's seed std, shown "
                        "beside the numbers it was measured for")
    p.add_argument("--remade", default=None,
                   help="`distill remade --write`'s CSV (results/<profile>/remade/table1.csv), where present: how "
                        "far these numbers moved when re-made on another machine, said in the caption")


COMMANDS = (
    Command("table1", "distill.reports.table1:command",
            "build PD Table 1 (reproduced beside published) as CSV, JSON and PDF",
            "Write Table 1's rows of the results table, collect the grid from them, put it beside the published "
            "CIFAR-10 numbers, check the paper's claims, and write the table.", _report_options),
    Command("table1-spread", "distill.reports.spread:table1_command",
            "Table 1's training-seed spread and each number's tolerance",
            "Collect every Table 1 cell over table1.seeds and table1.spread_seeds: the FID of each training seed, "
            "mean, standard deviation, and the tolerance `distill verify` judges a re-run by. Writes a CSV "
            "(results/<profile>/spread/table1.csv) and a PDF.", spread_io),
)


def check(cfg) -> list[tuple[str, str]]:
    t = cfg["table1"]
    both = sorted(set(t["seeds"]) & set(t.get("spread_seeds") or []))
    return [("table1.spread_seeds", f"seeds {both} are also in table1.seeds; the spread seeds are the extra ones")] \
        if both else []


def targets(cfg) -> list[str]:
    return ["reports/table1.pdf"]


def rows(cfg, results: str) -> list[str]:
    return [f"{results}/rows/table1.csv"]


METHOD = Method(
    name="table1", label=LABEL, reproduces={("PD", "Table 1"): None},
    tolerances={("PD", "Table 1", "FID"): NumberTolerance("abs", 0.3, TABLE1_NOISE),
                ("PD", "Table 1", "IS"): NumberTolerance("abs", 0.3, TABLE1_NOISE)},
    sections=("data", "network", "teacher", "sampling", "evaluation", "classifier", "device", "precision", "threads"),
    commands=COMMANDS, targets=targets, rows=rows, published_rows=named("distill.reports.table1:published_rows"),
    subjects=named("distill.reports.table1:subjects"),
    dvc_outs=("classifier", "teachers", "samples", "refs"), dvc_small=("metrics", "floor"),
    dvc_metrics=lambda cfg: ["table1.json"], dvc_plots=lambda cfg: [("plots/table1/losses", *LOSS_XY)],
    jobs_shared=True, check=check, training_steps=named("distill.steps.table1:training_steps"),
)
