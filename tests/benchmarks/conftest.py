"""Throughput benchmarks (pytest-benchmark) of the mini profile's networks and the code around them.

Not part of the default test run; run them with (README, "Benchmarks"):
    .venv/bin/python -m pytest tests/benchmarks --benchmark-json=results/benchmarks/latest.json

Each measurement is one pytest-benchmark entry. Overhead ratios divide an operation's time by the time its network
passes take *in the same calls* (NetworkTime: hooks on the networks), so machine drift between benchmarks cannot fake
or hide an overhead:
  - sampler: sampler time / (NFE x one network forward) (aim <= 1.05);
  - training step: step time / the network passes it must do (teacher: 1 forward + 1 backward; PD round: 2 teacher
    forwards without gradient + 1 student forward and backward) (aim <= 1.15).
Each benchmark stores its ratio in extra_info; the JSON also gets them together under "overhead", and the run prints
them at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from distill.config import load_profile
from distill.data import load_dataset
from distill.core.timing import NetworkTime
from distill.pipeline.common import build_denoiser

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "mini"
NFES = (1, 2, 4, 8, 16, 32, 64)
ROUNDS = 5  # per sampler benchmark; training steps run 4x as many (they are short)
SAMPLER_AIM, STEP_AIM = 1.05, 1.15


@pytest.fixture(scope="session")
def cfg():
    cfg = load_profile(ROOT / "params.yaml", PROFILE)
    torch.set_num_threads(cfg["threads"]["sample"])  # one job's thread budget, as the pipeline runs it
    return cfg


@pytest.fixture(scope="session")
def data(cfg):
    return load_dataset(cfg["data"])


def model_cfg(cfg, data, parameterization: str) -> dict:
    return {"parameterization": parameterization, "network": cfg["network"],
            "data": {**cfg["data"], "shape": list(data.shape), "num_classes": data.num_classes}}


@pytest.fixture(scope="session")
def teacher(cfg, data):
    """The mini U-Net as a v-prediction denoiser (the PD teacher's parameterization), random weights: throughput
    does not depend on the weights."""
    torch.manual_seed(0)
    return build_denoiser(model_cfg(cfg, data, cfg["pd"]["experiments"]["digits"]["parameterization"]))


def record_overhead(benchmark, timer: NetworkTime, aim: float, **info) -> float:
    """Store the operation's time / its networks' time over all rounds (pedantic: no uncounted calls)."""
    timer.close()
    ratio = benchmark.stats.stats.total / timer.seconds
    benchmark.extra_info.update(info, overhead_ratio=ratio, overhead_aim=aim, network_seconds=timer.seconds,
                                network_forward_seconds=timer.forward, network_backward_seconds=timer.backward)
    return ratio


def overhead_ratios(benchmarks: list[dict]) -> dict:
    out = {"sampler": {}, "training_step": {}, "aims": {"sampler": SAMPLER_AIM, "training_step": STEP_AIM}}
    for b in benchmarks:
        info = b.get("extra_info", {})
        if "overhead_ratio" in info:
            if "nfe" in info:
                out["sampler"][str(info["nfe"])] = info["overhead_ratio"]
            else:
                out["training_step"][info["step"]] = info["overhead_ratio"]
    return out


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["overhead"] = ratios = overhead_ratios(output_json["benchmarks"])
    config.stash[RATIOS] = ratios


RATIOS = pytest.StashKey[dict]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    ratios = config.stash.get(RATIOS, None)
    if not ratios:
        return
    tr = terminalreporter
    tr.section("overhead ratios (time / time of the network passes in the same calls)")
    for nfe, r in ratios["sampler"].items():
        tr.write_line(f"DDIM sampler, NFE {nfe:>2}: {r:.3f}  (aim <= {SAMPLER_AIM})")
    for what, r in ratios["training_step"].items():
        tr.write_line(f"{what} training step: {r:.3f}  (aim <= {STEP_AIM})")
