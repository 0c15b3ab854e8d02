"""Recovery after a crash: the smoke workflow killed (SIGKILL, the whole process group) at several random moments,
then rerun with the same command, ends with the same models, samples and numbers as a run never interrupted.
(A report whose inputs were deleted: tests/test_pipeline.py.)"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import make_project, run_snakemake

# one Table 1 cell through every kind of job: classifier, teacher, samples, reference statistics, evaluation
TARGET = ["--config", "profile=smoke", "--", "results/smoke/metrics/x-snr-s0/ddim.json"]


def _kill_after(proj: Path, seconds: float) -> bool:
    """Start the workflow, kill it and every job it started after `seconds`; True if it was still running."""
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", *TARGET], cwd=proj,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def _outputs(proj: Path) -> dict[str, object]:
    """What must not depend on the interruptions: weights and sample images byte for byte, every metric."""
    res = proj / "results" / "smoke"
    out: dict[str, object] = {}
    for path in sorted(res.rglob("*.safetensors")):
        out[str(path.relative_to(res))] = path.read_bytes()
    for path in sorted((res / "samples").rglob("*.npz")):
        with np.load(path) as z:
            out[str(path.relative_to(res))] = z["images"].tobytes()
    for path in sorted((res / "metrics").rglob("*.json")):
        record = json.loads(path.read_text())
        out[str(path.relative_to(res))] = (record["status"], record["metrics"], record.get("per_range"))
    return out


@pytest.mark.integration
def test_a_killed_workflow_reruns_to_the_uninterrupted_result(tmp_path):
    reference = make_project(tmp_path / "a")
    start = time.perf_counter()
    assert run_snakemake(reference, *TARGET).returncode == 0
    duration = time.perf_counter() - start
    interrupted = make_project(tmp_path / "b")
    rng = random.Random(11)
    kills = 0
    for _ in range(3):  # kill points spread over the run (each rerun starts where the last one stopped)
        kills += _kill_after(interrupted, rng.uniform(0.2, 0.6) * duration)
    assert kills >= 1, "the workflow finished before any kill; the test did not interrupt it"
    rerun = run_snakemake(interrupted, *TARGET)  # the same command, nothing else
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert not list((interrupted / "results").rglob("*.tmp")), "a temporary file was left behind"
    expected, got = _outputs(reference), _outputs(interrupted)
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], f"{key} differs after the interruptions"
