"""The papers' claims as checks over reproduced results: a registry (registry.py) with one module per paper."""

from distill.claims.registry import CLAIMS, Claim, evaluate, evaluate_subject

__all__ = ["CLAIMS", "Claim", "evaluate", "evaluate_subject"]
