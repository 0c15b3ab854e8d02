"""Recovery after a crash: the smoke workflow killed (SIGKILL, the whole process group) in the middle of each kind of
job, then rerun with the same command, ends with the same models, samples and numbers as a run never interrupted
(the README run's, tests/readme_run.py: its smoke Table 1 built this cell with the same code and settings).
(A report whose inputs were deleted: tests/test_pipeline.py.)"""

from __future__ import annotations

import json
import os
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
# kill points: a file that appears while a job runs (the teacher's first checkpoint; the evaluation's log, made
# when its job starts) or once one has finished (the reference statistics, written while the samples are drawn)
KILL_WHEN = ["results/smoke/teachers/x-snr-s0/train_state.pt", "results/smoke/refs", "logs/smoke/evaluate"]


def _kill_when(proj: Path, path: str, timeout: float = 300) -> bool:
    """Start the workflow, kill it and every job it started as soon as `path` exists; True if it was still running."""
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", *TARGET], cwd=proj,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not (proj / path).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        return False
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def _outputs(res: Path, names: list[str] | None = None) -> dict[str, object]:
    """What must not depend on the interruptions: weights and sample images byte for byte, every metric (the files
    under `res`, or those of `names`)."""
    out: dict[str, object] = {}
    paths = [res / n for n in names] if names is not None else [
        *res.rglob("*.safetensors"), *(res / "samples").rglob("*.npz"), *(res / "metrics").rglob("*.json")]
    for path in sorted(paths):
        key = str(path.relative_to(res))
        if path.suffix == ".safetensors":
            out[key] = path.read_bytes()
        elif path.suffix == ".npz":
            with np.load(path) as z:
                out[key] = z["images"].tobytes()
        else:
            record = json.loads(path.read_text())
            out[key] = (record["status"], record["metrics"], record.get("per_range"))
    return out


@pytest.mark.integration
def test_a_killed_workflow_reruns_to_the_uninterrupted_result(tmp_path, readme_project):
    interrupted = make_project(tmp_path / "b")
    kills = [_kill_when(interrupted, path) for path in KILL_WHEN]
    assert kills[0], "the workflow finished before the first kill; the test did not interrupt it"
    rerun = run_snakemake(interrupted, *TARGET)  # the same command, nothing else
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert not list((interrupted / "results").rglob("*.tmp")), "a temporary file was left behind"
    got = _outputs(interrupted / "results" / "smoke")
    assert set(got) == {"classifier/model.safetensors", "teachers/x-snr-s0/model.safetensors",
                        "samples/x-snr-s0/ddim.npz", "metrics/x-snr-s0/ddim.json"}
    expected = _outputs(readme_project.require() / "results" / "smoke", list(got))
    for key in expected:
        assert got[key] == expected[key], f"{key} differs after the interruptions"
