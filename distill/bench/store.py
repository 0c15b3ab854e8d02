"""Benchmark runs kept per machine fingerprint, in pytest-benchmark's JSON format:

    results/benchmarks/<fingerprint slug>/NNNN_<commit>[-dirty].json   every filed run (the history)
    results/benchmarks/<fingerprint slug>/baseline.json                 the run absolute medians are compared with
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from distill.bench.fingerprint import slug
from distill.core.checkpoint import atomic_write

STORE = Path("results/benchmarks")
BASELINE = "baseline.json"
RUN_GLOB = "[0-9][0-9][0-9][0-9]_*.json"


def read_run(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        run = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"benchmark run {path} not found: run `bash tools/bench.sh` to make one") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a pytest-benchmark JSON file ({exc}); run the benchmarks again") from None
    if not isinstance(run, dict) or "benchmarks" not in run:
        raise ValueError(f"{path} has no 'benchmarks': not a pytest-benchmark JSON file")
    return run


def machine_slug(run: dict[str, Any]) -> str:
    fp = run.get("machine_info", {}).get("fingerprint")
    if fp is None:
        raise ValueError("the run records no machine fingerprint (machine_info.fingerprint): it was not made by "
                         "tests/benchmarks of this version; run `bash tools/bench.sh` again")
    return slug(fp)


def file_run(store: Path, run_path: Path) -> Path:
    """Copy a run into its fingerprint's history as the next NNNN_<commit>.json; return the new file."""
    run = read_run(run_path)
    folder = store / machine_slug(run)
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name[:4]) for p in folder.glob(RUN_GLOB)]
    commit = run.get("commit_info", {})
    name = f"{max(numbers, default=0) + 1:04d}_{(commit.get('id') or 'nocommit')[:8]}"
    out = folder / f"{name}{'-dirty' if commit.get('dirty') else ''}.json"
    atomic_write(out, lambda tmp: shutil.copyfile(run_path, tmp))
    return out


def baseline_path(store: Path, machine: str) -> Path | None:
    path = store / machine / BASELINE
    return path if path.is_file() else None


def set_baseline(store: Path, run_path: Path) -> Path:
    out = store / machine_slug(read_run(run_path)) / BASELINE
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: shutil.copyfile(run_path, tmp))
    return out


def baselines(store: Path) -> dict[str, dict[str, Any]]:
    """Every fingerprint's baseline run, by fingerprint slug."""
    return {p.parent.name: read_run(p) for p in sorted(store.glob(f"*/{BASELINE}"))}


def history(store: Path) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every filed run, by fingerprint slug, in filing order: (file name, run)."""
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path in sorted(store.glob(f"*/{RUN_GLOB}")):
        out.setdefault(path.parent.name, []).append((path.stem, read_run(path)))
    return out
