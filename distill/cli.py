"""The `distill` command line. Each sub-command is one step of the pipeline; Snakemake rules call them.

The core commands (training a teacher, sampling, evaluating, reference statistics, the results table, compare) are
defined here; every method of the registry (`distill.plugins`) adds its own commands. Every sub-command reads its
hyperparameters from params.yaml (validated against workflows/schema/) and the profile named by --profile (default:
the file's `profile`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from distill.config import DEFAULT_PARAMS, ConfigError, experiment_profile, load_profile
from distill.reports.published import PUBLISHED_CSV


def positive_int(text: str) -> int:
    """An integer >= 1 (zero or a negative count is an error, never a default)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def common(p: argparse.ArgumentParser) -> None:
    """The options every step shares."""
    p.add_argument("--params", default=str(DEFAULT_PARAMS), help="params file (default: %(default)s)")
    p.add_argument("--profile", default=None, help="profile in params.yaml: smoke, mini or paper (default: the file's)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--method", default=None, help="with --experiment: the method (params.yaml section) it belongs to")
    p.add_argument("--experiment", default=None,
                   help="an experiment of --method's section: use its data, network and teacher training where it "
                        "sets them instead of the profile's")


# What a sub-command's jobs need on a cluster (distill.workflow.resources), filled as the parser is built: a computing
# command names its kind of job, whose GPUs, wall time and memory params.yaml gives (cluster.<kind>; its threads:
# threads.<kind>). The kinds 'teacher', 'distill', 'sample' and 'evaluate' run networks on the profile's device
# (training, sampling, feature extraction); 'classifier' computes on the CPU. A command with no kind (reports, tables,
# figures, compare, fetch) is light and runs as a local rule of the submitting node. A `data_parallel` command runs
# as one torchrun process per GPU when its kind asks for more than one (distill/core/distributed.py).
JOB_OF: dict[str, str] = {}
DATA_PARALLEL: set[str] = set()
# a computing command's work, (profile, parsed args, the dry run's training outputs) -> [(unit, count)], for the
# GPU-hours estimate (distill/bench/work.py, distill/bench/gpu_hours.py)
COST_OF: dict[str, Callable] = {}
GPU_JOBS = ("teacher", "distill", "sample", "evaluate")
CPU_JOBS = ("classifier",)


def add_command(sub, name: str, handler, help: str, description: str, method: str | None = None,
                job: str | None = None, data_parallel: bool = False, cost=None):
    """A sub-command with the common options and its handler; with `method`, it runs one experiment of that method's
    section (--experiment required); with `job`, it is a computing job of that kind (GPU_JOBS, CPU_JOBS), else a
    light local one; with `data_parallel`, torchrun may run it on several GPUs; `cost` counts a job's work in
    measurable units (distill/bench/work.py; every GPU job declares it)."""
    if job is not None:
        if job not in GPU_JOBS + CPU_JOBS:
            raise ValueError(f"unknown kind of job {job!r} for command {name!r}; expected one of {GPU_JOBS + CPU_JOBS}")
        JOB_OF[name] = job
    if cost is not None:
        COST_OF[name] = cost
    if data_parallel:
        DATA_PARALLEL.add(name)
    p = sub.add_parser(name, help=help, description=description)
    common(p)
    p.set_defaults(handler=handler)
    if method is not None:
        p.set_defaults(method=method)
        for action in p._actions:
            if action.dest == "experiment":
                action.required, action.help = True, f"a {method}.experiments entry of params.yaml"
    return p


def extractor_weights_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extractor-weights", default=None,
                   help="feature-extractor weights (default: evaluation.feature_extractor_weights, or for the "
                        "distill-domain extractor the classifier the pipeline trains, "
                        "results/<profile>/classifier/model.safetensors)")


def float_range(p: argparse.ArgumentParser) -> None:
    from distill.metrics.images import FLOAT_RANGES

    p.add_argument("--range", default=None, choices=list(FLOAT_RANGES),
                   help="the value range of float images: signed [-1, 1], unit [0, 1] or byte [0, 255]. Required for "
                        "float images (the two common ranges give plausible, different FIDs); uint8 images need none")


def report_io(p: argparse.ArgumentParser, json_help: str | None = None, results: bool = True) -> None:
    """The inputs and outputs every report command shares."""
    if results:
        p.add_argument("--results", required=True, help="results/<profile> folder")
        p.add_argument("--benchmarks", default=None,
                       help="folder of Snakemake benchmark .tsv files; their total job time goes in the report")
    p.add_argument("--published", default=str(PUBLISHED_CSV), help="published numbers (CSV; default: %(default)s)")
    p.add_argument("--pdf", required=True, help="output PDF")
    p.add_argument("--csv", required=True, help="output CSV")
    if json_help:
        p.add_argument("--json", required=True, help=json_help)
        p.add_argument("--plots", required=True,
                       help="output folder of plot data for `dvc plots show` (a CSV per line: training losses, curves)")


def parse_cond(items: list[str] | None) -> dict[str, float]:
    """--cond KEY=VALUE pairs (a scalar per sample, e.g. w=2.0, or label=3) as a dict; bad text is an error."""
    out: dict[str, float] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--cond expects KEY=VALUE (e.g. w=2.0 or label=3), got {item!r}")
        try:
            out[key] = float(value)
        except ValueError:
            raise ConfigError(f"--cond {key}: {value!r} is not a number") from None
    return out


def _check_params(args, cfg, progress):
    print(json.dumps(cfg, indent=2))


def _train_classifier(args, cfg, progress):
    from distill.pipeline import train_classifier

    metrics = train_classifier.run(cfg, args.out, args.threads, progress)
    print(f"held-out accuracy {metrics['held_out_accuracy']:.4f}")


def _train_teacher(args, cfg, progress):
    from distill.pipeline import train_teacher

    summary = train_teacher.run(cfg, args.parameterization, args.weighting, args.seed, args.out, args.threads, progress)
    print(f"{summary['status']} after {summary['steps']} steps, final loss {summary['final_loss']:.4g}")


def _sample(args, cfg, progress):
    from distill.pipeline import sample

    options = {} if args.gamma is None else {"gamma": args.gamma}
    print(sample.run(cfg, args.model, args.sampler, args.out, args.threads, progress, args.num_samples, args.steps,
                     options=options, grid=args.grid, cond=parse_cond(args.cond)))


def _evaluate(args, cfg, progress):
    from distill.pipeline import evaluate

    record = evaluate.run(cfg, args.samples, args.reference, args.out, args.grid, args.extractor_weights, args.threads)
    fid = record["metrics"]["fid"] if record["metrics"] else None
    print(f"FID min {fid['min']:.4f}, mean {fid['mean']:.4f}" if fid else record["status"])


def _fid(args, cfg, progress):
    from distill.pipeline import fid_tool

    fid_tool.main(cfg, args, progress)


def _results(args, cfg, progress):
    from distill.results import table

    df = table.join(args.parts, args.out)
    print(f"{len(df)} rows from {len(args.parts)} part(s) written to {args.out}")


def _verify(args, cfg, progress):
    from distill.pipeline import verify

    results = Path(args.results or f"results/{cfg['profile']}")
    df = verify.run(cfg, args.runs, results, Path(args.keep) if args.keep else None, progress)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out:
        from distill.core.checkpoint import atomic_write

        atomic_write(args.out, lambda p: df.to_csv(p, index=False, float_format="%.6g"))
    outside = df[df["verdict"].isin(["OUTSIDE tolerance", "re-run gave no number"])]
    judged = df[df["verdict"] == "within tolerance"]
    print(f"{len(judged)} within tolerance, {len(outside)} outside, {len(df) - len(judged) - len(outside)} not judged "
          "(spread not measured)")
    return 1 if len(outside) else 0


def _compare(args, cfg, progress):
    from distill.reports import compare

    results = Path(args.results or f"results/{cfg['profile']}")
    outcome = compare.build(cfg, results, Path(args.published), Path(args.md), Path(args.pdf))
    print(compare.headline(outcome, cfg))
    for failure in outcome.failures:
        print(f"FAIL: {failure}")
    print(f"wrote {args.md} and {args.pdf}")
    return 0 if outcome.passed or args.exit_zero else 1


def _dvc_yaml(args, cfg, progress):
    from distill.config import load_params
    from distill.workflow import dvc

    text = dvc.render(load_params(args.params))
    if args.write:
        Path(args.write).write_text(text)
        print(f"wrote {args.write}")
    else:
        print(text, end="")


def _fetch(args, cfg, progress):
    from tqdm.auto import tqdm

    from distill.data.artifacts import ARTIFACTS, fetch, needs

    found = needs(cfg)
    if args.names:
        unknown = sorted(set(args.names) - {n.artifact.name for n in found})
        if unknown:
            raise ConfigError(f"profile {cfg['profile']!r} reads no {unknown} (it reads "
                              f"{sorted({n.artifact.name for n in found}) or 'no external file'}); known artifacts: "
                              f"{sorted(ARTIFACTS)}")
        found = [n for n in found if n.artifact.name in args.names]
    if not found:
        print(f"profile {cfg['profile']!r} reads no external file: nothing to fetch")
    for need in found:
        bar = tqdm(unit="B", unit_scale=True, desc=need.artifact.name, disable=not progress)

        def report(got, total, bar=bar):
            bar.total = total
            bar.update(got - bar.n)

        try:
            print(fetch(need, report))
        finally:
            bar.close()


def _bench_judge(args, cfg, progress):
    from distill.bench.judge import run_and_report

    return run_and_report(Path(args.run), Path(args.store), args.baseline, save=not args.incomplete)


def _gpu_hours(args, cfg, progress):
    from distill.bench.gpu_hours import run

    return run(cfg, args.targets, Path(args.store), args.measure, args.forceall, args.units)


def _bench_report(args, cfg, progress):
    from distill.reports import benchmarks

    runs = benchmarks.build(Path(args.store), Path(args.pdf), Path(args.csv))
    print(f"{runs} run(s) plotted in {args.pdf}")


def _dvc_relock(args, cfg, progress):
    from distill.workflow import dvc

    for stage in dvc.relock(args.stages):
        print(f"dvc.lock: {stage} dependencies re-recorded")


def build_parser() -> argparse.ArgumentParser:
    from distill.bench import work
    from distill.core.grids import GRIDS
    from distill.core.parameterization import PARAMETERIZATIONS
    from distill.core.samplers import SAMPLERS
    from distill.core.weighting import WEIGHTINGS
    from distill.plugins import methods

    parser = argparse.ArgumentParser(
        prog="distill",
        description="distill: reproduce diffusion-distillation papers on one shared PyTorch core. The usual entry "
                    "point is Snakemake (`snakemake --cores all -- reports/table1.pdf`), which calls these steps.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help: str, description: str, job: str | None = None,
                data_parallel: bool = False, cost=None) -> argparse.ArgumentParser:
        return add_command(sub, name, handler, help, description, job=job, data_parallel=data_parallel, cost=cost)

    command("check-params", _check_params, "validate params.yaml against the schema and print the active profile",
            "Validate params.yaml against workflows/schema/params.schema.json (and each method's schema); exit 1 "
            "naming every bad key, else print the selected profile's settings as JSON.")

    p = command("train-classifier", _train_classifier, "train the domain classifier used as FID feature extractor",
                "Train the small CNN classifier on the profile's data set (a held-out split measures its accuracy); "
                "its penultimate features define FID on embedded data.", job="classifier")
    p.add_argument("--out", required=True, help="output folder (model.safetensors, model.json, metrics.json)")

    p = command("train-teacher", _train_teacher, "train one diffusion teacher (PD Algorithm 1); resumes if interrupted",
                "Continuous-time diffusion training with the given output parameterization and loss weighting. The "
                "training state is saved atomically every teacher.checkpoint_every steps; re-running the same "
                "command resumes and ends with the same weights. A non-finite loss stops training and is recorded "
                "as 'diverged' in summary.json.", job="teacher", data_parallel=True, cost=work.train_teacher_work)
    p.add_argument("--parameterization", required=True, choices=PARAMETERIZATIONS)
    p.add_argument("--weighting", required=True, choices=WEIGHTINGS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (model.safetensors, model.json, summary.json, log.jsonl)")

    p = command("sample", _sample, "draw evaluation samples from a trained model",
                "Draw evaluation.num_samples images (seed i for image i, so results do not depend on the batch "
                "size) with any registered sampler on any time grid; write an .npz.", job="sample",
                data_parallel=True, cost=work.sample_work)
    p.add_argument("--model", required=True, help="model.safetensors of a trained model")
    p.add_argument("--sampler", required=True, choices=sorted(SAMPLERS),
                   help="; ".join(f"{s.name}: {s.fn.__doc__.splitlines()[0]}" for s in SAMPLERS.values()))
    p.add_argument("--grid", default="uniform", choices=sorted(GRIDS), help="time grid (default: %(default)s)")
    p.add_argument("--num-samples", type=positive_int, default=None,
                   help="images to draw (default: evaluation.seed_ranges x evaluation.num_samples)")
    p.add_argument("--steps", type=positive_int, default=None, help="sampler steps (default: sampling.steps)")
    p.add_argument("--gamma", type=float, default=None,
                   help="the ancestral sampler's variance exponent in [0, 1] (default: sampling.ancestral_gamma)")
    p.add_argument("--cond", action="append", metavar="KEY=VALUE",
                   help="a condition given to every sample (e.g. w=2.0 for a guidance weight, label=3); repeatable")
    p.add_argument("--out", required=True, help="output .npz")

    p = command("evaluate", _evaluate, "evaluate a samples .npz under the protocol (FID, KID, IS, PR, PRDC)",
                "Evaluate the samples of `distill sample` against reference statistics under the protocol of "
                "params.yaml (evaluation.*): every metric on each of seed_ranges disjoint ranges of num_samples "
                "images, reported as minimum and mean. Writes a JSON record and a PNG grid of the first 64 samples.",
                job="evaluate", data_parallel=True, cost=work.evaluate_work)
    p.add_argument("--samples", required=True, help=".npz written by `distill sample`")
    p.add_argument("--reference", required=True, help="reference statistics .npz (`distill fid ref`)")
    extractor_weights_option(p)
    p.add_argument("--out", required=True, help="output metrics .json")
    p.add_argument("--grid", required=True, help="output PNG grid of the first 64 samples")

    JOB_OF["fid"] = "evaluate"  # its actions extract features (torch-fidelity runs on the GPU when there is one)
    COST_OF["fid"] = work.fid_work
    p = sub.add_parser("fid", help="reference statistics and metrics by hand (ref, calc, curve), as EDM's fid.py",
                       description="ref: reference statistics of a data set; calc: protocol metrics of images or a "
                                   "model; curve: FID against the number of samples.")
    fid_sub = p.add_subparsers(dest="fid_command", required=True, metavar="ACTION")
    q = fid_sub.add_parser("ref", help="compute reference statistics (.npz) of real images",
                           description="Features of real images under evaluation.feature_extractor: FID mean and "
                                       "covariance plus the features KID/PR/PRDC need. Default images: the profile's "
                                       "data set.")
    common(q)
    q.set_defaults(handler=_fid)
    q.add_argument("--images", default=None, help="folder, .zip or .npz of images (default: the profile's data set)")
    float_range(q)
    extractor_weights_option(q)
    q.add_argument("--out", required=True, help="output .npz")
    q = fid_sub.add_parser("calc", help="protocol metrics of images (folder, .zip, .npz) or of a model",
                           description="Evaluate images, or a model sampled on the protocol's seeds, against "
                                       "reference statistics; print the metrics as JSON.")
    common(q)
    q.set_defaults(handler=_fid)
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="folder, .zip or .npz of generated images, ordered by seed")
    src.add_argument("--model", help="model.safetensors to sample from")
    q.add_argument("--sampler", default="ddim", choices=sorted(SAMPLERS), help="with --model")
    q.add_argument("--ref", required=True, help="reference statistics .npz")
    float_range(q)
    extractor_weights_option(q)
    q.add_argument("--out", default=None, help="also write the JSON here")
    q = fid_sub.add_parser("curve", help="FID against the number of samples (choose evaluation.num_samples)",
                           description="FID of evaluation.curve.sizes images on each of seed_ranges disjoint ranges.")
    common(q)
    q.set_defaults(handler=_fid)
    q.add_argument("--samples", required=True, help=".npz with at least max(sizes) x seed_ranges samples")
    q.add_argument("--reference", required=True)
    extractor_weights_option(q)
    q.add_argument("--pdf", required=True)
    q.add_argument("--csv", required=True)

    for method in methods():
        method.add_commands(sub)

    p = command("results", _results, "join the methods' parts of the results table into results/<profile>/results.csv",
                "Every evaluation of every method as tidy rows (distill.results.table): join the parts the methods' "
                "reports wrote into one long-format table.")
    p.add_argument("parts", nargs="+", help="results/<profile>/rows/*.csv")
    p.add_argument("--out", required=True, help="output CSV (results/<profile>/results.csv)")

    p = command("compare", _compare, "reproduced vs published for every number and claim; fails on a broken claim",
                "Put every published number (results/published/published.csv) beside this profile's reproduction "
                "(results/<profile>/results.csv) with their ratio, check every claim of the registry "
                "(distill/claims), list what is missing, and write reports/compare.md and .pdf. Exit status 1 when a "
                "claim expected at this profile's scale does not hold, or, at the paper scale, a number is farther "
                "from its published value than its tolerance.")
    p.add_argument("--results", default=None, help="results folder of the profile (default: results/<profile>)")
    p.add_argument("--published", default=str(PUBLISHED_CSV), help="published numbers (CSV; default: %(default)s)")
    p.add_argument("--md", default="reports/compare.md", help="output Markdown (default: %(default)s)")
    p.add_argument("--pdf", default="reports/compare.pdf", help="output PDF (default: %(default)s)")
    p.add_argument("--exit-zero", action="store_true",
                   help="write the report and exit 0 even when it fails (for the Snakemake target; CI omits it)")

    p = command("verify", _verify, "re-run chosen Table 1 runs from scratch; judge each number by its tolerance",
                "Re-run the given Table 1 runs (e.g. v-snr-s0) from scratch in a fresh copy of the project's "
                "tracked files (classifier, reference statistics, teacher, samples, metrics all made again), and "
                "compare each re-made FID with the committed one in results/<profile>/results.csv. A number is "
                "within tolerance when it lies within 3 seed-to-seed standard deviations measured by the spread "
                "target (snakemake --cores all -- reports/table1_spread.pdf); without a measured spread it is "
                "shown but not judged. Exit status 1 when a judged number is outside its tolerance.")
    p.add_argument("--runs", nargs="+", required=True, metavar="RUN",
                   help="Table 1 runs <parameterization>-<weighting>-s<seed>, e.g. v-snr-s0")
    p.add_argument("--results", default=None, help="committed results folder (default: results/<profile>)")
    p.add_argument("--keep", default=None, help="re-run in this (empty) folder and keep it (default: a temporary one)")
    p.add_argument("--out", default=None, help="also write the verdicts as CSV")

    p = command("fetch", _fetch, "download and verify the external files the profile reads (data sets, Inception)",
                "Put in place every external file the profile reads (or the NAMEs given): the CIFAR-10 archive "
                "(unpacked into data.root), torch-fidelity's Inception weights (at "
                "evaluation.feature_extractor_weights). Each is downloaded into a .part file (resumed if an earlier "
                "attempt was cut off), its sha256 checked, then renamed into place; a file already there is "
                "verified. ImageNet 64 needs a login: it is verified where you put it (data.root), and the error "
                "says where to get it. The workflow's fetch rules run this.")
    p.add_argument("names", nargs="*", metavar="NAME", help="artifacts to fetch (default: all the profile reads)")

    p = command("gpu-hours", _gpu_hours, "estimate the GPU hours of targets from a dry run and measured step times",
                "Dry-run the targets, count each job's work from its command (training updates, sampler steps, "
                "images through the feature extractor) and multiply by the seconds of one unit measured on a GPU "
                "(results/benchmarks/<machine>/units.json). On a GPU node, --measure times the units first (on the "
                "profile's device) and stores them; a login node estimates from the stored times. Ideal "
                "data-parallel scaling; start-up, checkpoint writes and queueing left out. A job without a measured "
                "time or a count reads n/a, with the reason.")
    p.add_argument("targets", nargs="+", metavar="TARGET", help="Snakemake targets (e.g. reports/table1.pdf)")
    p.add_argument("--measure", action="store_true",
                   help="time each unit of work on this machine's device (profile's `device`) and store the times")
    p.add_argument("--forceall", action="store_true",
                   help="count every job of the targets, not only those still to run")
    p.add_argument("--units", default=None, help="a units.json to estimate from (default: the one GPU's stored "
                                                 "for the profile)")
    p.add_argument("--store", default="results/benchmarks", help="unit times per machine (default: %(default)s)")

    p = command("bench-judge", _bench_judge, "file a benchmark run under its machine fingerprint and judge it",
                "File a tests/benchmarks run (pytest-benchmark JSON) in results/benchmarks/<fingerprint>/ and judge "
                "it: overhead ratios against their aims and normalised times against a baseline on every machine; "
                "absolute medians only against the baseline of the same machine fingerprint (CPU model, cores, "
                "torch's CPU kernels, torch and BLAS, threads, GPU). A machine without a baseline gets this run as "
                "its baseline. Exit status 1 when a check fails. tools/bench.sh runs the benchmarks, then this.")
    p.add_argument("run", help="the run's JSON (pytest --benchmark-json=...)")
    p.add_argument("--store", default="results/benchmarks", help="runs and baselines (default: %(default)s)")
    p.add_argument("--baseline", action="store_true",
                   help="make this run the baseline of its machine (absolute medians are then not compared)")
    p.add_argument("--incomplete", action="store_true",
                   help="some benchmarks failed: file and judge the run, but never save it as a baseline")

    p = command("bench-report", _bench_report, "plot the benchmark history of every machine (reports/benchmarks.pdf)",
                "One page per machine fingerprint: throughput, overhead ratios (with their aims) and normalised times "
                "of every filed run, in filing order labelled by commit, so a slow drift shows; and the same as a "
                "CSV. Snakemake target: reports/benchmarks.pdf.")
    p.add_argument("--store", default="results/benchmarks", help="runs and baselines (default: %(default)s)")
    p.add_argument("--pdf", required=True, help="output PDF")
    p.add_argument("--csv", required=True, help="output CSV (one row per run and benchmark)")

    p = command("dvc-yaml", _dvc_yaml, "print (or --write) dvc.yaml: a stage per method and profile",
                "dvc.yaml is generated from the method registry and the profiles of params.yaml: for each profile, "
                "one stage per method it runs (<method>-<profile>) calling the method's Snakemake target, listing "
                "only the params.yaml sections it reads, with its cached outputs, metrics and plots. A test checks "
                "the committed file is up to date.")
    p.add_argument("--write", default=None, help="write to this file (dvc.yaml) instead of printing")

    p = command("dvc-relock", _dvc_relock, "record a code or params change that leaves a stage's results as they are",
                "Re-record in dvc.lock the hashes of the named stages' dependencies (distill/, workflows/, Snakefile, "
                "params) as they are now, keeping the recorded hashes of their outputs; outputs not present here "
                "(not pulled) are not needed, unlike `dvc commit -f`. Only for a change that leaves the results "
                "bit-identical; otherwise re-make them with `dvc repro`.")
    p.add_argument("stages", nargs="+", help="stage names, e.g. table1-mini pd-mini kd-mini fid_vs_n-mini compare-mini")
    return parser


def torchrun_command(command: str, cfg: dict, argv: list[str], visible_gpus: int) -> list[str] | None:
    """The torchrun command line that runs this data-parallel command on its kind's GPUs (params.yaml
    cluster.<kind>.gpus > 1), one process per GPU; None to run it in this process (one GPU, or already a worker)."""
    from distill.core import distributed

    if not JOB_OF:  # filled as the parser is built
        build_parser()
    kind = JOB_OF.get(command)
    if command not in DATA_PARALLEL or kind is None or distributed.launched():
        return None
    gpus = cfg["cluster"][kind].get("gpus", 0)
    if gpus <= 1 or cfg["device"] == "cpu" or (cfg["device"] == "auto" and visible_gpus == 0):
        return None  # one process (device auto without a GPU: on the CPU)
    if visible_gpus < gpus:
        raise ConfigError(f"cluster.{kind}.gpus asks for {gpus} GPUs, but this machine shows {visible_gpus}: run it "
                          f"where {gpus} are free, or lower cluster.{kind}.gpus in params.yaml")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
            "-m", "distill", *argv]


def _exec_torchrun(launch: list[str], gpus: int) -> None:
    """This process becomes torchrun (each worker runs the same command); on a multi-GPU machine without a scheduler,
    on GPUs no other job holds (distill/core/gpu_slots.py: the locks pass to torchrun)."""
    import torch

    from distill.core import gpu_slots

    env = dict(os.environ)
    if not gpu_slots.chosen_elsewhere():
        chosen = gpu_slots.acquire(gpus, torch.cuda.device_count(), inheritable=True)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, chosen))
    sys.stdout.flush()
    os.execve(launch[0], launch, env)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        cfg = experiment_profile(load_profile(args.params, args.profile), args.method, args.experiment)
        if args.command in DATA_PARALLEL and cfg["device"] != "cpu":
            import torch

            launch = torchrun_command(args.command, cfg, argv, torch.cuda.device_count())
            if launch is not None:
                _exec_torchrun(launch, cfg["cluster"][JOB_OF[args.command]]["gpus"])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        return args.handler(args, cfg, not args.no_progress) or 0
    except (ConfigError, ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
