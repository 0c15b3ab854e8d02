"""The GPU-hours estimate (distill gpu-hours): every GPU job's work counted from its command, multiplied by measured
unit times; a dry run that leaves the profile stamp alone."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import make_project
from distill.workflow import gpu_hours
from distill.bench.work import IMPORTED, Unit, UnknownWork, source_of_model
from distill.config import load_profile

TARGET = "results/smoke/metrics/x-snr-s0/ddim.json"
PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def test_every_gpu_command_declares_its_work():
    from distill.commands.index import every
    from distill.commands.spec import GPU_JOBS

    gpu = [c for c in every().values() if c.job in GPU_JOBS]
    assert {"train-teacher", "sample", "evaluate", "pd-round", "kd-pairs", "kd-train"} <= {c.name for c in gpu}
    assert [c.name for c in gpu if c.cost is None] == []


def test_a_model_is_the_network_of_the_job_that_writes_it(tmp_path):
    producers = {"results/p/pd/cifar10/n4": ("pd", "cifar10")}
    assert source_of_model("results/p/pd/cifar10/n4/model.safetensors", producers) == ("pd", "cifar10")
    present = tmp_path / "model.safetensors"
    present.write_bytes(b"x")
    assert source_of_model(str(present), producers) == str(present)
    with pytest.raises(UnknownWork, match="no job of the dry run makes it"):
        source_of_model("results/p/teachers/gone/model.safetensors", producers)
    # an imported teacher (import-edm, import-diffusers): priced from its file once the import ran
    producers[str(tmp_path)] = IMPORTED
    assert source_of_model(str(present), producers) == str(present)
    with pytest.raises(UnknownWork, match="an import job of this run makes it"):
        source_of_model(str(tmp_path / "sd15.safetensors"), producers)


@pytest.fixture
def smoke_project(tmp_path, monkeypatch):
    proj = make_project(tmp_path)
    monkeypatch.chdir(proj)
    return proj


@pytest.mark.integration
def test_the_work_of_a_table1_cell_from_its_dry_run(smoke_project):
    cfg = load_profile(PARAMS, "smoke")
    stamp = smoke_project / "results" / "active_profile.txt"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text("mini\n")
    mtime = stamp.stat().st_mtime_ns
    jobs = gpu_hours.count_work(cfg, gpu_hours.dry_run_commands("smoke", [TARGET]))
    assert stamp.read_text() == "mini\n" and stamp.stat().st_mtime_ns == mtime  # mini's reports stay up to date
    work = {j.command: dict((u.key, n) for u, n in j.work) for j in jobs}
    ev, s = cfg["evaluation"], cfg["sampling"]
    images = ev["num_samples"] * ev["seed_ranges"]
    assert work["train-teacher"] == {"train table1:teacher @ profile": cfg["teacher"]["steps"]}
    assert work["sample"] == {"sampler_step @ profile": s["steps"] * math.ceil(images / s["batch_size"])}
    assert work["evaluate"] == {"features": images}
    assert "train-classifier" not in work  # a CPU job: no GPU hours

    times = {"train table1:teacher @ profile": {"seconds": 0.5}, "sampler_step @ profile": {"seconds": 0.25},
             "features": {"seconds": 0.001}}
    rows = {r["command"]: r for r in gpu_hours.estimate(jobs, times)}
    assert rows["train-teacher"]["hours"] == pytest.approx(cfg["teacher"]["steps"] * 0.5 / 3600)
    assert rows["evaluate"]["hours"] == pytest.approx(images * 0.001 / 3600)
    del times["features"]
    rows = gpu_hours.estimate(jobs, times)
    evaluate = next(r for r in rows if r["command"] == "evaluate")
    assert evaluate["hours"] is None and evaluate["missing"] == ["no measured time for 'features'"]
    text = gpu_hours.report(TARGET, rows, "NVIDIA H100 80GB HBM3")
    assert "estimated GPU hours on NVIDIA H100" in text and "n/a: no measured time for 'features'" in text
    assert text.splitlines()[-1].split()[:3] == ["total", str(len(jobs)), "jobs"] and "n/a h" in text.splitlines()[-1]


@pytest.mark.integration
def test_measured_on_this_machine_then_estimated_from_the_stored_times(smoke_project):
    cmd = [sys.executable, "-m", "distill", "gpu-hours", "--profile", "smoke", "--forceall"]
    measured = subprocess.run([*cmd, "--measure", "--", TARGET], capture_output=True, text=True)
    assert measured.returncode == 0, measured.stderr[-2000:]
    (units_file,) = (smoke_project / "results" / "benchmarks").glob("*/units.json")
    record = json.loads(units_file.read_text())
    assert record["fingerprint"]["profile"] == "smoke" and record["fingerprint"]["device"] == "cpu"
    assert set(record["units"]) == {"train table1:teacher @ profile", "sampler_step @ profile", "features"}
    assert all(u["seconds"] > 0 for u in record["units"].values())
    assert "estimated CPU hours (measured on the CPU, not a GPU)" in measured.stdout
    teacher = next(line for line in measured.stdout.splitlines() if line.strip().startswith("train-teacher"))
    assert "30 x train table1:teacher @ profile" in teacher

    # a CPU's times are never taken for a GPU's; given explicitly, they are used
    again = subprocess.run([*cmd, "--units", str(units_file), "--", TARGET], capture_output=True, text=True)
    assert again.returncode == 0 and f"unit times: {units_file}" in again.stdout


def test_a_bad_units_file_is_named(tmp_path):
    bad = tmp_path / "units.json"
    bad.write_text("{")
    with pytest.raises(gpu_hours.EstimateError, match="not valid JSON"):
        gpu_hours.read_units(bad)
    bad.write_text("{}")
    with pytest.raises(gpu_hours.EstimateError, match="lacks 'fingerprint' or 'units'"):
        gpu_hours.read_units(bad)


def test_the_work_of_a_pd_round_is_its_updates():
    from distill.plugins.pd import round_work

    cfg = load_profile(PARAMS, "paper")
    exp = cfg["pd"]["experiments"]["cifar10"]
    args = SimpleNamespace(experiment="cifar10", student_steps=2)
    assert round_work(cfg, args, {}) == [(Unit("train", ("pd", "cifar10"), ("pd", "distillation")),
                                          exp["updates_last_rounds"])]
    assert round_work(cfg, SimpleNamespace(experiment="cifar10", student_steps=64), {})[0][1] == \
        exp["updates_per_round"]
