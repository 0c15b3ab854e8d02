"""Data-parallel runs under torchrun (two CPU processes, gloo) against one process: the one-network training loop
(the teacher's; the PD round and KD run the same loop) ends with the weights of the one-process run with the same
(global) batch, to float summation order;
sampling and evaluation shard the seeds and give the one-process numbers; a killed two-process run resumes to the
uninterrupted two-process weights, bit for bit."""

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
import torch

from conftest import make_project

# The same gradients summed in another order (each rank's half, then the all-reduce) move the weights (|w| ~ 1) by
# float rounding only: measured max |diff| 1.1e-6 (teacher, 30 steps), 2e-7 (PD round, KD: 10 updates). Both ranks
# training on the first half of each batch (a wrong shard) gave 3.3e-2.
ATOL = 1e-5
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def _distill(cwd: Path, *args: str, procs: int = 1) -> list[str]:
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] \
        if procs > 1 else [sys.executable]
    return [*launch, "-m", "distill", *args, "--params", str(cwd / "params.yaml"), "--profile", "smoke",
            "--no-progress", "--threads", "1"]


def _run(cwd: Path, *args: str, procs: int = 1) -> None:
    proc = subprocess.run(_distill(cwd, *args, procs=procs), cwd=cwd, capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(path)


def _max_diff(a: Path, b: Path) -> float:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    return max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)


def test_each_rank_draws_its_rows_of_the_one_process_batch(monkeypatch):
    """The shard itself (the equivalence above cannot see a rank that computes the whole batch): rank r of 2 gets
    rows [r*B/2, (r+1)*B/2) of the data, flips and noise a single process draws, and its network sees only those."""
    from distill.core import distributed
    from distill.core.schedule import CosineSchedule
    from distill.methods.batches import draw_batch
    from distill.methods.teacher import diffusion_loss

    class Recorder:
        schedule = CosineSchedule()

        def __call__(self, z, t, cond=None):
            self.z = z
            return torch.zeros_like(z)

    data = torch.randn(50, 1, 4, 4)

    def draw(world: int, r: int) -> tuple[torch.Tensor, torch.Tensor]:
        monkeypatch.setattr(distributed, "world_size", lambda: world)
        monkeypatch.setattr(distributed, "rank", lambda: r)
        gen, net = torch.Generator().manual_seed(3), Recorder()
        x, _ = draw_batch(data, None, 8, True, gen)
        diffusion_loss(net, x, "snr", gen)
        return x, net.z

    x, z = draw(1, 0)
    halves = [draw(2, r) for r in (0, 1)]
    assert all(h[0].shape[0] == 4 and h[1].shape[0] == 4 for h in halves)
    assert torch.equal(torch.cat([h[0] for h in halves]), x) and torch.equal(torch.cat([h[1] for h in halves]), z)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project's workflow files (smoke profile) with a teacher trained by one process, the teacher
    every test starts from."""
    proj = make_project(tmp_path_factory.mktemp("ddp"))
    _run(proj, "train-teacher", "--parameterization", "x", "--weighting", "snr", "--out", "one/teacher")
    return proj


@pytest.fixture(scope="module")
def two_process_teacher(readme_project) -> Path:
    """The README's two-process teacher (x, SNR, smoke, seed 0; torchrun gives each worker one thread), which the
    README run trained already: the same run as `_run(..., "train-teacher", ..., procs=2)`, not made twice."""
    return readme_project.require() / "runs" / "x-snr-2proc"


@pytest.mark.integration
def test_two_processes_train_as_one_process_with_the_same_batch(project, two_process_teacher):
    """One two-process run per training shape: the teacher's one-network loop (`train_parts`), which the PD round and
    KD run too; each method's own step is checked to feed a rank only its share of the batch in process
    (test_every_methods_step_trains_a_rank_on_its_share_of_the_batch), and the several-network shape in
    tests/test_training_shapes.py."""
    assert _max_diff(project / "one/teacher/model.safetensors", two_process_teacher / "model.safetensors") < ATOL
    summary = json.loads((two_process_teacher / "summary.json").read_text())
    assert summary["data_parallel_processes"] == 2
    assert summary["images_seen"] == 30 * 32  # the global batches
    log_one = [json.loads(line) for line in (project / "one/teacher/log.jsonl").read_text().splitlines()]
    log_two = [json.loads(line) for line in (two_process_teacher / "log.jsonl").read_text().splitlines()]
    assert np.allclose([r["loss"] for r in log_one], [r["loss"] for r in log_two], rtol=1e-4)  # the whole batch's
    assert not list(two_process_teacher.rglob("*.tmp"))


@pytest.mark.integration
def test_two_processes_sample_and_evaluate_as_one_process(project, readme_project):
    teacher = str(project / "one/teacher/model.safetensors")
    smoke = readme_project.require() / "results" / "smoke"  # the README run's classifier and reference statistics
    weights = str(smoke / "classifier" / "model.safetensors")
    reference = str(smoke / "refs" / "digits-distill-domain.npz")
    for procs, where in ((1, "one"), (2, "two")):
        _run(project, "sample", "--model", teacher, "--sampler", "ancestral", "--out", f"{where}/samples.npz",
             procs=procs)
        _run(project, "evaluate", "--samples", f"{where}/samples.npz", "--reference", reference, "--extractor-weights",
             weights, "--out", f"{where}/metrics.json", "--grid", f"{where}/grid.png", procs=procs)
    with np.load(project / "one/samples.npz") as one, np.load(project / "two/samples.npz") as two:
        assert one["images"].shape[0] == 64 and np.array_equal(one["images"], two["images"])
    one = json.loads((project / "one/metrics.json").read_text())["metrics"]
    two = json.loads((project / "two/metrics.json").read_text())["metrics"]
    assert one.keys() == two.keys()
    for metric in one:
        assert two[metric]["mean"] == pytest.approx(one[metric]["mean"], rel=1e-6, abs=1e-9), metric


@pytest.mark.integration
def test_a_killed_two_process_run_resumes_to_the_uninterrupted_weights(project, two_process_teacher):
    """The same two-process run as `two_process_teacher`, killed (launcher and workers) after its first checkpoint,
    then started again with the same command."""
    command = _distill(project, "train-teacher", "--parameterization", "x", "--weighting", "snr", "--out", "killed",
                       procs=2)
    proc = subprocess.Popen(command, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
                            start_new_session=True)
    state = project / "killed" / "train_state.pt"
    deadline = time.monotonic() + 120
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before the kill; the test did not interrupt it"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (project / "killed" / "model.safetensors").exists()
    assert 0 < torch.load(state, weights_only=False)["step"] < 30  # smoke: 30 steps, a checkpoint every 10
    resumed = subprocess.run(command, cwd=project, capture_output=True, text=True, env=ENV)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = _weights(two_process_teacher / "model.safetensors"), _weights(project / "killed/model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a), "the resumed run's weights differ from the uninterrupted run's"
    assert not list((project / "killed").glob(".*.tmp"))


def test_a_job_of_several_gpus_becomes_torchrun_and_a_cpu_or_one_gpu_job_does_not(smoke_cfg):
    from distill.cli import torchrun_command
    from distill.config import ConfigError

    cfg = {**smoke_cfg, "device": "cuda", "cluster": {**smoke_cfg["cluster"], "teacher": {"gpus": 4}}}
    argv = ["train-teacher", "--parameterization", "x", "--weighting", "snr", "--out", "t"]
    launch = torchrun_command("train-teacher", cfg, argv, visible_gpus=8)
    assert launch[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
    assert launch[5:] == ["-m", "distill", *argv]
    assert torchrun_command("kd-pairs", cfg, argv, 8) is None  # not data-parallel
    assert torchrun_command("train-teacher", {**cfg, "device": "cpu"}, argv, 8) is None
    assert torchrun_command("train-teacher", {**cfg, "device": "auto"}, argv, 0) is None  # auto, no GPU: the CPU
    one = {**cfg, "cluster": {**cfg["cluster"], "teacher": {"gpus": 1}}}
    assert torchrun_command("train-teacher", one, argv, 8) is None
    with pytest.raises(ConfigError, match="asks for 4 GPUs, but this machine shows 2"):
        torchrun_command("train-teacher", cfg, argv, visible_gpus=2)


def test_jobs_on_one_machine_take_gpus_no_other_job_holds(tmp_path):
    """Two jobs of one GPU and one of two on a 4-GPU machine get disjoint GPUs; a job's GPUs are free again when
    its process ends."""
    script = ("import sys, time; from pathlib import Path; from distill.core.gpu_slots import acquire; "
              "print(acquire(int(sys.argv[1]), 4, Path(sys.argv[2]), poll_seconds=0.1), flush=True); time.sleep(30)")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n), str(tmp_path)], stdout=subprocess.PIPE, text=True)
             for n in (1, 1, 2)]
    try:
        held = [json.loads(p.stdout.readline()) for p in procs]
        assert sorted(g for h in held for g in h) == [0, 1, 2, 3]
        procs[0].kill()
        procs[0].wait()
        from distill.core.gpu_slots import acquire

        assert acquire(1, 4, tmp_path, poll_seconds=0.1) == held[0]  # the killed job's GPU
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_bf16_is_a_cuda_setting(smoke_cfg, tmp_path):
    from distill.config import profile_problems
    from distill.core.training import Part, StepRunner, TrainConfig

    assert ("precision", "bf16 autocast is for CUDA; a CPU profile trains in fp32") in \
        profile_problems({**smoke_cfg, "precision": "bf16"})
    net = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="bf16 is for CUDA"):
        StepRunner({"net": Part(net, TrainConfig(steps=1, batch_size=1, lr=0.1))}, lambda ctx: {}, 0, "bf16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_training_steps_run_on_cuda():
    from distill.core.training import Part, StepRunner, TrainConfig

    net = torch.nn.Linear(8, 8).cuda()
    seen = []

    def step(ctx):
        out = ctx.net("net")(torch.randn(4, 8, device="cuda"))
        seen.append(out.dtype)
        loss = out.float().pow(2).mean()
        ctx.update("net", loss)
        return {"loss": loss}

    runner = StepRunner({"net": Part(net, TrainConfig(steps=1, batch_size=4, lr=0.1))}, step, 0, "bf16")
    runner()
    assert seen == [torch.bfloat16] and net.weight.dtype == torch.float32


def test_every_methods_step_trains_a_rank_on_its_share_of_the_batch(smoke_cfg, monkeypatch):
    """Rank 0 of 2 (the collectives stubbed): every registered method's training step feeds its trained networks
    half of the step's images, so a new method that draws its batch without `local_rows` (each rank computing the
    whole batch) fails here."""
    import torch.distributed as dist

    from distill.core import distributed
    from distill.core.training import StepRunner
    from distill.registry import active

    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "rank", lambda: 0)
    monkeypatch.setattr(dist, "all_reduce", lambda tensor, op=None: None)
    for method in active(smoke_cfg):
        for name, step in method.training_steps(smoke_cfg).items():
            seen = []
            hooks = [p.net.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
                     for p in step.parts.values()]
            StepRunner(step.parts, step.step_fn)()
            for h in hooks:
                h.remove()
            assert seen and set(seen) == {step.images // 2}, (method.name, name, seen)
