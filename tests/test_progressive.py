"""PD Algorithm 2: the distillation target against an analytic teacher, the discrete times, a round on the smoke
profile, the layout of rounds and evaluations, Fig. 4's curves and the claims."""

import math

import pandas as pd
import pytest
import torch

from distill.config import ConfigError
from distill.plugins.pd_layout import round_updates
from distill.core.grids import uniform
from distill.core.samplers import ddim_step, sample_ddim
from distill.core.schedule import CosineSchedule, broadcast_like
from distill.methods.progressive import distillation_target, student_times
from distill.pipeline import train_teacher
from distill.plugins import pd_layout as L
from distill.steps import pd as pd_steps
from distill.core.checkpoint import load_weights, save_weights
from distill.reports.pd import curves

from conftest import GaussianDenoiser


def _ddim_two_steps(teacher, z, t, n, sched):
    """Two teacher DDIM steps t -> t - 0.5/N -> t - 1/N, written out step by step."""
    out = z
    for a, b in ((t, t - 0.5 / n), (t - 0.5 / n, t - 1.0 / n)):
        (aa, sa), (ab, sb) = sched.alpha_sigma(a), sched.alpha_sigma(b)
        x_hat = teacher(out, a, None)
        out = ddim_step(x_hat, out, *(broadcast_like(c, z) for c in (aa, sa, ab, sb)))
    return out


@pytest.mark.parametrize("n", [2, 4, 64])
def test_one_student_step_on_the_target_lands_where_two_teacher_steps_do(n):
    """Every time but the last (i = 2..N, including t = 1 where alpha ~ 0): PD App. G's inversion is exact."""
    sched, teacher = CosineSchedule(), GaussianDenoiser(0.3, 0.2)
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(2, n + 1).to(torch.float64) / n
    z = torch.randn(len(t), 3, 4, 4, generator=gen, dtype=torch.float64)
    x_tilde = distillation_target(teacher, z, t, n, schedule=sched)
    (a_t, s_t), (a_s, s_s) = sched.alpha_sigma(t), sched.alpha_sigma(t - 1.0 / n)
    student = ddim_step(x_tilde, z, *(broadcast_like(c, z) for c in (a_t, s_t, a_s, s_s)))
    torch.testing.assert_close(student, _ddim_two_steps(teacher, z, t, n, sched), rtol=1e-9, atol=1e-9)


def test_last_step_target_is_the_teachers_prediction_at_the_midpoint():
    sched, teacher, n = CosineSchedule(), GaussianDenoiser(-0.1, 0.5), 8
    z = torch.randn(5, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    t = torch.full((5,), 1.0 / n, dtype=torch.float64)
    x_tilde = distillation_target(teacher, z, t, n, schedule=sched)
    (a_t, s_t), (a_m, s_m) = sched.alpha_sigma(t), sched.alpha_sigma(t - 0.5 / n)
    z_mid = ddim_step(teacher(z, t, None), z, *(broadcast_like(c, z) for c in (a_t, s_t, a_m, s_m)))
    torch.testing.assert_close(x_tilde, teacher(z_mid, t - 0.5 / n, None))


@pytest.mark.parametrize("n", [1, 2, 8])
def test_a_perfect_student_of_n_steps_reproduces_the_teacher_of_2n_steps(n):
    """The ideal student x-hat = x~ sampled with N DDIM steps gives exactly the teacher's 2N-step DDIM samples."""
    teacher = GaussianDenoiser(0.3, 0.2)
    z = torch.randn(6, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def ideal_student(z_t, t, cond):
        return distillation_target(teacher, z_t, t.to(torch.float64), n)

    student = sample_ddim(ideal_student, z, uniform(n), clip_x=False)
    torch.testing.assert_close(student, sample_ddim(teacher, z, uniform(2 * n), clip_x=False), rtol=1e-8, atol=1e-8)


def test_student_times_are_the_discrete_grid_including_t_1():
    t = student_times(4, 4000, torch.Generator().manual_seed(0))
    assert set(t.tolist()) == {0.25, 0.5, 0.75, 1.0}
    # two times per step: the grid and the times halfway between (guided distillation's stochastic sampler)
    assert set(student_times(2, 4000, torch.Generator().manual_seed(0), 2).tolist()) == {0.25, 0.5, 0.75, 1.0}
    assert torch.equal(student_times(4, 64, torch.Generator().manual_seed(5), 1),
                       student_times(4, 64, torch.Generator().manual_seed(5)))  # PD's draws unchanged
    with pytest.raises(ValueError, match="times_per_step"):
        student_times(4, 8, torch.Generator(), 0)


@pytest.mark.parametrize("n", [2, 4])
def test_between_the_grid_one_student_step_lands_where_two_teacher_steps_do_and_the_first_time_jumps_to_0(n):
    """A student trained at i/(2N) too: at t = (2i - 1)/(2N), i >= 2, App. G's inversion is exact as on the grid; at
    t = 1/(2N) a jump of 1/N would pass 0, and the target is the teacher's own last step (its x-hat at t)."""
    sched, teacher = CosineSchedule(), GaussianDenoiser(0.3, 0.2)
    t = torch.arange(3, 2 * n, 2).to(torch.float64) / (2 * n)
    z = torch.randn(len(t), 3, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x_tilde = distillation_target(teacher, z, t, n, schedule=sched)
    (a_t, s_t), (a_s, s_s) = sched.alpha_sigma(t), sched.alpha_sigma(t - 1.0 / n)
    student = ddim_step(x_tilde, z, *(broadcast_like(c, z) for c in (a_t, s_t, a_s, s_s)))
    torch.testing.assert_close(student, _ddim_two_steps(teacher, z, t, n, sched), rtol=1e-9, atol=1e-9)
    first = torch.full((2,), 0.5 / n, dtype=torch.float64)
    z = z[:2]
    torch.testing.assert_close(distillation_target(teacher, z, first, n, schedule=sched), teacher(z, first, None))


def test_rounds_to_two_and_one_get_the_longer_budget(smoke_cfg):
    exp = {"updates_per_round": 50000, "updates_last_rounds": 100000}
    assert [round_updates(exp, n) for n in (8, 4, 2, 1)] == [50000, 50000, 100000, 100000]


def test_layout_of_rounds_and_evaluations():
    assert L.student_steps(8) == [4, 2, 1] and L.fig4_steps(8) == [1, 2, 4, 8]
    with pytest.raises(ValueError, match="power of two"):
        L.student_steps(12)
    assert L.previous_model(4, 8) == "teacher" and L.previous_model(2, 8) == "n4"
    assert L.parse_spec(L.spec_name("ancestral", 0.5)) == ("ancestral", 0.5)
    exp = {"teacher_steps": 4}
    evals = L.evaluations(exp, [0.0, 1.0])
    assert len(evals) == 3 * 3 + 2 * 3  # teacher at 1, 2, 4; students n2 and n1; 3 samplers each
    assert all(e.steps == int(e.model[1:]) for e in evals if e.model != "teacher")


def test_a_round_starts_from_the_teacher_and_records_its_cost(smoke_cfg, tmp_path):
    smoke_cfg["pd"]["experiments"]["digits"]["teacher_steps"] = 4
    train_teacher.run(smoke_cfg, "x", "snr", 0, tmp_path / "teacher", progress=False)
    teacher = tmp_path / "teacher" / "model.safetensors"
    with pytest.raises(ConfigError, match="distils a teacher of 8"):
        pd_steps.run_round(smoke_cfg, "digits", 4, teacher, tmp_path / "bad", progress=False)
    summary = pd_steps.run_round(smoke_cfg, "digits", 2, teacher, tmp_path / "n2", progress=False)
    assert summary["status"] == "completed" and summary["steps"] == 10
    assert summary["images_seen"] == 10 * smoke_cfg["pd"]["experiments"]["digits"]["train"]["batch_size"]
    assert summary["wall_seconds"] > 0 and summary["teacher_steps"] == 4
    tensors, cfg = load_weights(tmp_path / "n2" / "model.safetensors")
    assert cfg["kind"] == "pd-student" and cfg["steps"] == 2 and cfg["status"] == "completed"
    assert cfg["network"]["dropout"] == 0.0
    teacher_tensors, _ = load_weights(teacher)
    assert any(not torch.equal(tensors[k], teacher_tensors[k]) for k in tensors)  # it trained
    # the next round reads this student as its teacher
    assert pd_steps.run_round(smoke_cfg, "digits", 1, tmp_path / "n2" / "model.safetensors", tmp_path / "n1",
                             progress=False)["status"] == "completed"


def test_a_diverged_teacher_is_carried_through_the_rounds(smoke_cfg, tmp_path):
    smoke_cfg["pd"]["experiments"]["digits"]["teacher_steps"] = 4
    train_teacher.run(smoke_cfg, "x", "snr", 0, tmp_path / "teacher", progress=False)
    tensors, cfg = load_weights(tmp_path / "teacher" / "model.safetensors")  # rewritten as a diverged run
    save_weights(tmp_path / "teacher" / "model.safetensors", tensors, {**cfg, "status": "diverged"})
    summary = pd_steps.run_round(smoke_cfg, "digits", 2, tmp_path / "teacher" / "model.safetensors", tmp_path / "n2",
                                progress=False)
    assert summary["status"] == "teacher diverged"
    assert load_weights(tmp_path / "n2" / "model.safetensors")[1]["status"] == "teacher diverged"


def test_stochastic_curves_keep_the_best_gamma_per_step_count():
    rows = [{"model": "teacher", "steps": 4, "sampler": "ancestral", "gamma": g, "fid": f, "fid_mean": f, "is": 1.0,
             "status": "ok"} for g, f in ((0.0, 9.0), (0.5, 7.0), (1.0, 8.0))]
    rows += [{"model": "teacher", "steps": 4, "sampler": "ddim", "gamma": None, "fid": 6.0, "fid_mean": 6.0,
              "is": 1.0, "status": "ok"},
             {"model": "n2", "steps": 2, "sampler": "ancestral", "gamma": 0.0, "fid": math.nan, "fid_mean": math.nan,
              "is": math.nan, "status": "diverged"}]
    frame = curves(pd.DataFrame(rows))
    best = frame[frame["curve"] == "teacher_stochastic"].iloc[0]
    assert best["gamma"] == 0.5 and best["fid"] == 7.0
    assert frame[frame["curve"] == "distilled_stochastic"].iloc[0]["status"] == "diverged"
