"""The handler of `distill solver-distances` (declared in distill/commands/core.py)."""

from __future__ import annotations

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.core.reference_ode import solver_distances as distances_from_reference
from distill.pipeline.common import load_denoiser, setup_torch


def solver_distances(args, cfg, progress):
    device = setup_torch(args.threads, cfg["device"])
    denoiser, model_cfg = load_denoiser(args.model, device)
    solvers = [(name, {"afs": afs}) for name in args.solvers for afs in (False, True)]
    rows = distances_from_reference(denoiser, tuple(model_cfg["data"]["shape"]), list(range(args.num_samples)),
                                    solvers, args.nfe, args.sigma_max, args.sigma_min, args.rho)
    table = pd.DataFrame(rows).dropna(subset=["num_steps"])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.out:
        atomic_write(args.out, lambda tmp: table.to_csv(tmp, index=False))
