"""Consistency distillation (distill/methods/cd.py, distill/plugins/cd.py) on the analytic Gaussian teacher of
conftest, whose probability-flow map is known: x ~ N(mu, s^2) gives x(sigma') = mu + (x(sigma) - mu) r(sigma')/r(sigma)
with r(sigma) = sqrt(s^2 + sigma^2), so the ideal consistency function is f*(x, sigma) = mu + (x - mu) r(sigma_min) /
r(sigma)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from conftest import GaussianDenoiser
from distill.core.schedule import CosineSchedule
from distill.core.sigma_solvers import sigma_denoiser
from distill.methods.cd import (boundary_scalings, cd_loss, consistency_function, karras_sigmas, multistep_sigmas,
                                sample_consistency, teacher_step)

MU, S, SIGMA_MIN, SIGMA_MAX, RHO = 0.3, 0.2, 0.002, 80.0, 7.0


def _r(sigma):
    return torch.sqrt(S**2 + torch.as_tensor(sigma, dtype=torch.float64) ** 2)


def _rows(v, x):
    return torch.as_tensor(v, dtype=torch.float64).reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype)


def ideal(x, sigma, eps=0.0):
    """f*(x, sigma), the exact probability-flow map to sigma_min; eps != 0: perturbed by eps * tanh(sigma), which no
    longer maps the points of one trajectory to one point (a constant factor would: consistency alone does not fix
    the scale, the boundary condition does)."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64).expand(x.shape[0])
    return MU + (x - MU) * _rows(_r(SIGMA_MIN) / _r(sigma), x) + eps * _rows(torch.tanh(sigma), x)


def exact_step(d, x, sigma, sigma_next):
    """The teacher's ODE solved exactly from sigma to sigma_next."""
    return MU + (x - MU) * _rows(_r(sigma_next) / _r(sigma), x)


def teacher():
    return sigma_denoiser(GaussianDenoiser(MU, S), CosineSchedule(), None, "none")


def test_the_boundary_condition_is_exact_at_sigma_min():
    c_skip, c_out = boundary_scalings(torch.tensor([SIGMA_MIN], dtype=torch.float64), SIGMA_MIN)
    assert float(c_skip) == 1.0 and float(c_out) == 0.0
    x = torch.randn(16, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    f = consistency_function(teacher(), SIGMA_MIN)
    assert torch.equal(f(x, torch.tensor(SIGMA_MIN, dtype=torch.float64)), x)
    assert not torch.allclose(f(x, torch.tensor(1.0, dtype=torch.float64)), x)  # away from it, the teacher's map


def test_the_ideal_consistency_function_has_zero_loss_and_a_perturbed_one_does_not():
    sigmas = karras_sigmas(18, SIGMA_MIN, SIGMA_MAX, RHO)
    x = MU + S * torch.randn(256, 1, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = cd_loss(ideal, ideal, teacher(), x, sigmas, torch.Generator().manual_seed(2), solver=exact_step)
    assert float(exact) < 1e-20
    perturbed = cd_loss(lambda x, s: ideal(x, s, 0.2), lambda x, s: ideal(x, s, 0.2), teacher(), x, sigmas,
                        torch.Generator().manual_seed(2), solver=exact_step)
    assert float(perturbed) > 1e-6
    # with the teacher's Heun step (the official solver) the ideal function's loss is the step's error only
    heun = cd_loss(ideal, ideal, teacher(), x, sigmas, torch.Generator().manual_seed(2), solver="heun")
    assert float(heun) < float(perturbed) / 10
    finer = cd_loss(ideal, ideal, teacher(), x, karras_sigmas(72, SIGMA_MIN, SIGMA_MAX, RHO),
                    torch.Generator().manual_seed(2), solver="heun")
    assert float(finer) < float(heun) / 50  # a third-order local error: 4x the steps, far smaller


def test_the_teachers_steps_have_their_orders_on_the_analytic_flow():
    """Halving the step divides Heun's local error by ~8 (third order) and Euler's by ~4 (second order)."""
    x = MU + 3.0 * torch.randn(64, 1, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sigma = torch.full((64,), 3.0, dtype=torch.float64)

    def error(solver, h):
        nxt = sigma - h
        return float((teacher_step(teacher(), x, sigma, nxt, solver) - exact_step(None, x, sigma, nxt)).abs().max())

    assert 7.0 < error("heun", 0.2) / error("heun", 0.1) < 9.0
    assert 3.5 < error("euler", 0.2) / error("euler", 0.1) < 4.5
    assert error("heun", 0.1) < error("euler", 0.1) / 10


def _ideal_as_denoiser(z, t, cond=None, schedule=CosineSchedule()):
    """A VP denoiser whose consistency function is f*: D = c_skip^EDM x + sigma / (sigma - sigma_min) (f* - c_skip x)
    (distill/methods/cd.py `consistency_function` solved for D)."""
    alpha, sig = schedule.alpha_sigma(t)
    sigma = (sig / alpha).to(torch.float64)
    x = z / _rows(alpha, z)
    c_skip, _ = boundary_scalings(sigma, SIGMA_MIN)
    edm_skip = 0.25 / (sigma**2 + 0.25)
    return _rows(edm_skip, x) * x + _rows(sigma / (sigma - SIGMA_MIN), x) * (ideal(x, sigma) - _rows(c_skip, x) * x)


@pytest.mark.parametrize("ts", [[0, 17], [0, 10, 17], [0, 5, 11, 17]])
def test_the_multistep_sampler_of_the_ideal_model_draws_the_data_distribution(ts):
    from distill.core.grids import from_sigmas
    from distill.core.seeding import SeededNoise

    sigmas = multistep_sigmas(18, ts, SIGMA_MIN, SIGMA_MAX, RHO)
    assert sigmas[-1] == pytest.approx(SIGMA_MIN) and sigmas[0] == pytest.approx(SIGMA_MAX)
    noise = SeededNoise(list(range(2000)))
    x = sample_consistency(_ideal_as_denoiser, noise.randn(1, 2, 2), from_sigmas(torch.tensor(sigmas)), None,
                           noise, clip_x=False)
    assert float(x.mean()) == pytest.approx(MU, abs=0.02)
    assert float(x.std()) == pytest.approx(math.sqrt(S**2 + SIGMA_MIN**2), rel=0.05)


def test_a_time_list_must_run_from_zero_to_n_minus_one():
    with pytest.raises(ValueError, match="must increase from 0 to N - 1"):
        multistep_sigmas(18, [0, 10, 16], SIGMA_MIN, SIGMA_MAX, RHO)


class Killed(Exception):
    pass


def test_resume_after_a_kill_gives_the_same_student_and_target(tmp_path, smoke_cfg):
    """The student, its target network (mu = 0.5 here, so that the target's own state matters) and the optimizer
    resume from the training state bit for bit."""
    from distill.core.training import TrainConfig, train_parts
    from distill.steps.cd import training_steps

    exp = next(iter(smoke_cfg["cd"]["experiments"].values()))
    exp["target_ema"] = 0.5
    cfg = TrainConfig(steps=4, batch_size=exp["train"]["batch_size"], lr=1e-3, checkpoint_every=2, log_every=1)

    def run(out, kill_at=None):
        step = training_steps(smoke_cfg)["cd"]
        parts = {n: dataclasses.replace(p, cfg=cfg) for n, p in step.parts.items()}

        def step_fn(ctx):
            if ctx.step == kill_at:
                raise Killed
            return step.step_fn(ctx)

        return train_parts(parts, step_fn, cfg, out, progress=False)

    ref, ref_weights = run(tmp_path / "ref")
    with pytest.raises(Killed):
        run(tmp_path / "run", kill_at=3)
    res, weights = run(tmp_path / "run")
    assert res.steps == ref.steps == 4 and [r["loss"] for r in res.log] == [r["loss"] for r in ref.log]
    for part in ("student", "target"):
        assert all(torch.equal(weights[part][k], ref_weights[part][k]) for k in weights[part]), part
    assert not all(torch.equal(weights["student"][k], weights["target"][k]) for k in weights["student"])
