"""Handlers of the project's commands (distill/commands/project.py declares them): the results table, compare,
verify, remade, fetch and DVC."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from distill.config import load_params
from distill.core.checkpoint import atomic_write
from distill.data.artifacts import ARTIFACTS, needs
from distill.data.fetching import fetch as fetch_artifact
from distill.errors import ConfigError
from distill.reports import compare as comparison
from distill.results import remade as remade_runs
from distill.results import table
from distill.workflow import dvc
from distill.workflow import verify as verification


def results(args, cfg, progress):
    df = table.join(args.parts, args.out)
    print(f"{len(df)} rows from {len(args.parts)} part(s) written to {args.out}")


def verify(args, cfg, progress):
    results = Path(args.results or f"results/{cfg['profile']}")
    df = verification.run(cfg, args.runs, results, Path(args.keep) if args.keep else None, progress)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out:
        atomic_write(args.out, lambda p: df.to_csv(p, index=False, float_format="%.6g"))
    outside = df[df["verdict"].isin(["OUTSIDE tolerance", "re-run gave no number"])]
    judged = df[df["verdict"] == "within tolerance"]
    print(f"{len(judged)} within tolerance, {len(outside)} outside, {len(df) - len(judged) - len(outside)} not judged "
          "(spread not measured)")
    return 1 if len(outside) else 0


def remade(args, cfg, progress):
    root = Path.cwd()
    found = remade_runs.remade(root, f"results/{cfg['profile']}")
    if found is None:
        raise ConfigError(f"{root} is not a git checkout: there are no committed results to compare with")
    for r in found:
        tolerance = "" if r.tolerance is None else f"  (tolerance {r.tolerance:.2f})"
        print(f"{r.verdict:10s}  {r.describe()}{tolerance}")
    print(remade_runs.summary(root, cfg["profile"]) or
          f"no committed FID of results/{cfg['profile']} differs from this working tree's")
    if args.write:
        remade_runs.write(args.write, found)
        print(f"wrote {args.write}")
    return 0


def compare(args, cfg, progress):
    results = Path(args.results or f"results/{cfg['profile']}")
    outcome = comparison.build(cfg, results, Path(args.published), Path(args.md), Path(args.pdf))
    print(comparison.headline(outcome, cfg))
    for relaxed in comparison.relaxations():
        print(f"relaxed: {relaxed}")
    for failure in outcome.failures:
        print(f"FAIL: {failure}")
    print(f"wrote {args.md} and {args.pdf}")
    print("By paper — " + "; ".join(comparison.paper_counts(outcome)) + ".")
    print(f"Claims by scale — {comparison.scale_counts(outcome)}")
    return 0 if outcome.passed or args.exit_zero else 1


def dvc_yaml(args, cfg, progress):
    text = dvc.render(load_params(args.params))
    if args.write:
        Path(args.write).write_text(text)
        print(f"wrote {args.write}")
    else:
        print(text, end="")


def fetch(args, cfg, progress):
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
            print(fetch_artifact(need, report))
        finally:
            bar.close()


def dvc_relock(args, cfg, progress):
    for stage in dvc.relock(args.stages):
        print(f"dvc.lock: {stage} dependencies re-recorded")
