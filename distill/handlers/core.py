"""Handlers of the core pipeline commands (distill/commands/core.py declares them)."""

from __future__ import annotations

import json

import pandas as pd

from distill.commands.options import parse_cond, parse_grid_options, parse_sampler_options
from distill.core.checkpoint import atomic_write
from distill.core.reference_ode import solver_distances as distances_from_reference
from distill.errors import ConfigError
from distill.pipeline import evaluate as evaluation
from distill.pipeline import import_edm as edm_import
from distill.pipeline import sample as sampling
from distill.pipeline import train_classifier as classifier_training
from distill.pipeline import train_teacher as teacher_training
from distill.pipeline.common import load_denoiser, setup_torch


def check_params(args, cfg, progress):
    print(json.dumps(cfg, indent=2))


def train_classifier(args, cfg, progress):
    metrics = classifier_training.run(cfg, args.out, args.threads, progress)
    print(f"held-out accuracy {metrics['held_out_accuracy']:.4f}")


def import_edm(args, cfg, progress):
    summary = edm_import.run(args.artifact, args.out, args.pickle)
    print(f"imported {summary['imported']}: {summary['parameters']:,} parameters")


def train_teacher(args, cfg, progress):
    summary = teacher_training.run(cfg, args.parameterization, args.weighting, args.seed, args.out, args.threads,
                                   progress)
    print(f"{summary['status']} after {summary['steps']} steps, final loss {summary['final_loss']:.4g}")


def sample(args, cfg, progress):
    sampler = args.sampler or sampling.own_sampler(args.model)  # a distilled model's own (an SFD student's)
    options = parse_sampler_options(sampler, args.option)
    if args.gamma is not None:
        if "gamma" in options:
            raise ConfigError("--gamma and --option gamma=... both given; give one")
        options["gamma"] = args.gamma
    print(sampling.run(cfg, args.model, sampler, args.out, args.threads, progress, args.num_samples, args.steps,
                       options=options, grid=args.grid, cond=parse_cond(args.cond),
                       grid_options=parse_grid_options(args.grid_option), guidance=args.guidance))


def evaluate(args, cfg, progress):
    record = evaluation.run(cfg, args.samples, args.reference, args.out, args.grid, args.extractor_weights,
                            args.threads)
    fid = record["metrics"]["fid"] if record["metrics"] else None
    print(f"FID min {fid['min']:.4f}, mean {fid['mean']:.4f}" if fid else record["status"])


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
