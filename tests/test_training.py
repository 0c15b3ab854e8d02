import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from distill.core.checkpoint import load_weights
from distill.core.denoiser import NetworkDenoiser
from distill.core.training import STATE_FILE, TrainConfig, train
from distill.data import load_dataset
from distill.methods.teacher import make_teacher_loss
from distill.nets.unet import UNet

from conftest import ROOT

CFG = TrainConfig(steps=12, batch_size=16, lr=1e-3, warmup_steps=3, ema_decay=0.9, grad_clip=1.0, weight_decay=1e-3,
                  checkpoint_every=4, log_every=2, seed=3)


class Killed(Exception):
    pass


def _setup(fail_at=None):
    torch.manual_seed(0)
    net = UNet(1, 1, 8, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), dropout=0.1)
    data = load_dataset({"name": "digits"}).model_tensor()[:200]
    inner = make_teacher_loss(NetworkDenoiser(net, "v"), data, None, CFG.batch_size, "snr_trunc", random_flip=True)
    calls = {"n": 0}

    def loss_fn(model, gen):
        calls["n"] += 1
        if fail_at is not None and calls["n"] == fail_at:
            raise Killed  # the process "dies" in the middle of this step
        return inner(model, gen)

    return net, loss_fn


@pytest.mark.parametrize("kill_at", [2, 6, 9])
def test_resume_after_interruption_is_bit_identical(tmp_path, kill_at):
    net, loss_fn = _setup()
    ref, ref_weights = train(net, loss_fn, CFG, tmp_path / "ref", progress=False)

    net, loss_fn = _setup(fail_at=kill_at)
    with pytest.raises(Killed):
        train(net, loss_fn, CFG, tmp_path / "run", progress=False)
    net, loss_fn = _setup()  # a fresh process: new network, same command
    res, weights = train(net, loss_fn, CFG, tmp_path / "run", progress=False)

    assert res.steps == ref.steps == CFG.steps
    assert weights.keys() == ref_weights.keys()
    assert all(torch.equal(weights[k], ref_weights[k]) for k in weights)
    assert [r["loss"] for r in res.log] == [r["loss"] for r in ref.log]


def test_a_state_left_by_other_settings_is_refused_or_replaced_when_told(tmp_path):
    from distill.core import run_folder

    net, loss_fn = _setup(fail_at=6)
    with pytest.raises(Killed):
        train(net, loss_fn, CFG, tmp_path, progress=False)  # leaves a state at step 4
    longer = TrainConfig(**{**CFG.__dict__, "steps": 8})
    net, loss_fn = _setup()
    state = (tmp_path / "train_state.pt").read_bytes()
    with pytest.raises(run_folder.RunConflict, match="holds a run of other settings"):
        train(net, loss_fn, longer, tmp_path, progress=False)
    assert (tmp_path / "train_state.pt").read_bytes() == state  # left as it was
    token = run_folder.OVERWRITE.set(True)  # --overwrite
    try:
        res, weights = train(net, loss_fn, longer, tmp_path, progress=False)
    finally:
        run_folder.OVERWRITE.reset(token)
    net, loss_fn = _setup()
    ref, ref_weights = train(net, loss_fn, longer, tmp_path / "fresh", progress=False)
    assert res.steps == 8 and all(torch.equal(weights[k], ref_weights[k]) for k in weights)


def test_non_finite_loss_is_recorded_as_divergence(tmp_path):
    net, loss_fn = _setup()

    def exploding(model, gen):
        loss = loss_fn(model, gen)
        return loss * float("nan") if exploding.calls >= 3 else loss

    exploding.calls = 0

    def counted(model, gen):
        out = exploding(model, gen)
        exploding.calls += 1
        return out

    res, weights = train(net, counted, CFG, tmp_path, progress=False)
    assert res.status == "diverged" and res.diverged_at == 3 and res.steps == 3
    assert all(torch.isfinite(v).all() for v in weights.values() if v.dtype.is_floating_point)


def test_learning_rate_schedule():
    cfg = TrainConfig(steps=10, batch_size=1, lr=1.0, warmup_steps=4, anneal="linear")
    assert cfg.lr_at(0) == pytest.approx(0.25 * 1.0)
    assert cfg.lr_at(3) == pytest.approx(1.0 * (1 - 3 / 10))
    assert TrainConfig(steps=10, batch_size=1, lr=1.0).lr_at(9) == 1.0


def _project(tmp_path: Path, steps: int) -> Path:
    proj = tmp_path / "proj"
    (proj / "workflows").mkdir(parents=True)
    shutil.copytree(ROOT / "workflows" / "schema", proj / "workflows" / "schema")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profiles"]["smoke"]["teacher"].update(steps=steps, checkpoint_every=10)
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    return proj


def _train_cmd(proj: Path, out: str) -> list[str]:
    return [sys.executable, "-m", "distill", "train-teacher", "--params", str(proj / "params.yaml"), "--profile",
            "smoke", "--parameterization", "x", "--weighting", "snr", "--seed", "1", "--out", out, "--threads", "1",
            "--no-progress"]


def test_training_job_killed_and_rerun_ends_with_the_same_weights(tmp_path):
    proj = _project(tmp_path, steps=80)
    subprocess.run(_train_cmd(proj, str(tmp_path / "ref")), check=True, capture_output=True)

    proc = subprocess.Popen(_train_cmd(proj, str(tmp_path / "run")), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "run" / STATE_FILE
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.1)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the job finished before it could be killed; raise the step count"
    assert not (tmp_path / "run" / "model.safetensors").exists()
    subprocess.run(_train_cmd(proj, str(tmp_path / "run")), check=True, capture_output=True)
    assert not list((tmp_path / "run").glob(".*.tmp"))  # a temporary file of the killed write is cleaned up

    ref, _ = load_weights(tmp_path / "ref" / "model.safetensors")
    run, cfg = load_weights(tmp_path / "run" / "model.safetensors")
    assert cfg["parameterization"] == "x" and cfg["status"] == "completed"
    assert all(torch.equal(ref[k], run[k]) for k in ref)
