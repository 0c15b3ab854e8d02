"""The handler of `distill train-teacher` (declared in distill/commands/core.py)."""

from __future__ import annotations

from distill.pipeline import train_teacher as teacher_training


def train_teacher(args, cfg, progress):
    summary = teacher_training.run(cfg, args.parameterization, args.weighting, args.seed, args.out, args.threads,
                                   progress)
    print(f"{summary['status']} after {summary['steps']} steps, final loss {summary['final_loss']:.4g}")
