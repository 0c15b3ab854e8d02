"""The benchmark commands: judge a benchmark run, plot the history, estimate GPU hours."""

from __future__ import annotations


from distill.commands.spec import Command
from distill.commands.paths import output


def _bench_machine_options(p):
    p.add_argument("--folder", default=None,
                   help="the benchmarks folder whose job times this machine made (default: results/<profile>/"
                        "benchmarks)")


def _gpu_hours_options(p):
    p.add_argument("targets", nargs="+", metavar="TARGET", help="Snakemake targets (e.g. reports/table1.pdf)")
    p.add_argument("--measure", action="store_true",
                   help="time each unit of work on this machine's device (profile's `device`) and store the times")
    p.add_argument("--forceall", action="store_true",
                   help="count every job of the targets, not only those still to run")
    p.add_argument("--units", default=None, help="a units.json to estimate from (default: the one GPU's stored "
                                                 "for the profile)")
    p.add_argument("--store", default="results/benchmarks", help="unit times per machine (default: %(default)s)")


def _bench_judge_options(p):
    p.add_argument("run", help="the run's JSON (pytest --benchmark-json=...)")
    p.add_argument("--store", default="results/benchmarks", help="runs and baselines (default: %(default)s)")
    p.add_argument("--baseline", action="store_true",
                   help="make this run the baseline of its machine (absolute medians are then not compared)")
    p.add_argument("--incomplete", action="store_true",
                   help="some benchmarks failed: file and judge the run, but never save it as a baseline")


def _bench_report_options(p):
    p.add_argument("--store", default="results/benchmarks", help="runs and baselines (default: %(default)s)")
    output(p, "--pdf", required=True, help="output PDF")
    output(p, "--csv", required=True, help="output CSV (one row per run and benchmark)")


COMMANDS = (
    Command("bench-machine", "distill.handlers.bench:bench_machine",
            "record this machine's speed beside the job times it made",
            "After re-making a profile's stored job times (results/<profile>/benchmarks/, Snakemake's benchmark "
            "files) on this machine, time a fixed small training workload here and write it to machine.json in "
            "that folder. The workflow's estimate before the first job times the same workload on the machine it "
            "runs on and scales the stored times by the ratio (distill/workflow/speed.py).", _bench_machine_options),
    # its handler reads this registry (each job's kind and cost), so it is named, not imported
    Command("gpu-hours", "distill.workflow.gpu_hours:command",
            "estimate the GPU hours of targets from a dry run and measured step times",
            "Dry-run the targets, count each job's work from its command (training updates, sampler steps, "
            "images through the feature extractor) and multiply by the seconds of one unit measured on a GPU "
            "(results/benchmarks/<machine>/units.json). On a GPU node, --measure times the units first (on the "
            "profile's device) and stores them; a login node estimates from the stored times. Ideal "
            "data-parallel scaling; start-up, checkpoint writes and queueing left out. A job without a measured "
            "time or a count reads n/a, with the reason.", _gpu_hours_options),
    Command("bench-judge", "distill.handlers.bench:bench_judge",
            "file a benchmark run under its machine fingerprint and judge it",
            "File a tests/benchmarks run (pytest-benchmark JSON) in results/benchmarks/<fingerprint>/ and judge "
            "it: overhead ratios against their aims and normalised times against a baseline on every machine; "
            "absolute medians only against the baseline of the same machine fingerprint (CPU model, cores, "
            "torch's CPU kernels, torch and BLAS, threads, GPU). A machine without a baseline gets this run as "
            "its baseline. Exit status 1 when a check fails. tools/bench.sh runs the benchmarks, then this.",
            _bench_judge_options),
    Command("bench-report", "distill.handlers.bench:bench_report",
            "plot the benchmark history of every machine (reports/benchmarks.pdf)",
            "One page per machine fingerprint: throughput, overhead ratios (with their aims) and normalised times "
            "of every filed run, in filing order labelled by commit, so a slow drift shows; and the same as a "
            "CSV. Snakemake target: reports/benchmarks.pdf.", _bench_report_options),
)
