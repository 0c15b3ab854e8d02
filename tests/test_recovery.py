"""Recovery after a crash: the smoke workflow killed (SIGKILL, the whole process group) in the middle of each kind of
job, then rerun with the same command, ends with the same models, samples and numbers as a run never interrupted
(the README run's, tests/readme_run.py: its smoke Table 1 built this cell with the same code and settings).
(A report whose inputs were deleted: tests/test_pipeline.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from distill.warm import SOCKET_VARIABLE
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
@pytest.mark.readme_late
def test_a_killed_workflow_reruns_to_the_uninterrupted_result(tmp_path, request):
    interrupted = make_project(tmp_path / "b")
    kills = [_kill_when(interrupted, path) for path in KILL_WHEN]
    assert kills[0], "the workflow finished before the first kill; the test did not interrupt it"
    rerun = run_snakemake(interrupted, *TARGET)  # the same command, nothing else
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "ended without finishing; its jobs resume now" in rerun.stderr  # the killed run's lock, taken over
    assert not list((interrupted / "results").rglob("*.tmp")), "a temporary file was left behind"
    got = _outputs(interrupted / "results" / "smoke")
    assert set(got) == {"classifier/model.safetensors", "teachers/x-snr-s0/model.safetensors",
                        "samples/x-snr-s0/ddim.npz", "metrics/x-snr-s0/ddim.json"}
    readme_project = request.getfixturevalue("readme_project")  # the uninterrupted run: the README's
    expected = _outputs(readme_project.require() / "results" / "smoke", list(got))
    for key in expected:
        assert got[key] == expected[key], f"{key} differs after the interruptions"


@pytest.mark.integration
def test_a_second_live_run_in_one_clone_is_refused_while_the_first_finishes(tmp_path, readme_project):
    """Two runs started in one clone (the default profile turns Snakemake's own lock off): the second is refused
    with the first one's process and command, before it runs a job; the first finishes as if alone."""
    proj = readme_project.copy(tmp_path / "p")
    teachers = [f"results/smoke/teachers/{p}-snr-s0/model.safetensors" for p in ("x", "eps")]
    expected = [(proj / t).read_bytes() for t in teachers]
    for t in teachers:
        shutil.rmtree((proj / t).parent)  # two teachers to train again, one after the other (one core): seconds
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--config", "profile=smoke", "--", *teachers]
    cold = {k: v for k, v in os.environ.items() if k != SOCKET_VARIABLE}  # fresh processes: slow enough to overlap
    first = subprocess.Popen(command, cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cold)
    record = proj / ".snakemake" / "distill-run.lock"
    deadline = time.monotonic() + 120
    while first.poll() is None and not (record.exists() and record.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.run(command, cwd=proj, capture_output=True, text=True)
    assert first.poll() is None, "the first run ended before the second started; the test did not overlap them"
    assert second.returncode != 0
    assert f"another run of this workflow is live in this clone (process {first.pid}" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    assert [(proj / t).read_bytes() for t in teachers] == expected
    assert record.read_text() == ""  # released: the next run finds no record of a killed run
