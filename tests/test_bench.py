"""Throughput tracking across machines (distill.bench): fingerprints, the store per fingerprint, the judge of a run,
the history report; and the pieces the benchmarks time (reference kernels, StepRunner, the methods' training steps)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from distill.bench import store as st
from distill.bench.fingerprint import machine, slug
from distill.bench.judge import run_and_report
from distill.bench.limits import EACH_LIMIT, GROSS_FACTOR, MEDIAN_LIMIT, NORMALISED_LIMIT, OVERHEAD_AIMS
from distill.core.timing import reference_kernel
from distill.core.training import SINGLE, Part, StepRunner, TrainConfig, one_loss_step, train_parts
from distill.registry import TrainingStep, active

THIS = {"cpu": "AMD EPYC 7B13", "cores": 2, "cpu_capability": "AVX2", "torch": "2.13.0+cpu", "blas": "mkl",
        "threads": 1, "device": "cpu"}
OTHER = {**THIS, "cpu": "Intel(R) Xeon(R) Processor @ 2.80GHz", "cpu_capability": "AVX512"}
MEDIANS = {"test_network_forward": 0.15, "test_ddim_sampler[8]": 1.3, "test_training_step[pd-distillation]": 0.11}
REFERENCE = 0.1  # every benchmark's reference kernel, seconds


def run_json(fp, medians=MEDIANS, ratio=1.01, reference=REFERENCE, when="2026-11-23T10:00:00", commit="a5a5e81c0"):
    """A run as tests/benchmarks writes it (the fields the judge reads)."""
    benchmarks = []
    for name, median in medians.items():
        info = {"reference_kernel": "unet", "reference_seconds": reference}
        if "sampler" in name:
            info.update(overhead="sampler", overhead_ratio=ratio, overhead_aim=OVERHEAD_AIMS["sampler"],
                        images_per_second=500 / median)
        benchmarks.append({"name": name, "stats": {"median": median, "min": median}, "extra_info": info})
    return {"machine_info": {"fingerprint": fp}, "commit_info": {"id": commit, "dirty": False}, "datetime": when,
            "benchmarks": benchmarks}


def write(path, run):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run))
    return path


def baseline(store, fp, run):
    return write(store / slug(fp) / st.BASELINE, run)


def judge(tmp_path, run, make_baseline=False, capsys=None):
    status = run_and_report(write(tmp_path / "latest.json", run), tmp_path / "store", make_baseline)
    return status, capsys.readouterr().out if capsys else ""


def test_the_fingerprint_keys_machines_apart():
    here = machine(threads=1)
    assert set(here) == {"cpu", "cores", "cpu_capability", "torch", "blas", "threads", "device", "profile"}
    assert here["device"] == "cpu" and here["threads"] == 1 and here["cores"] >= 1 and here["profile"] == "mini"
    assert slug(THIS) == "amd-epyc-7b13-2c-avx2-torch2.13.0-cpu-mkl-1t"
    assert slug(OTHER) != slug(THIS) and slug({**THIS, "threads": 2}) != slug(THIS)
    gpu = {**THIS, "device": "NVIDIA H100 80GB HBM3"}
    assert slug(gpu).endswith("-nvidia-h100-80gb-hbm3")
    # another profile's networks: another baseline (a fingerprint written before profiles were recorded timed mini)
    assert slug({**gpu, "profile": "paper"}).endswith("-nvidia-h100-80gb-hbm3-paper")
    assert slug({**THIS, "profile": "mini"}) == slug(THIS)
    with pytest.raises(ValueError, match="lacks"):
        slug({"cpu": "x"})


def test_a_machine_without_a_baseline_saves_one_and_compares_no_other_cpu(tmp_path, capsys):
    store = tmp_path / "store"
    # a 3x faster CPU: its code and its reference kernel both 3x faster
    baseline(store, OTHER, run_json(OTHER, {k: v / 3 for k, v in MEDIANS.items()}, reference=REFERENCE / 3))
    assert run_and_report(write(tmp_path / "latest.json", run_json(THIS)), store, False, save=False) == 0
    assert "some benchmarks failed" in capsys.readouterr().out  # an incomplete run never becomes a baseline
    assert not (store / slug(THIS) / st.BASELINE).exists()
    for p in (store / slug(THIS)).glob(st.RUN_GLOB):
        p.unlink()
    status, out = judge(tmp_path, run_json(THIS), capsys=capsys)
    assert status == 0, out
    assert "saved this run as the baseline" in out and "this machine had none" in out
    assert (store / slug(THIS) / st.BASELINE).is_file()
    assert not any(line.lstrip().startswith("median") for line in out.splitlines())  # no absolute comparison
    assert [p.name for p in (store / slug(THIS)).glob(st.RUN_GLOB)] == ["0001_a5a5e81c.json"]
    status, out = judge(tmp_path, run_json(THIS), capsys=capsys)  # the next run compares with it
    assert status == 0 and "median" in out and "saved" not in out
    assert sorted(p.name[:4] for p in (store / slug(THIS)).glob(st.RUN_GLOB)) == ["0001", "0002"]


def test_a_doctored_baseline_with_halved_medians_fails(tmp_path, capsys):
    baseline(tmp_path / "store", THIS, run_json(THIS, {k: v / 2 for k, v in MEDIANS.items()}))
    status, out = judge(tmp_path, run_json(THIS), capsys=capsys)
    assert status == 1 and "median geometric mean of 3 ratios" in out.splitlines()[-1]
    # one benchmark more than EACH_LIMIT slower fails by itself, though the others make up the mean
    baseline(tmp_path / "store", THIS, run_json(THIS, {**MEDIANS, "test_fid": 0.2 / (1 + EACH_LIMIT) / 1.01}))
    status, out = judge(tmp_path, run_json(THIS, {**{k: v * 0.8 for k, v in MEDIANS.items()}, "test_fid": 0.2}),
                        capsys=capsys)
    last = out.splitlines()[-1]
    assert status == 1 and last.endswith("median test_fid") and "geometric mean" not in last
    # within the limit: passes
    baseline(tmp_path / "store", THIS, run_json(THIS, {k: v / (1 + MEDIAN_LIMIT / 2) for k, v in MEDIANS.items()}))
    assert judge(tmp_path, run_json(THIS), capsys=capsys)[0] == 0


def test_an_overhead_above_its_aim_is_reported_and_a_gross_one_fails_everywhere(tmp_path, capsys):
    # over the aim (a faster CPU makes the same fixed work weigh more): reported, not failed
    status, out = judge(tmp_path / "a", run_json(THIS, ratio=OVERHEAD_AIMS["sampler"] + 0.01), capsys=capsys)
    assert status == 0 and "over aim" in out and "is over its aim 1.05" in out
    # beyond GROSS_FACTOR x the aim: a regression no machine explains, never made a baseline
    status, out = judge(tmp_path / "b", run_json(THIS, ratio=GROSS_FACTOR * OVERHEAD_AIMS["sampler"] + 0.01),
                        capsys=capsys)
    assert status == 1 and "overhead test_ddim_sampler[8]" in out and "not saved as the baseline" in out
    assert not (tmp_path / "b" / "store" / slug(THIS) / st.BASELINE).exists()


def test_normalised_times_are_compared_with_another_machine(tmp_path, capsys):
    store = tmp_path / "store"
    # the other CPU is 3x faster in absolute time, and so is its reference kernel: the same normalised times
    baseline(store, OTHER, run_json(OTHER, {k: v / 3 for k, v in MEDIANS.items()}, reference=REFERENCE / 3))
    status, out = judge(tmp_path, run_json(THIS), capsys=capsys)
    assert status == 0 and "(another machine)" in out
    # this machine's code got slower relative to its own kernel: a regression on any CPU
    slower = {k: v * (1 + 2 * NORMALISED_LIMIT) for k, v in MEDIANS.items()}
    (store / slug(THIS) / st.BASELINE).unlink()
    status, out = judge(tmp_path, run_json(THIS, slower), capsys=capsys)
    assert status == 1 and "normalised geometric mean of 3 ratios" in out


def test_a_gpu_or_another_profile_is_not_compared_with_a_cpu_mini_baseline(tmp_path, capsys):
    store = tmp_path / "store"
    baseline(store, OTHER, run_json(OTHER, {k: v / 3 for k, v in MEDIANS.items()}, reference=REFERENCE / 3))
    for fp in ({**THIS, "device": "NVIDIA H100 80GB HBM3"}, {**THIS, "profile": "paper"}):
        status, out = judge(tmp_path, run_json(fp, {k: v * 5 for k, v in MEDIANS.items()}), capsys=capsys)
        assert status == 0 and "(another machine)" not in out, fp
        assert "no stored baseline of the same profile and kind of device" in out


def test_making_a_baseline_replaces_the_old_one(tmp_path, capsys):
    store = tmp_path / "store"
    baseline(store, THIS, run_json(THIS, {k: v / 2 for k, v in MEDIANS.items()}))
    status, out = judge(tmp_path, run_json(THIS, when="2026-11-24T10:00:00"), make_baseline=True, capsys=capsys)
    assert status == 0 and "as asked" in out
    assert st.read_run(store / slug(THIS) / st.BASELINE)["datetime"] == "2026-11-24T10:00:00"


def test_bad_runs_are_named(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a pytest-benchmark JSON"):
        run_and_report(tmp_path / "bad.json", tmp_path / "store", False)
    write(tmp_path / "old.json", {"benchmarks": [], "machine_info": {}})
    with pytest.raises(ValueError, match="no machine fingerprint"):
        run_and_report(tmp_path / "old.json", tmp_path / "store", False)
    with pytest.raises(FileNotFoundError, match="bench.sh"):
        run_and_report(tmp_path / "missing.json", tmp_path / "store", False)
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").rglob("*.json"))


def test_the_history_report_has_a_page_per_machine(tmp_path):
    from distill.reports import benchmarks

    store = tmp_path / "store"
    for fp in (THIS, OTHER):
        for i, when in enumerate(("2026-11-22T10:00:00", "2026-11-23T10:00:00")):
            run = run_json(fp, {k: v * (1 + 0.05 * i) for k, v in MEDIANS.items()}, when=when, commit=f"c{i}")
            st.file_run(store, write(tmp_path / "run.json", run))
        st.set_baseline(store, tmp_path / "run.json")
    runs = benchmarks.build(store, tmp_path / "b.pdf", tmp_path / "b.csv")
    assert runs == 4 and (tmp_path / "b.pdf").read_bytes().startswith(b"%PDF")
    import pandas as pd

    df = pd.read_csv(tmp_path / "b.csv")
    assert set(df["machine"]) == {slug(THIS), slug(OTHER)}
    assert df.groupby("machine")["baseline"].sum().tolist() == [len(MEDIANS)] * 2  # the second run of each
    assert math.isclose(df.loc[df["benchmark"] == "test_ddim_sampler[8]", "normalised"].min(), 13.0)
    with pytest.raises(FileNotFoundError, match="bench.sh"):
        benchmarks.build(tmp_path / "empty", tmp_path / "c.pdf", tmp_path / "c.csv")


class ConvLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.lin = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        return self.lin(torch.relu(self.conv(x)).flatten(1))


def test_the_reference_kernel_replays_the_layers_of_the_network():
    net, x = ConvLinear(), torch.randn(5, 1, 8, 8)
    seen = []
    for m in (net.conv, net.lin):
        m.register_forward_hook(lambda m, a, o: seen.append(type(m).__name__))
    forward, backward = reference_kernel(net, x), reference_kernel(net, x, backward=True)
    seen.clear()
    forward()
    assert seen == []  # the layers' own ops, not their hooks
    backward()
    assert all(p.grad is None for p in net.parameters())  # gradients computed, never accumulated
    with pytest.raises(ValueError, match="no convolution or linear layer"):
        reference_kernel(nn.ReLU(), x)


def test_the_step_runner_makes_the_training_loops_steps(tmp_path):
    """The benchmarks time StepRunner; it must make the same updates as the loop (bit-identical on CPU)."""
    def make():
        torch.manual_seed(0)
        net = ConvLinear()
        data = torch.randn(64, 1, 8, 8)

        def loss_fn(n, gen):
            idx = torch.randint(len(data), (8,), generator=gen)
            return n(data[idx]).square().mean()

        cfg = TrainConfig(steps=6, batch_size=8, lr=1e-2, warmup_steps=3, anneal="linear", ema_decay=0.9)
        return net, {SINGLE: Part(net, cfg)}, one_loss_step(net, loss_fn, 8), cfg

    net, parts, step_fn, cfg = make()
    _, weights = train_parts(parts, step_fn, cfg, tmp_path, progress=False)
    net2, parts2, step_fn2, _ = make()
    run = StepRunner(parts2, step_fn2, cfg.seed)
    for _ in range(cfg.steps):
        run()
    for k, v in net2.state_dict().items():
        assert torch.equal(v, net.state_dict()[k]), k


def test_every_method_declares_its_training_steps(smoke_cfg):
    """The benchmarks find every method's training steps in the registry: each runs one finite step here."""
    found = {}
    for m in active(smoke_cfg):
        for name, step in m.training_steps(smoke_cfg).items():
            assert isinstance(step, TrainingStep) and step.images > 0 and step.passes
            losses = StepRunner(step.parts, step.step_fn)()
            assert all(torch.isfinite(v) for v in losses.values()), (m.name, name)
            found.setdefault(m.name, []).append(name)
    # every method the smoke profile runs declares a step (a method that trains nothing would be a new kind of card)
    assert set(found) == {m.name for m in active(smoke_cfg)}, found
    assert found["pd"] == ["distillation"] and found["guided"] == ["stage_one", "round"]
