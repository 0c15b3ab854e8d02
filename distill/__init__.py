"""distill: a reproducible benchmarking and paper-replication suite for diffusion-model distillation."""

__version__ = "0.1.0"
