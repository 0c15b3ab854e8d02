import math

import pytest
import torch

from distill.core.parameterization import (PARAMETERIZATIONS, eps_from_x, output_channels, output_from_targets,
                                           v_from_x, x_from_output)
from distill.core.schedule import CosineSchedule, network_time
from distill.core.weighting import WEIGHTINGS, loss_weight

S = CosineSchedule()


def test_schedule_is_variance_preserving_and_clipped():
    t = torch.linspace(0, 1, 101)
    alpha, sigma = S.alpha_sigma(t)
    assert torch.allclose(alpha**2 + sigma**2, torch.ones_like(alpha, dtype=torch.float64), atol=1e-12)
    lam = S.logsnr(t)
    assert lam[0].item() == pytest.approx(20.0) and lam[-1].item() == pytest.approx(-20.0)
    assert torch.all(lam[1:] < lam[:-1])


def test_schedule_matches_cosine_away_from_the_clipped_ends():
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    alpha, _ = S.alpha_sigma(t)
    assert torch.allclose(alpha, torch.cos(0.5 * math.pi * t), atol=1e-4)


def test_t_from_logsnr_inverts_logsnr_and_network_time_is_t():
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert torch.allclose(S.t_from_logsnr(S.logsnr(t)), t, atol=1e-9)
    assert torch.allclose(network_time(S.logsnr(t)), t, atol=1e-4)


@pytest.mark.parametrize("parameterization", PARAMETERIZATIONS)
def test_parameterization_round_trip(parameterization):
    g = torch.Generator().manual_seed(0)
    x, eps = torch.rand(4, 2, 5, 5, generator=g) * 2 - 1, torch.randn(4, 2, 5, 5, generator=g)
    t = torch.tensor([0.1, 0.4, 0.7, 0.9])
    alpha, sigma = S.alpha_sigma(t)
    a, s = alpha.float().view(-1, 1, 1, 1), sigma.float().view(-1, 1, 1, 1)
    z = a * x + s * eps
    out = output_from_targets(parameterization, x, eps, alpha, sigma)
    assert out.shape[1] == output_channels(parameterization, 2)
    x_hat = x_from_output(parameterization, out, z, alpha, sigma)
    assert torch.allclose(x_hat, x, atol=1e-5)
    assert torch.allclose(eps_from_x(x_hat, z, alpha, sigma), eps, atol=1e-4)
    assert torch.allclose(v_from_x(x_hat, z, alpha, sigma), a * eps - s * x, atol=1e-4)


def test_v_prediction_formula():
    # x-hat = alpha z - sigma v  (PD Appendix D)
    t = torch.tensor([0.3])
    alpha, sigma = S.alpha_sigma(t)
    z, v = torch.randn(1, 3), torch.randn(1, 3)
    assert torch.allclose(x_from_output("v", v, z, alpha, sigma), alpha.float() * z - sigma.float() * v)


def test_unknown_parameterization_is_an_error():
    with pytest.raises(ValueError, match="unknown parameterization"):
        x_from_output("score", torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1), torch.ones(1))


def test_loss_weights():
    lam = torch.tensor([-3.0, 0.0, 2.0], dtype=torch.float64)
    snr = torch.exp(lam)
    assert torch.allclose(loss_weight("snr", lam), snr)
    assert torch.allclose(loss_weight("snr_trunc", lam), torch.tensor([1.0, 1.0, math.exp(2.0)], dtype=torch.float64))
    assert torch.allclose(loss_weight("snr_plus_one", lam), snr + 1)
    assert torch.allclose(loss_weight("constant", lam), torch.ones(3, dtype=torch.float64))
    sigma = torch.exp(-0.5 * lam)  # EDM: sigma^-2 + sigma_data^-2
    assert torch.allclose(loss_weight("edm", lam), sigma.pow(-2) + 4.0)
    assert torch.allclose(loss_weight("edm", lam, sigma_data=1.0), snr + 1)
    with pytest.raises(ValueError):
        loss_weight("nope", lam)
    with pytest.raises(ValueError, match="sigma_data"):
        loss_weight("edm", lam, sigma_data=0.0)
    assert set(WEIGHTINGS) == {"snr", "snr_trunc", "snr_plus_one", "constant", "edm"}


@pytest.mark.parametrize("weighting,space", [("snr", "eps"), ("snr_plus_one", "v"), ("constant", "x")])
def test_weights_equal_the_losses_they_stand_for(weighting, space):
    # PD Sec. 4: SNR-weighted x-MSE == eps-MSE, (SNR+1)-weighted == v-MSE.
    g = torch.Generator().manual_seed(1)
    x, eps, x_hat = torch.randn(1, 8, generator=g), torch.randn(1, 8, generator=g), torch.randn(1, 8, generator=g)
    t = torch.tensor([0.35])
    alpha, sigma = S.alpha_sigma(t)
    z = alpha.float() * x + sigma.float() * eps
    weighted = loss_weight(weighting, S.logsnr(t)).float() * (x - x_hat).pow(2).mean()
    if space == "eps":
        target = (eps - eps_from_x(x_hat, z, alpha, sigma)).pow(2).mean()
    elif space == "v":
        target = (alpha.float() * eps - sigma.float() * x - v_from_x(x_hat, z, alpha, sigma)).pow(2).mean()
    else:
        target = (x - x_hat).pow(2).mean()
    assert weighted.item() == pytest.approx(target.item(), rel=1e-4)


def test_truncated_snr_is_max_of_x_and_eps_losses():
    x, eps, x_hat = torch.randn(1, 8), torch.randn(1, 8), torch.randn(1, 8)
    for tv in (0.2, 0.8):
        t = torch.tensor([tv])
        alpha, sigma = S.alpha_sigma(t)
        z = alpha.float() * x + sigma.float() * eps
        lx = (x - x_hat).pow(2).mean()
        le = (eps - eps_from_x(x_hat, z, alpha, sigma)).pow(2).mean()
        weighted = loss_weight("snr_trunc", S.logsnr(t)).float() * lx
        assert weighted.item() == pytest.approx(max(lx.item(), le.item()), rel=1e-4)
