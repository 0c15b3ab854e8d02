"""How fast this machine trains, against the machine that made the stored job times.

The stored job times (results/<profile>/benchmarks/) were measured on one machine; a 2-core AMD EPYC of the kind CI
uses ran the same mini jobs about 1.8 times slower than a 2-core Xeon. So the benchmarks folder keeps, in
machine.json, the time its machine took for a fixed small training workload (one thread: a convolution stack on 8x8
images, forward, backward and an Adam step, as the mini jobs do), and the workflow's estimate scales the stored times
by this machine's time for the same workload over it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from distill.bench.fingerprint import cpu_model
from distill.core.checkpoint import atomic_write

MACHINE_FILE = "machine.json"
WORKLOAD = "conv3x64-8x8-b128-adam-20steps-1thread"  # change the name with the workload: old files then stop matching
REPEATS = 3


def calibrate() -> float:
    """Seconds this machine takes for the fixed workload (the best of REPEATS, on one torch thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 64, 3, padding=1), torch.nn.SiLU(),
                                  torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.SiLU(),
                                  torch.nn.Conv2d(64, 1, 3, padding=1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        x = torch.randn(128, 1, 8, 8, generator=gen)
        best = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            for _ in range(20):
                loss = (net(x) - x).square().mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            best = min(best, time.perf_counter() - start)
        return best
    finally:
        torch.set_num_threads(threads)


def calibrate_fresh() -> float:
    """`calibrate` in a fresh Python process, as `distill bench-machine` measures it: a process that has done other
    work (Snakemake's, with its threads and imports) times the same workload slower."""
    proc = subprocess.run([sys.executable, "-c", "from distill.workflow.speed import calibrate; print(calibrate())"],
                          capture_output=True, text=True, check=True)
    return float(proc.stdout.strip().splitlines()[-1])


def record(folder: str | Path) -> dict:
    """Measure this machine and write <folder>/machine.json (after re-making the stored job times here)."""
    entry = {"cpu": cpu_model(), "workload": WORKLOAD, "seconds": round(calibrate_fresh(), 4)}
    path = Path(folder) / MACHINE_FILE
    atomic_write(path, lambda p: Path(p).write_text(json.dumps(entry, indent=2) + "\n"))
    return entry


def stored(folder: str | Path) -> dict | None:
    """The recorded machine of a benchmarks folder; None where none was recorded or for another workload."""
    path = Path(folder) / MACHINE_FILE
    try:
        entry = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(entry, dict) or entry.get("workload") != WORKLOAD:
        return None
    seconds = entry.get("seconds")
    return entry if isinstance(seconds, (int, float)) and seconds > 0 else None


def factor(folder: str | Path) -> tuple[float, str] | None:
    """(this machine's time / the stored machine's, what it is) for the folder's stored times; None where the folder
    records no machine."""
    entry = stored(folder)
    if entry is None:
        return None
    ratio = calibrate_fresh() / float(entry["seconds"])
    if abs(ratio - 1) < 0.1:
        said = f"this machine trains about as fast as the {entry['cpu']} that made them"
    elif ratio > 1:
        said = f"this machine trains {ratio:.1f}x slower than the {entry['cpu']} that made them"
    else:
        said = f"this machine trains {1 / ratio:.1f}x faster than the {entry['cpu']} that made them"
    return ratio, said
