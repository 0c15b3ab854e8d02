"""The handler of `distill evaluate` (declared in distill/commands/core.py)."""

from __future__ import annotations

from distill.pipeline import evaluate as evaluation


def evaluate(args, cfg, progress):
    record = evaluation.run(cfg, args.samples, args.reference, args.out, args.grid, args.extractor_weights,
                            args.threads)
    fid = record["metrics"]["fid"] if record["metrics"] else None
    print(f"FID min {fid['min']:.4f}, mean {fid['mean']:.4f}" if fid else record["status"])
