"""Throughput benchmarks (pytest-benchmark) of the mini profile's networks and the code around them.

Not part of the default test run. `bash tools/bench.sh` runs them all and judges the run (distill.bench.judge); CI
runs the overhead-ratio benchmarks only (`-m overhead`, README "Benchmarks"). `--bench-device cuda` runs the networks
on the GPU (every timer synchronises it first: CUDA kernels run asynchronously) and `--bench-profile` times another
profile's networks and batches; both are part of the run's fingerprint, so its baseline is kept apart.

Three kinds of figures, from the most to the least portable between machines:
  - overhead ratios: an operation's time / the time its network passes take *in the same calls* (NetworkTime: hooks
    on the networks), so machine drift between benchmarks cannot fake or hide an overhead. Sampler (aim <= 1.05),
    every registered method's training steps (found in the registry, distill.plugins; aim <= 1.20), feature
    extraction and FID against the extractor's forward passes. A ratio above its aim is reported (a warning and the
    summary); only one beyond GROSS_FACTOR x its aim fails the benchmark (distill/bench/limits.py says why).
  - normalised times: the fastest round / the fastest run of the reference kernel of the same network and batch (its
    convolution and linear layers alone, with their backward passes where the benchmark trains;
    distill.core.timing.reference_kernel), timed once before each round, so both see the same machine state;
  - absolute medians, comparable only between runs with the same machine fingerprint (distill.bench.fingerprint),
    which the run's JSON records under machine_info.fingerprint.
"""

from __future__ import annotations

import statistics
import warnings
from pathlib import Path

import pytest
import torch

from distill.bench.fingerprint import machine
from distill.bench.limits import GROSS_FACTOR, OVERHEAD_AIMS, overhead_limit
from distill.config import load_profile
from distill.core.timing import NetworkTime
from distill.data import load_dataset
from distill.pipeline.train_teacher import teacher_step
from distill.registry import active

ROOT = Path(__file__).resolve().parents[2]
NFES = (1, 2, 4, 8, 16, 32, 64)
ROUNDS = 5  # per sampler benchmark; training steps run 4x as many (they are short)


def bench_profile(config) -> dict:
    """The profile the benchmarks time (--bench-profile, default mini), on --bench-device."""
    device = config.getoption("--bench-device")
    if device == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError("--bench-device cuda: no CUDA device is available here")
    return {**load_profile(ROOT / "params.yaml", config.getoption("--bench-profile")), "device": device}


@pytest.fixture(scope="session")
def cfg(pytestconfig):
    cfg = bench_profile(pytestconfig)
    torch.set_num_threads(cfg["threads"]["sample"])  # one job's thread budget, as the pipeline runs it
    return cfg


@pytest.fixture(scope="session")
def device(cfg) -> torch.device:
    return torch.device(cfg["device"])


@pytest.fixture(scope="session")
def data(cfg):
    return load_dataset(cfg["data"])


@pytest.fixture(scope="session")
def teacher(cfg, data):
    """The mini U-Net as the PD teacher's denoiser, freshly initialised: throughput does not depend on the weights."""
    exp = next(iter(cfg["pd"]["experiments"].values()))
    denoiser, _, _ = teacher_step(cfg, data, exp["parameterization"], exp["teacher_weighting"], 0, cfg["device"])
    return denoiser


def pytest_generate_tests(metafunc):
    """`method_step`: every training step of every method the mini profile runs, as the registry declares it."""
    if "method_step" in metafunc.fixturenames:
        cfg = bench_profile(metafunc.config)
        names = [(m.name, step) for m in active(cfg) for step in m.training_steps(cfg)]
        metafunc.parametrize("method_step", names, ids=[f"{m}-{s}" for m, s in names])


def record_overhead(benchmark, timer: NetworkTime, kind: str, before_rounds: list[float], **info) -> None:
    """Store the operation's time / its networks' time, the median over the rounds (pedantic: no uncounted calls; a
    single stall of the machine outside the networks moves one round, not the figure), then fail when it exceeds the
    gross limit of its kind (GROSS_FACTOR x its aim); above the aim alone, warn. `before_rounds`: the timer's seconds
    before each round."""
    timer.close()
    marks = [*before_rounds, timer.seconds]
    rounds = benchmark.stats.stats.data
    assert len(marks) == len(rounds) + 1, "one timer reading before each round is needed"
    ratio = statistics.median(t / (b - a) for t, a, b in zip(rounds, marks, marks[1:]))
    aim = OVERHEAD_AIMS[kind]
    benchmark.extra_info.update(info, overhead=kind, overhead_ratio=ratio, overhead_aim=aim,
                                overhead_ratio_of_totals=benchmark.stats.stats.total / timer.seconds,
                                network_seconds=timer.seconds, network_forward_seconds=timer.forward,
                                network_backward_seconds=timer.backward)
    note(benchmark, ratio=ratio, aim=aim)
    outside = f"time outside the network passes is {100 * (ratio - 1):.1f}% of the time inside them"
    assert ratio <= overhead_limit(kind), (f"{kind} overhead ratio {ratio:.3f} exceeds {GROSS_FACTOR} x its aim {aim}, "
                                           f"a regression no machine explains ({outside})")
    if ratio > aim:
        warnings.warn(OverAim(f"{benchmark.name}: {kind} overhead ratio {ratio:.3f} is over its aim {aim} ({outside}); "
                              f"reported, not failed (it fails beyond {overhead_limit(kind):.2f})"))


class OverAim(UserWarning):
    """An overhead ratio over its aim but within the gross limit: shown in the warnings summary."""


def pytest_benchmark_update_machine_info(config, machine_info):
    cfg = bench_profile(config)
    machine_info["fingerprint"] = machine(cfg["threads"]["sample"], cfg["device"], cfg["profile"])


def pytest_benchmark_update_json(config, benchmarks, output_json):
    from distill.bench.judge import normalised, overhead_ratios

    output_json["overhead"] = overhead_ratios(output_json["benchmarks"])
    output_json["normalised"] = normalised(output_json["benchmarks"])


FIGURES: dict[str, dict] = {}  # benchmark name -> its overhead ratio and normalised time, for the summary


def note(benchmark, **figures) -> None:
    FIGURES.setdefault(benchmark.name, {}).update(figures)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    ratios = {k: v for k, v in FIGURES.items() if "ratio" in v}
    if ratios:
        tr.section("overhead ratios (time / time of the network passes in the same calls)")
        for name, v in ratios.items():
            over = "  OVER AIM (reported; fails beyond {:.2f})".format(GROSS_FACTOR * v["aim"]) if v["ratio"] > v["aim"] else ""
            tr.write_line(f"{name:40s} {v['ratio']:.3f}  (aim <= {v['aim']}){over}")
    norm = {k: v for k, v in FIGURES.items() if "normalised" in v}
    if norm:
        tr.section("normalised times (fastest round / fastest run of the reference kernel of the same shapes, "
                   "timed between the rounds)")
        for name, v in norm.items():
            tr.write_line(f"{name:40s} {v['normalised']:8.3f}  (reference {v['kernel']})")
