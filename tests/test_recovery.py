"""Recovery after a crash: the smoke workflow killed (SIGKILL, the whole process group) at several random moments,
then rerun with the same command, ends with the same models, samples and numbers as a run never interrupted."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_project, run_snakemake

TARGET = ["--config", "profile=smoke", "--", "reports/table1.pdf"]


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
    """What must not depend on the interruptions: weights and sample images byte for byte, every metric, the table."""
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
    table = pd.read_csv(proj / "reports" / "table1.csv")
    out["table1.csv"] = table.drop(columns=["train_seconds"]).to_csv(index=False)
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


@pytest.mark.integration
def test_a_report_whose_inputs_were_deleted_is_rebuilt(tmp_path):
    proj = make_project(tmp_path)
    assert run_snakemake(proj, *TARGET).returncode == 0
    before = (proj / "reports" / "table1.csv").read_text()
    shutil.rmtree(proj / "results" / "smoke" / "metrics")
    again = run_snakemake(proj, *TARGET)  # Snakemake keeps the present report: the workflow says why and what to run
    assert again.returncode == 0, again.stderr[-3000:]
    command = "snakemake --cores all --forcerun pd_table1 -- reports/table1.pdf"
    assert "note: reports/table1.pdf is present but its input results/smoke/metrics/" in again.stderr
    assert command in again.stderr
    rebuilt = run_snakemake(proj, "--forcerun", "pd_table1", *TARGET)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert (proj / "results" / "smoke" / "metrics").is_dir() and "note:" not in rebuilt.stderr
    assert pd.read_csv(proj / "reports" / "table1.csv")["fid"].equals(pd.read_csv(io.StringIO(before))["fid"])
