"""Progressive Distillation (Salimans & Ho 2022, Algorithm 2, Fig. 4, Table 2) as a plug-in.

Files: math distill/methods/progressive.py; steps distill/pipeline/distill_round.py and pd_layout.py; rules
workflows/methods/pd.smk; reports distill/reports/pd.py (Fig. 4, App. F, cost) and table2.py; claims
distill/claims/pd.py; params section `pd` (schema workflows/schema/methods/pd.json).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.plugins import Method, TrainingStep
from distill.results.plots import LOSS_XY

LABEL = "Progressive Distillation (ours)"  # PD Table 2's name for it
DDIM_LABEL = "DDIM (Song et al., 2021a)"
NFES = (1, 2, 4, 8)  # PD Table 2's step counts of the distilled students
# Fig. 4 curve -> (method, sampler) of the published figure
FIG4_CURVES = {"distilled_ddim": ("distilled", "ddim"), "distilled_stochastic": ("distilled", "ancestral"),
               "teacher_ddim": ("undistilled", "ddim"), "teacher_stochastic": ("undistilled", "ancestral")}


def _round(args, cfg, progress):
    from distill.pipeline import distill_round

    summary = distill_round.run(cfg, args.experiment, args.student_steps, args.teacher, args.out, args.threads,
                                progress)
    print(f"{summary['status']} after {summary['steps']} updates")


def _report(args, cfg, progress):
    from distill.reports import pd as pd_report

    summary = pd_report.build(cfg, args.experiment, Path(args.results), Path(args.published), Path(args.pdf),
                              Path(args.csv), Path(args.json), Path(args.rows), Path(args.plots),
                              Path(args.benchmarks) if args.benchmarks else None)
    for claim in summary["claims"]:
        print(f"{claim['status']:>13}: {claim['claim']} ({claim['detail']})")


def _table2(args, cfg, progress):
    from distill.reports import table2

    table2.build(cfg, [Path(p) for p in args.rows], Path(args.published), Path(args.pdf), Path(args.csv),
                 Path(args.spread) if args.spread else None)


def _spread(args, cfg, progress):
    from distill.reports import spread

    df = spread.build_pd(cfg, Path(args.results), Path(args.pdf), Path(args.csv))
    print(df[["cell", "sampler", "seeds", "mean", "std", "tolerance", "status"]].to_string(index=False))


def round_work(cfg, args, producers):
    """A round's updates of the experiment's distillation step (its network, batch and two teacher steps)."""
    from distill.bench.work import Unit
    from distill.pipeline.pd_layout import round_updates

    exp = cfg["pd"]["experiments"][args.experiment]
    return [(Unit("train", ("pd", args.experiment), ("pd", "distillation")), round_updates(exp, args.student_steps))]


def add_commands(sub) -> None:
    from distill.cli import add_command, positive_int, report_io

    p = add_command(sub, "pd-round", _round,
                    "one round of Progressive Distillation (PD Algorithm 2); resumes if interrupted",
                    method="pd", job="distill", data_parallel=True, cost=round_work,
                    description="Distil a teacher sampled with 2N DDIM steps into a student of N steps: the "
                                   "student starts from the teacher's weights, is trained on two-step DDIM targets at "
                                   "the discrete times i/N with a fresh optimizer and a learning rate annealed to 0, "
                                   "with the settings of pd.experiments.<EXPERIMENT>. The teacher is the trained "
                                   "teacher (first round) or the previous round's student.")
    p.add_argument("--student-steps", type=positive_int, required=True, help="N, the student's sampling steps")
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher (2N steps)")
    p.add_argument("--out", required=True, help="output folder (model.safetensors, model.json, summary.json)")

    p = add_command(sub, "pd-report", _report, "PD Fig. 4 for one experiment: FID vs steps, App. F, cost and claims",
                    method="pd", description="Write the experiment's rows of the results table (every evaluation with its "
                                   "model's cost), then from them draw FID against steps beside the paper's known "
                                   "points, tabulate the students' DDIM vs stochastic FID and the cost of every "
                                   "round, and check the paper's claims.")
    report_io(p, "output JSON summary (DVC metrics; claim subject)")
    p.add_argument("--rows", required=True, help="output: this experiment's part of the results table (CSV)")

    p = add_command(sub, "pd-spread", _spread, "the PD students' training-seed spread and each number's tolerance",
                    description="Collect every student of every PD experiment (DDIM at its own steps) distilled from "
                                "the teacher of its training seed and of each pd.spread_seeds seed: the FID of each "
                                "seed, mean, standard deviation and tolerance. Writes a CSV "
                                "(results/<profile>/spread/pd.csv) and a PDF.")
    p.add_argument("--results", required=True, help="results/<profile> folder")
    p.add_argument("--pdf", required=True, help="output PDF")
    p.add_argument("--csv", required=True, help="output CSV")

    p = add_command(sub, "table2", _table2, "build PD Table 2 (published rows beside the reproduced ones) as CSV and PDF",
                    description="Put the published fast-sampling rows of PD Table 2 beside this profile's "
                                   "reproduced rows of every method that reproduces one (PD, DDIM, knowledge "
                                   "distillation, ...), each with its cost, from their parts of the results table.")
    p.add_argument("--rows", nargs="+", required=True, help="the results-table parts of the contributing methods")
    p.add_argument("--spread", default=None,
                   help="the PD spread target's CSV (results/<profile>/spread/pd.csv): the students' seed std")
    report_io(p, results=False)


def targets(cfg) -> list[str]:
    return [f"reports/pd_fig4_{e}.pdf" for e in cfg["pd"]["experiments"]] + ["reports/table2.pdf"]


def rows(cfg, results: str) -> list[str]:
    return [f"{results}/rows/pd-{e}.csv" for e in cfg["pd"]["experiments"]]


def published_rows(table, cfg):
    """Fig. 4's four curves (stochastic at the best gamma per step count) and Table 2's PD and DDIM rows."""
    from distill.reports import pd as pd_report
    from distill.reports.reproduced import frame, keyed

    out = []
    for name, exp in cfg["pd"]["experiments"].items():
        part = table[table["experiment"] == name]
        if part.empty:
            continue
        from distill.pipeline.pd_layout import fig4_steps

        curves = pd_report.curves_from_rows(part, fig4_steps(exp["teacher_steps"]))
        for curve, (method, sampler) in FIG4_CURVES.items():
            for r in curves[curves["curve"] == curve].itertuples():
                out.append(keyed("PD", "Figure 4", exp["reproduces"], method, "FID", r, r.fid, r.status,
                                 sampler=sampler, steps=str(r.steps)))
        if name == cfg["pd"]["table2"] and exp["reproduces"] == "cifar10":  # PD Table 2 is CIFAR-10 only
            for r in curves[curves["curve"] == "distilled_ddim"].itertuples():
                if r.steps in NFES:
                    out.append(keyed("PD", "Table 2", "cifar10", LABEL, "FID", r, r.fid, r.status, steps=str(r.steps)))
            for r in curves[curves["curve"] == "teacher_ddim_all"].itertuples():
                out.append(keyed("PD", "Table 2", "cifar10", DDIM_LABEL, "FID", r, r.fid, r.status,
                                 steps=str(r.steps)))
    return frame(out)


def subjects(cfg, results: Path) -> dict[str, dict[str, Any]]:
    from distill.reports.reproduced import read_summary

    found = {name: s for name in cfg["pd"]["experiments"] if (s := read_summary(results / f"pd_{name}.json"))}
    return {"pd_experiment": found}


def training_steps(cfg, device="cpu") -> dict[str, TrainingStep]:
    """One update of the first round of the first experiment (Algorithm 2: two DDIM steps of the frozen teacher, the
    target, the student's loss, backward, clipping, AdamW), the teacher a fresh Table 1 teacher."""
    from distill.config import experiment_profile
    from distill.core.training import SINGLE, Part, TrainConfig, one_loss_step
    from distill.data import load_dataset
    from distill.pipeline.distill_round import distillation_step
    from distill.pipeline.pd_layout import round_updates
    from distill.pipeline.train_teacher import teacher_step

    name, exp = next(iter(cfg["pd"]["experiments"].items()))
    ecfg, s, student_steps = experiment_profile(cfg, "pd", name), exp["train"], exp["teacher_steps"] // 2
    data = load_dataset(ecfg["data"])
    teacher, model_cfg, _ = teacher_step(ecfg, data, exp["parameterization"], exp["teacher_weighting"], exp["seed"],
                                         device)
    teacher.eval().requires_grad_(False)
    student_cfg = {**model_cfg, "network": {**model_cfg["network"], "dropout": s["dropout"]}}
    student, loss_fn = distillation_step(exp, data, student_cfg, teacher, student_steps, device)
    tcfg = TrainConfig.from_params({**s, "steps": round_updates(exp, student_steps)})  # the round's lr anneal
    return {"distillation": TrainingStep({SINGLE: Part(student.net, tcfg)},
                                         one_loss_step(student.net, loss_fn, s["batch_size"]), s["batch_size"],
                                         "2 teacher forwards without gradient + 1 student forward and backward",
                                         frozen=(teacher.net,))}


def check(cfg) -> list[tuple[str, str]]:
    """Every experiment's teacher steps halve down to 1 (Algorithm 2); the spread seeds are extra seeds."""
    from distill.config import spread_experiment

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
    return out


METHOD = Method(
    name="pd", label=LABEL,
    reproduces={("PD", "Figure 4"): None, ("PD", "Table 2"): frozenset({LABEL, DDIM_LABEL})},
    sections=("data", "network", "teacher", "sampling", "evaluation", "classifier", "device", "precision", "threads"),
    add_commands=add_commands, targets=targets, rows=rows, published_rows=published_rows, subjects=subjects,
    dvc_outs=("pd",), dvc_small=("pd_metrics",),
    dvc_metrics=lambda cfg: [f"pd_{e}.json" for e in cfg["pd"]["experiments"]],
    dvc_plots=lambda cfg: [p for e in cfg["pd"]["experiments"]
                           for p in ((f"plots/pd_{e}/fig4", "steps", "fid"), (f"plots/pd_{e}/losses", *LOSS_XY))],
    check=check, training_steps=training_steps,
)
