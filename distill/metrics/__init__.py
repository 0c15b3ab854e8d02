"""Metrics: FID through torch-fidelity with a pluggable feature extractor."""
