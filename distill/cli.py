"""The `distill` command line. Each sub-command is one step of the pipeline; Snakemake rules call them.

Every sub-command reads its hyperparameters from params.yaml (validated against workflows/schema/) and the
profile named by --profile (default: the file's `profile`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from distill.config import DEFAULT_PARAMS, ConfigError, experiment_profile, load_profile
from distill.reports.published import PUBLISHED_CSV


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default=str(DEFAULT_PARAMS), help="params file (default: %(default)s)")
    p.add_argument("--profile", default=None, help="profile in params.yaml: smoke, mini or paper (default: the file's)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--experiment", default=None,
                   help="a pd.experiments entry: use its data, network and teacher training instead of the profile's")


def _report_io(p: argparse.ArgumentParser, published: str, json_help: str | None = None,
               results: bool = True) -> None:
    """The inputs and outputs every report command shares."""
    if results:
        p.add_argument("--results", required=True, help="results/<profile> folder")
        p.add_argument("--benchmarks", default=None,
                       help="folder of Snakemake benchmark .tsv files; their total job time goes in the report")
    p.add_argument("--published", default=published, help="published numbers (CSV; default: %(default)s)")
    p.add_argument("--pdf", required=True, help="output PDF")
    p.add_argument("--csv", required=True, help="output CSV")
    if json_help:
        p.add_argument("--json", required=True, help=json_help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distill",
        description="distill: reproduce diffusion-distillation papers on one shared PyTorch core. The usual entry "
                    "point is Snakemake (`snakemake --cores all -- reports/table1.pdf`), which calls these steps.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check-params", help="validate params.yaml against the schema and print the active profile",
                       description="Validate params.yaml against workflows/schema/params.schema.json; exit 1 naming "
                                   "every bad key, else print the selected profile's settings as JSON.")
    _common(p)

    p = sub.add_parser("train-classifier", help="train the domain classifier used as FID feature extractor",
                       description="Train the small CNN classifier on the profile's data set (a held-out split "
                                   "measures its accuracy); its penultimate features define FID on embedded data.")
    _common(p)
    p.add_argument("--out", required=True, help="output folder (model.safetensors, model.json, metrics.json)")

    p = sub.add_parser("train-teacher", help="train one diffusion teacher (PD Algorithm 1); resumes if interrupted",
                       description="Continuous-time diffusion training with the given output parameterization and "
                                   "loss weighting. The training state is saved atomically every "
                                   "teacher.checkpoint_every steps; re-running the same command resumes and ends "
                                   "with the same weights. A non-finite loss stops training and is recorded as "
                                   "'diverged' in summary.json.")
    _common(p)
    p.add_argument("--parameterization", required=True, choices=["both", "x", "eps", "v"])
    p.add_argument("--weighting", required=True, choices=["snr", "snr_trunc", "snr_plus_one", "constant"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (model.safetensors, model.json, summary.json, log.jsonl)")

    p = sub.add_parser("pd-round", help="one round of Progressive Distillation (PD Algorithm 2); resumes if interrupted",
                       description="Distil a teacher sampled with 2N DDIM steps into a student of N steps: the student "
                                   "starts from the teacher's weights, is trained on two-step DDIM targets at the "
                                   "discrete times i/N with a fresh optimizer and a learning rate annealed to 0, with "
                                   "the settings of pd.experiments.<EXPERIMENT>. The teacher is the trained teacher "
                                   "(first round) or the previous round's student.")
    _common(p)
    p.add_argument("--student-steps", type=int, required=True, help="N, the student's sampling steps")
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher (2N steps)")
    p.add_argument("--out", required=True, help="output folder (model.safetensors, model.json, summary.json)")

    p = sub.add_parser("sample", help="draw evaluation samples from a trained model",
                       description="Draw evaluation.num_samples images (seed i for image i, so results do not depend "
                                   "on the batch size) with the DDIM or the ancestral sampler; write an .npz.")
    _common(p)
    p.add_argument("--model", required=True, help="model.safetensors of a trained model")
    p.add_argument("--sampler", required=True, choices=["ddim", "ancestral"])
    p.add_argument("--num-samples", type=int, default=None,
                   help="images to draw (default: evaluation.seed_ranges x evaluation.num_samples)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps (default: sampling.steps)")
    p.add_argument("--gamma", type=float, default=None,
                   help="variance exponent of the ancestral sampler (default: sampling.ancestral_gamma)")
    p.add_argument("--out", required=True, help="output .npz")

    p = sub.add_parser("evaluate", help="evaluate a samples .npz under the protocol (FID, KID, IS, PR, PRDC)",
                       description="Evaluate the samples of `distill sample` against reference statistics under the "
                                   "protocol of params.yaml (evaluation.*): every metric on each of seed_ranges "
                                   "disjoint ranges of num_samples images, reported as minimum and mean. Writes a "
                                   "JSON record and a PNG grid of the first 64 samples.")
    _common(p)
    p.add_argument("--samples", required=True, help=".npz written by `distill sample`")
    p.add_argument("--reference", required=True, help="reference statistics .npz (`distill fid ref`)")
    p.add_argument("--extractor-weights", default=None,
                   help="feature-extractor weights (default: evaluation.feature_extractor_weights)")
    p.add_argument("--out", required=True, help="output metrics .json")
    p.add_argument("--grid", required=True, help="output PNG grid of the first 64 samples")

    p = sub.add_parser("fid", help="reference statistics and metrics by hand (ref, calc, curve), as EDM's fid.py",
                       description="ref: reference statistics of a data set; calc: protocol metrics of images or a "
                                   "model; curve: FID against the number of samples.")
    fid_sub = p.add_subparsers(dest="fid_command", required=True, metavar="ACTION")
    q = fid_sub.add_parser("ref", help="compute reference statistics (.npz) of real images",
                           description="Features of real images under evaluation.feature_extractor: FID mean and "
                                       "covariance plus the features KID/PR/PRDC need. Default images: the profile's "
                                       "data set.")
    _common(q)
    q.add_argument("--images", default=None, help="folder, .zip or .npz of images (default: the profile's data set)")
    q.add_argument("--extractor-weights", default=None, help="default: evaluation.feature_extractor_weights")
    q.add_argument("--out", required=True, help="output .npz")
    q = fid_sub.add_parser("calc", help="protocol metrics of images (folder, .zip, .npz) or of a model",
                           description="Evaluate images, or a model sampled on the protocol's seeds, against "
                                       "reference statistics; print the metrics as JSON.")
    _common(q)
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="folder, .zip or .npz of generated images, ordered by seed")
    src.add_argument("--model", help="model.safetensors to sample from")
    q.add_argument("--sampler", default="ddim", choices=["ddim", "ancestral"], help="with --model")
    q.add_argument("--ref", required=True, help="reference statistics .npz")
    q.add_argument("--extractor-weights", default=None, help="default: evaluation.feature_extractor_weights")
    q.add_argument("--out", default=None, help="also write the JSON here")
    q = fid_sub.add_parser("curve", help="FID against the number of samples (choose evaluation.num_samples)",
                           description="FID of evaluation.curve.sizes images on each of seed_ranges disjoint ranges.")
    _common(q)
    q.add_argument("--samples", required=True, help=".npz with at least max(sizes) x seed_ranges samples")
    q.add_argument("--reference", required=True)
    q.add_argument("--extractor-weights", default=None)
    q.add_argument("--pdf", required=True)
    q.add_argument("--csv", required=True)

    p = sub.add_parser("table1", help="build PD Table 1 (reproduced beside published) as CSV, JSON and PDF",
                       description="Collect the metrics of the Table 1 grid, put them beside the published CIFAR-10 "
                                   "numbers, check the paper's conclusion, and write the table.")
    _common(p)
    _report_io(p, str(PUBLISHED_CSV), "metrics JSON (DVC metrics file)")

    p = sub.add_parser("pd-report", help="PD Fig. 4 for one experiment: FID vs steps, App. F, cost and claims",
                       description="Collect the evaluations of one pd.experiments entry (teacher at every power of "
                                   "two up to its steps with DDIM and the stochastic sampler at each gamma, every "
                                   "student at its own steps), draw FID against steps beside the paper's known "
                                   "points, tabulate the students' DDIM vs stochastic FID and the cost of every "
                                   "round, and check the paper's claims. Needs --experiment.")
    _common(p)
    _report_io(p, str(PUBLISHED_CSV), "output JSON summary (read by `distill table2`; DVC metrics)")

    p = sub.add_parser("table2", help="build PD Table 2 (published rows beside the reproduced ones) as CSV and PDF",
                       description="Put the published fast-sampling rows of PD Table 2 beside this profile's "
                                   "reproduced PD and DDIM rows at 1, 2, 4 and 8 model evaluations.")
    _common(p)
    p.add_argument("--pd", required=True, help="JSON written by `distill pd-report` for the table2 experiment")
    _report_io(p, str(PUBLISHED_CSV), results=False)

    p = sub.add_parser("compare", help="reproduced vs published for every number and claim; fails on a broken claim",
                       description="Put every published number (results/published/published.csv) beside this "
                                   "profile's reproduction with their ratio, check every claim of the registry "
                                   "(distill/claims), list what is missing, and write reports/compare.md and .pdf. "
                                   "Exit status 1 when a claim expected at this profile's scale does not hold, or, at "
                                   "the paper scale, a number is farther from its published value than its tolerance.")
    _common(p)
    p.add_argument("--results", default=None, help="results folder of the profile (default: results/<profile>)")
    p.add_argument("--published", default=str(PUBLISHED_CSV), help="published numbers (CSV; default: %(default)s)")
    p.add_argument("--md", default="reports/compare.md", help="output Markdown (default: %(default)s)")
    p.add_argument("--pdf", default="reports/compare.pdf", help="output PDF (default: %(default)s)")
    p.add_argument("--exit-zero", action="store_true",
                   help="write the report and exit 0 even when it fails (for the Snakemake target; CI omits it)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = experiment_profile(load_profile(args.params, args.profile), getattr(args, "experiment", None))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    progress = not args.no_progress
    if args.command in ("pd-round", "pd-report") and not args.experiment:
        print(f"error: {args.command} needs --experiment (a key of pd.experiments in params.yaml)", file=sys.stderr)
        return 1
    try:
        if args.command == "check-params":
            print(json.dumps(cfg, indent=2))
        elif args.command == "train-classifier":
            from distill.pipeline import train_classifier

            metrics = train_classifier.run(cfg, args.out, args.threads, progress)
            print(f"held-out accuracy {metrics['held_out_accuracy']:.4f}")
        elif args.command == "train-teacher":
            from distill.pipeline import train_teacher

            summary = train_teacher.run(cfg, args.parameterization, args.weighting, args.seed, args.out,
                                        args.threads, progress)
            print(f"{summary['status']} after {summary['steps']} steps, final loss {summary['final_loss']:.4g}")
        elif args.command == "sample":
            from distill.pipeline import sample

            print(sample.run(cfg, args.model, args.sampler, args.out, args.threads, progress, args.num_samples,
                             args.steps, args.gamma))
        elif args.command == "pd-round":
            from distill.pipeline import distill_round

            summary = distill_round.run(cfg, args.experiment, args.student_steps, args.teacher, args.out,
                                        args.threads, progress)
            print(f"{summary['status']} after {summary['steps']} updates")
        elif args.command == "evaluate":
            from distill.pipeline import evaluate

            record = evaluate.run(cfg, args.samples, args.reference, args.out, args.grid, args.extractor_weights,
                                  args.threads)
            fid = record["metrics"]["fid"] if record["metrics"] else None
            print(f"FID min {fid['min']:.4f}, mean {fid['mean']:.4f}" if fid else record["status"])
        elif args.command == "fid":
            from distill.pipeline import fid_tool

            fid_tool.main(cfg, args, progress)
        elif args.command == "table1":
            from distill.reports import table1

            table1.build(cfg, Path(args.results), Path(args.published), Path(args.pdf), Path(args.csv),
                         Path(args.json), Path(args.benchmarks) if args.benchmarks else None)
        elif args.command == "pd-report":
            from distill.reports import pd as pd_report

            summary = pd_report.build(cfg, args.experiment, Path(args.results), Path(args.published), Path(args.pdf),
                                      Path(args.csv), Path(args.json), Path(args.benchmarks) if args.benchmarks else None)
            for claim in summary["claims"]:
                print(f"{claim['status']:>13}: {claim['claim']} ({claim['detail']})")
        elif args.command == "table2":
            from distill.reports import table2

            table2.build(Path(args.pd), Path(args.published), Path(args.pdf), Path(args.csv))
        elif args.command == "compare":
            from distill.reports import compare

            results = Path(args.results or f"results/{cfg['profile']}")
            outcome = compare.build(cfg, results, Path(args.published), Path(args.md), Path(args.pdf))
            print(compare.headline(outcome, cfg))
            for failure in outcome.failures:
                print(f"FAIL: {failure}")
            print(f"wrote {args.md} and {args.pdf}")
            if not outcome.passed and not args.exit_zero:
                return 1
    except (ConfigError, ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
