"""Handlers of the benchmark commands (distill/commands/bench.py declares them)."""

from __future__ import annotations

from pathlib import Path

from distill.bench.judge import run_and_report
from distill.reports import benchmarks
from distill.workflow import speed


def bench_judge(args, cfg, progress):
    return run_and_report(Path(args.run), Path(args.store), args.baseline, save=not args.incomplete)


def bench_machine(args, cfg, progress):
    folder = Path(args.folder or f"results/{cfg['profile']}/benchmarks")
    entry = speed.record(folder)
    print(f"{folder / speed.MACHINE_FILE}: {entry['cpu']} ran the calibration workload in {entry['seconds']} s")


def bench_report(args, cfg, progress):
    runs = benchmarks.build(Path(args.store), Path(args.pdf), Path(args.csv))
    print(f"{runs} run(s) plotted in {args.pdf}")
