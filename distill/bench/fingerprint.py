"""The fingerprint of the machine a benchmark ran on: what makes absolute timings comparable.

CPU model, logical cores, torch's CPU kernels (the capability it dispatches to: AVX2, AVX512, ...), torch version
and BLAS, the threads the benchmarks use, when CUDA is used the GPU, and the params.yaml profile whose networks were
timed (mini unless asked). Two runs compare by absolute time only when their fingerprints are equal; the fingerprint's
slug names its folder under results/benchmarks/."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Mapping
from typing import Any

import torch

KEYS = ("cpu", "cores", "cpu_capability", "torch", "blas", "threads", "device")
DEFAULT_PROFILE = "mini"  # a fingerprint without `profile` (runs made before it was recorded) timed mini


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; macOS: sysctl), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return platform.processor() or platform.machine() or "unknown-cpu"


def blas() -> str:
    """torch's BLAS as its build reports it (BLAS_INFO=mkl, openblas, accelerate, ...)."""
    found = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return found.group(1) if found else "unknown-blas"


def machine(threads: int, device: str = "cpu", profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
    """This machine's fingerprint for benchmarks of `profile` run with `threads` torch threads on `device` ('cpu' or
    'cuda')."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "blas": blas(),
        "threads": int(threads),
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "profile": profile,
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower().replace("(r)", "").replace("(tm)", "")).strip("-.")


def slug(fp: Mapping[str, Any]) -> str:
    """The folder name of a fingerprint, e.g. amd-epyc-2c-avx2-torch2.13.0-cpu-mkl-1t."""
    missing = [k for k in KEYS if k not in fp]
    if missing:
        raise ValueError(f"machine fingerprint lacks {missing}; it was not written by tests/benchmarks")
    parts = [_slug(str(fp["cpu"])), f"{fp['cores']}c", _slug(str(fp["cpu_capability"])),
             f"torch{_slug(str(fp['torch']))}", _slug(str(fp["blas"])), f"{fp['threads']}t"]
    if fp["device"] != "cpu":
        parts.append(_slug(str(fp["device"])))
    if fp.get("profile", DEFAULT_PROFILE) != DEFAULT_PROFILE:
        parts.append(_slug(str(fp["profile"])))
    return "-".join(parts)
