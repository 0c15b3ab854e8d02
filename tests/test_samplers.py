import math

import pytest
import torch

from distill.core.denoiser import NetworkDenoiser, SigmaFormDenoiser
from distill.core.grids import make_grid, times_of, uniform
from distill.core.samplers import ancestral_step, ddim_step, run_sampler, sample_ddim
from distill.core.schedule import CosineSchedule
from distill.core.seeding import SeededNoise, parse_seeds
from distill.nets.mlp import MLP
from distill.nets.unet import UNet

from conftest import ROOT

S = CosineSchedule()


def test_ddim_step_matches_both_forms_of_eq_7_and_8():
    z, x_hat = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    t, s = torch.tensor(0.7, dtype=torch.float64), torch.tensor(0.45, dtype=torch.float64)
    (at, st), (as_, ss) = S.alpha_sigma(t), S.alpha_sigma(s)
    lt, ls = S.logsnr(t), S.logsnr(s)
    form7 = ddim_step(x_hat, z, at, st, as_, ss)
    r = torch.exp((lt - ls) / 2)
    form8 = r * (as_ / at) * z + (1 - r) * as_ * x_hat
    assert torch.allclose(form7, form8, atol=1e-12)


def test_ddim_is_exact_for_a_perfect_denoiser_of_a_point_mass():
    # data = a single point x0: x-hat = x0 exactly, and DDIM must land on x0 from any z.
    x0 = torch.full((5, 1, 2, 2), 0.25)
    denoise = lambda z, t, cond=None: x0[: z.shape[0]]  # noqa: E731
    out = sample_ddim(denoise, torch.randn(5, 1, 2, 2), uniform(3), clip_x=False)
    assert torch.equal(out, x0)


@pytest.mark.parametrize("sampler", ["ddim", "ancestral"])
def test_samplers_recover_a_gaussian_with_the_analytic_denoiser(sampler, gaussian_denoiser):
    out = run_sampler(sampler, gaussian_denoiser, (1,), list(range(4000)), steps=200, clip_x=False)
    assert out.mean().item() == pytest.approx(gaussian_denoiser.mu, abs=0.02)
    assert out.std().item() == pytest.approx(gaussian_denoiser.s, rel=0.05)


def test_ancestral_variance_interpolates_between_the_two_bounds():
    z, x_hat = torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    t, s = torch.tensor(0.6, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)
    lt, ls = S.logsnr(t), S.logsnr(s)
    _, st = S.alpha_sigma(t)
    _, ss = S.alpha_sigma(s)
    one = torch.ones(1, 1, dtype=torch.float64)
    lower = (1 - torch.exp(lt - ls)) * ss**2  # sigma~^2_{s|t}
    upper = (1 - torch.exp(lt - ls)) * st**2  # sigma^2_{t|s}
    for gamma, expected in [(0.0, lower), (1.0, upper), (0.5, torch.sqrt(lower * upper))]:
        std = ancestral_step(x_hat, z, lt, ls, gamma, one)
        assert std.item() ** 2 == pytest.approx(expected.item(), rel=1e-9)


def test_ancestral_mean_is_the_posterior_mean_eq_3():
    z, x_hat = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    t, s = torch.tensor(0.8, dtype=torch.float64), torch.tensor(0.3, dtype=torch.float64)
    lt, ls = S.logsnr(t), S.logsnr(s)
    (at, _), (as_, _) = S.alpha_sigma(t), S.alpha_sigma(s)
    mean = ancestral_step(x_hat, z, lt, ls, 1.0, torch.zeros_like(z))
    r = torch.exp(lt - ls)
    assert torch.allclose(mean, r * (as_ / at) * z + (1 - r) * as_ * x_hat, atol=1e-12)


def test_time_grid_and_seed_parsing():
    assert times_of(make_grid("uniform", 4)).tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0], abs=1e-12)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="integer >= 1"):
            make_grid("uniform", bad)
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]


def test_seeded_noise_does_not_depend_on_the_batch():
    whole = SeededNoise(range(10)).randn(3, 2)
    parts = torch.cat([SeededNoise(range(i, min(i + 3, 10))).randn(3, 2) for i in range(0, 10, 3)])
    assert torch.equal(whole, parts)


@pytest.mark.parametrize("sampler", ["ddim", "ancestral"])
def test_samples_are_deterministic_and_batch_size_independent_with_an_analytic_model(sampler, gaussian_denoiser):
    seeds = list(range(12))
    a = run_sampler(sampler, gaussian_denoiser, (1, 4, 4), seeds, 8)
    b = run_sampler(sampler, gaussian_denoiser, (1, 4, 4), seeds, 8)
    c = torch.cat([run_sampler(sampler, gaussian_denoiser, (1, 4, 4), seeds[i:i + 5], 8) for i in range(0, 12, 5)])
    assert torch.equal(a, b)
    assert torch.equal(a, c)


def _random_unet():
    torch.manual_seed(0)
    net = UNet(1, 1, 8, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,))
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    return NetworkDenoiser(net, "x").eval()


@pytest.mark.parametrize("sampler", ["ddim", "ancestral"])
def test_network_samples_are_deterministic_and_batch_size_independent(sampler):
    # Same seeds -> bit-identical samples; another batch split changes only float rounding inside batched
    # CPU kernels (conv/GEMM blocking), never the random draws.
    d, seeds = _random_unet(), list(range(10))
    with torch.no_grad():
        a = run_sampler(sampler, d, (1, 8, 8), seeds, 4)
        b = run_sampler(sampler, d, (1, 8, 8), seeds, 4)
        c = torch.cat([run_sampler(sampler, d, (1, 8, 8), seeds[i:i + 3], 4) for i in range(0, 10, 3)])
    assert torch.equal(a, b)
    assert torch.allclose(a, c, atol=1e-5, rtol=0)


def test_sigma_form_wrapper_matches_the_vp_denoiser(gaussian_denoiser):
    t = torch.tensor([0.3, 0.6])
    alpha, sigma = S.alpha_sigma(t)
    z = torch.randn(2, 1, 3, 3)
    direct = gaussian_denoiser(z, t)
    sigma_edm = sigma / alpha  # x = z / alpha, sigma = sigma_t / alpha_t
    x = z / alpha.float().view(-1, 1, 1, 1)
    wrapped = torch.cat([SigmaFormDenoiser(gaussian_denoiser)(x[i:i + 1], sigma_edm[i]) for i in range(2)])
    assert torch.allclose(wrapped, direct, atol=1e-5)


def test_conditioning_reaches_the_networks():
    torch.manual_seed(0)
    unet = UNet(1, 1, 8, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), num_classes=3,
                scalar_conditions=("w",))
    mlp = MLP(2, 2, hidden=16, depth=2, emb_ch=8, scalar_conditions=("steps",))
    for net in (unet, mlp):
        for p in net.parameters():
            torch.nn.init.normal_(p, 0, 0.2)
    x, t = torch.randn(2, 1, 8, 8), torch.full((2,), 0.5)
    base = {"label": torch.tensor([0, 1]), "w": torch.tensor([0.0, 0.0])}
    assert not torch.allclose(unet(x, t, base), unet(x, t, {**base, "w": torch.tensor([2.0, 2.0])}))
    with pytest.raises(ValueError, match="class-conditional"):
        unet(x, t, {"w": torch.zeros(2)})
    p = torch.randn(4, 2)
    assert not torch.allclose(mlp(p, torch.full((4,), 0.5), {"steps": torch.full((4,), 2.0)}),
                              mlp(p, torch.full((4,), 0.5), {"steps": torch.full((4,), 4.0)}))
    with pytest.raises(ValueError, match="'steps'"):
        mlp(p, torch.full((4,), 0.5), None)
    with torch.no_grad():
        assert not math.isnan(float(unet(x, t, base).sum()))


@pytest.mark.parametrize("grid", ["uniform", "logsnr", "edm"])
@pytest.mark.parametrize("steps", [1, 3, 10, 20])
def test_every_grid_decreases_to_0_for_any_step_count(grid, steps):
    sigmas = make_grid(grid, steps)
    assert len(sigmas) == steps + 1 and sigmas[-1] == 0 and bool((sigmas[:-1] > sigmas[1:]).all())
    ts = times_of(sigmas)  # the VP samplers' times: from at most 1 down to exactly 0
    assert ts[0] <= 1 and ts[-1] == 0 and bool((ts[:-1] > ts[1:]).all())


def test_edm_grid_follows_karras_eq_5():
    ramp = [80 ** (1 / 7) + i / 3 * (0.002 ** (1 / 7) - 80 ** (1 / 7)) for i in range(4)]
    assert make_grid("edm", 4).tolist() == pytest.approx([r ** 7 for r in ramp] + [0.0], rel=1e-12)


def test_sampler_options_and_names_are_checked():
    d = lambda z, t, cond=None: torch.zeros_like(z)  # noqa: E731
    with pytest.raises(ValueError, match="takes no option gamma"):
        run_sampler("ddim", d, (1,), [0], 2, gamma=0.5)
    with pytest.raises(ValueError, match=r"must lie in \[0.0, 1.0\]"):
        run_sampler("ancestral", d, (1,), [0], 2, gamma=-1.0)
    with pytest.raises(ValueError, match="unknown sampler"):
        run_sampler("rk45", d, (1,), [0], 2)
    with pytest.raises(ValueError, match="unknown grid"):
        run_sampler("ddim", d, (1,), [0], 2, grid="cosine")


@pytest.mark.parametrize("sampler", ["ddim", "ancestral"])
def test_conditions_reach_the_denoiser_at_every_step(sampler):
    seen = []

    def denoise(z, t, cond=None):
        seen.append(cond["w"].tolist())
        return torch.zeros_like(z)

    run_sampler(sampler, denoise, (1,), [0, 1], 3, cond={"w": torch.tensor([2.0, 3.0])})
    assert seen == [[2.0, 3.0]] * 3


def test_sample_command_passes_conditions_and_rejects_bad_counts(tmp_path, smoke_cfg, monkeypatch):
    from distill.cli import main
    from distill.pipeline import sample

    calls = {}
    monkeypatch.setattr(sample, "run", lambda *a, **k: calls.update(k) or "ok")
    args = ["sample", "--params", str(ROOT / "params.yaml"), "--profile", "smoke", "--model", "m.safetensors",
            "--sampler", "ddim", "--out", str(tmp_path / "s.npz")]
    assert main(args + ["--cond", "w=2.5", "--grid", "edm"]) == 0
    assert calls["cond"] == {"w": 2.5} and calls["grid"] == "edm"
    for bad in (["--steps", "0"], ["--num-samples", "0"], ["--num-samples", "-5"]):
        with pytest.raises(SystemExit):
            main(args + bad)


def _registered_samplers() -> list[str]:
    """Every sampler of the registry, the methods' own included (their cards' `registers`)."""
    from distill.core.samplers import SAMPLERS
    from distill.registry import load_registrations

    load_registrations()
    return sorted(SAMPLERS)


@pytest.mark.parametrize("name", _registered_samplers())
def test_every_sampler_honours_the_one_callback(name, gaussian_denoiser):
    """on_step(i, x) once per step, x the state reached in the sigma form; after the last step the sample returned
    (a sigma-form solver's: its state at sigma_min). The registry's samplers only, a method's included."""
    from distill.core.grids import make_grid
    from distill.core.samplers import get_sampler
    from distill.core.seeding import SeededNoise

    spec = get_sampler(name)
    steps = 1 if name == "onestep" else 4
    grid = make_grid("edm", steps) if spec.solver is not None or name in ("onestep", "consistency") else \
        make_grid("uniform", steps)
    noise = SeededNoise(list(range(8)))
    seen = []
    x = spec.fn(gaussian_denoiser, noise.randn(1, 2, 2), grid, None, noise, lambda i, z: seen.append((i, z)),
                clip_x=False)
    n = len(grid) - 1 if spec.solver is None and name not in ("onestep", "consistency") else len(grid) - 2
    if name == "onestep":
        n = 1
    assert [i for i, _ in seen] == list(range(n)), name
    assert torch.allclose(seen[-1][1], x, rtol=1e-3, atol=1e-4), name


def test_a_vp_sampler_reports_its_states_in_the_sigma_form(gaussian_denoiser):
    """DDIM is Euler's method in the sigma form (x = z / alpha; Karras et al. 2022, Sec. 3): on one grid from the same
    start, the states DDIM's on_step reports are Euler's. DDIM starts at z_{t_0} = z, i.e. x_0 = z sqrt(1 + sigma_0^2);
    Euler at sigma_0 z', so Euler is given z' = z sqrt(1 + sigma_0^2) / sigma_0."""
    from distill.core.samplers import get_sampler
    from distill.core.seeding import SeededNoise

    grid, z = make_grid("edm", 6), SeededNoise(list(range(5))).randn(1, 2, 2).double()
    ddim, euler = [], []
    get_sampler("ddim").fn(gaussian_denoiser, z, grid, None, None, lambda i, x: ddim.append(x), clip_x=False)
    same_start = z * float((1 + grid[0] ** 2).sqrt() / grid[0])
    get_sampler("euler").fn(gaussian_denoiser, same_start, grid, None, None, lambda i, x: euler.append(x), clip="none")
    for a, b in zip(ddim[:-1], euler):  # DDIM's last report is its x-hat at sigma_min, Euler's its state there
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
