"""Provenance of every record: the code (git commit, and whether the code differed from it), the machine (an
environment fingerprint) and the sha256 of every input file, so a reader knows where and from what a number was made.

`machine()` is also the key of the stored throughput baselines: two machines share a fingerprint only when they share
the CPU model, core count, torch and BLAS versions and GPU.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from distill.core.checkpoint import file_sha256, write_json

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Paths the pipeline itself writes (tracked small results, reports, the DVC lock): a change there is not a change of
# the code that made a number.
OUTPUT_PATHS = ("results", "reports", "dvc.lock")


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def code_version() -> dict[str, Any]:
    """{'commit': 40 hex digits or 'unknown' (not a git checkout), 'dirty': whether tracked code differs from it}."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": "unknown", "dirty": None}
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".",
                   *[f":(exclude){p}" for p in OUTPUT_PATHS])
    return {"commit": commit, "dirty": bool(changed)}


def short_commit() -> str:
    """The commit as a reader sees it in a footer: 12 hex digits, '+dirty' when the code differed from it."""
    v = code_version()
    if v["commit"] == "unknown":
        return "unknown commit"
    return v["commit"][:12] + ("+dirty" if v["dirty"] else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    """The BLAS torch was built with, from its build configuration (e.g. 'mkl 2024.2', 'open')."""
    for line in torch.__config__.show().splitlines():
        line = line.strip()
        if line.startswith("- Intel(R) oneAPI Math Kernel Library Version") or line.startswith("- Intel(R) Math Kernel"):
            return "mkl " + line.split("Version", 1)[-1].split()[0]
        if "BLAS_INFO=" in line:
            return line.split("BLAS_INFO=", 1)[1].split(",", 1)[0]
    return "unknown"


@functools.lru_cache(maxsize=None)
def machine() -> dict[str, Any]:
    """The environment fingerprint: CPU model, core count, the vector instructions torch uses, torch, BLAS, GPU,
    Python and OS; `id` hashes the fields that change throughput or floating-point results (not Python or the OS)."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    fields = {"cpu": _cpu_model(), "cores": os.cpu_count(), "isa": torch.backends.cpu.get_cpu_capability(),
              "torch": torch.__version__, "blas": _blas(), "gpu": gpu, "python": platform.python_version()}
    key = "|".join(f"{k}={fields[k]}" for k in ("cpu", "cores", "isa", "torch", "blas", "gpu"))
    return {"id": hashlib.sha256(key.encode()).hexdigest()[:12], **fields, "os": platform.platform()}


def provenance(inputs: Mapping[str, str | Path | None] | None = None) -> dict[str, Any]:
    """A record's provenance: code version, machine, torch threads now, and the sha256 of each named input file."""
    files = {name: {"path": str(path), "sha256": file_sha256(path)}
             for name, path in (inputs or {}).items() if path is not None}
    return {"code": code_version(), "machine": machine(), "threads": torch.get_num_threads(), "inputs": files}


def write_record(path: str | Path, record: Mapping[str, Any], inputs: Mapping[str, str | Path | None] | None = None
                 ) -> dict[str, Any]:
    """Write a JSON record (atomically) with its provenance under 'provenance'; return what was written."""
    out = {**record, "provenance": provenance(inputs)}
    write_json(path, out)
    return out
