"""Display names of the parameterizations, loss weightings and samplers, in the paper's order. The samplers' come
from the sampler registry (each sampler declares its label once, distill/core/sampler_registry.py)."""

from distill.core.samplers import SAMPLERS
from distill.registry import load_registrations
from distill.results.labels import TRAINING_LABELS

load_registrations()  # a method's own samplers (its card's `registers`) have their labels here too
LABELS = {**TRAINING_LABELS, **{name: spec.label for name, spec in SAMPLERS.items()}}
