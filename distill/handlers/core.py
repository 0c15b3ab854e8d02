"""Handlers of the light core commands (distill/commands/core.py declares them): a command whose handler imports
heavy libraries has a module of its own (sample, evaluate, teacher, solvers, fid), so each job imports what it runs
and no more."""

from __future__ import annotations

import json

from distill.pipeline import import_edm as edm_import
from distill.pipeline import train_classifier as classifier_training


def check_params(args, cfg, progress):
    print(json.dumps(cfg, indent=2))


def train_classifier(args, cfg, progress):
    metrics = classifier_training.run(cfg, args.out, args.threads, progress)
    print(f"held-out accuracy {metrics['held_out_accuracy']:.4f}")


def import_edm(args, cfg, progress):
    summary = edm_import.run(args.artifact, args.out, args.pickle)
    print(f"imported {summary['imported']}: {summary['parameters']:,} parameters")
