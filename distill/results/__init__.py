"""The one results table: every evaluation of every method as tidy rows (`distill.results.table`)."""

from pathlib import Path

PUBLISHED_CSV = Path("results/published/published.csv")  # every published number (results/published/PUBLISHED.md)
LOSS_XY = ("step", "loss")  # the training-loss plots (distill.results.plots): loss against update
