"""Display names of the parameterizations, loss weightings and samplers, in the paper's order. The samplers' come
from the sampler registry (each sampler declares its label once, distill/core/sampler_registry.py)."""

from distill.core.samplers import SAMPLERS
from distill.plugins import load_registrations

load_registrations()  # a method's own samplers (its card's `registers`) have their labels here too
LABELS = {"both": "(x, ε) combined", "x": "x", "eps": "ε", "v": "v",
          "snr": "SNR", "snr_trunc": "Truncated SNR", "snr_plus_one": "SNR+1", "constant": "Constant", "edm": "EDM",
          **{name: spec.label for name, spec in SAMPLERS.items()}}
ORDER_P, ORDER_W = ["both", "x", "eps", "v"], ["snr", "snr_trunc", "snr_plus_one", "constant"]
