"""DisBack's score-distillation core against hand computations on exact Gaussians, its switching rules, the
snapshots (a degradation path's manifest) and bit-identical resumption of both stages after a kill."""

import pytest
import torch

from distill.core.checkpoint import CheckpointError
from distill.core.denoiser import NetworkDenoiser, SigmaFormDenoiser
from distill.core.snapshots import Snapshots, read_snapshots
from distill.core.training import Part, TrainConfig, train_parts
from distill.data.mixture import RingMixture
from distill.methods.disback import (ScoreDistillation, degradation_step, denoising_loss, matching_loss,
                                     score_distillation_step, target_node)
from distill.nets.mlp import MLP
from conftest import GaussianDenoiser

REAL, FAKE = (0.3, 0.2), (-0.1, 0.5)  # data N(0.3, 0.2^2 I); the generator's samples N(-0.1, 0.5^2 I)


def _exact(mu, s, x_t, sigma):
    """E[x | x + sigma eps] for x ~ N(mu, s^2 I), by hand."""
    sigma = sigma.reshape(-1, 1)
    return (s**2 * x_t + sigma**2 * mu) / (s**2 + sigma**2)


def test_the_generator_gradient_is_the_normalised_exact_score_difference():
    core = ScoreDistillation()
    sigmas, (lo, hi) = core.sigmas(), core.generator_range()
    real, fake = SigmaFormDenoiser(GaussianDenoiser(*REAL)), SigmaFormDenoiser(GaussianDenoiser(*FAKE))
    x = (FAKE[0] + FAKE[1] * torch.randn(16, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    x.requires_grad_(True)
    matching_loss(x, real, fake, sigmas, lo, hi, torch.Generator().manual_seed(3)).backward()

    g = torch.Generator().manual_seed(3)  # the same draws by hand: sigma indices, then the noise
    sigma = sigmas[torch.randint(lo, hi + 1, (16,), generator=g)]
    x_t = x.detach() + sigma.reshape(-1, 1) * torch.randn(16, 4, generator=g).double()  # noise drawn in float32
    d_real, d_fake = _exact(*REAL, x_t, sigma), _exact(*FAKE, x_t, sigma)
    scale = (x.detach() - d_real).abs().mean(dim=1, keepdim=True)
    assert torch.allclose(x.grad, (d_fake - d_real) / scale / x.numel(), rtol=1e-6, atol=1e-12)
    # the exact KL direction: sigma^2 (s_fake - s_real) at x_t, times a positive number per sample
    kl = sigma.reshape(-1, 1) ** 2 * ((d_fake - x_t) - (d_real - x_t)) / sigma.reshape(-1, 1) ** 2
    assert torch.allclose(torch.nn.functional.cosine_similarity(x.grad, kl, dim=1), torch.ones(16, dtype=torch.float64))


def test_the_fake_score_loss_is_edm_weighted_denoising_on_the_whole_grid():
    core = ScoreDistillation(sigma_data=0.5)
    sigmas = core.sigmas()
    fake = SigmaFormDenoiser(GaussianDenoiser(*FAKE))
    x = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    loss = denoising_loss(fake, x, sigmas, 0.5, torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)
    sigma = sigmas[torch.randint(0, len(sigmas), (8,), generator=g)]
    x_t = x + sigma.reshape(-1, 1) * torch.randn(8, 3, generator=g).double()
    weight = (sigma.pow(-2) + 4.0).reshape(-1, 1)
    assert torch.allclose(loss, (weight * (_exact(*FAKE, x_t, sigma) - x).pow(2)).mean(), rtol=1e-6)


def test_the_grid_and_the_generator_range_follow_the_official_code():
    core = ScoreDistillation()
    sigmas = core.sigmas()
    assert len(sigmas) == 1000 and torch.all(sigmas[1:] > sigmas[:-1])
    assert sigmas[0].item() == pytest.approx(0.002, rel=1e-6) and sigmas[-1].item() == pytest.approx(80.0, rel=1e-6)
    assert core.generator_range() == (20, 980)  # int(0.02 * 1000), int(0.98 * 1000): edm_guidance.py
    with pytest.raises(ValueError, match="min_step_percent"):
        ScoreDistillation(min_step_percent=0.5, max_step_percent=0.4)
    with pytest.raises(ValueError, match="fake_updates"):
        ScoreDistillation(fake_updates=0)


def test_switching_rules():
    # paper: node N - 1 first, one node back per interval, then the teacher for good
    assert [target_node(s, 4, 10) for s in (0, 9, 10, 29, 30, 500)] == [3, 3, 2, 1, 0, 0]
    # code (train_sd.py): back one node at each interval while node x path_interval >= the step
    assert [target_node(s, 10, 1000, "code", 100) for s in (0, 999, 1000, 50_000)] == [9, 9, 9, 9]
    assert [target_node(s, 4, 10, "code", 10) for s in (0, 10, 20, 30, 90)] == [3, 2, 1, 1, 1]
    with pytest.raises(ValueError, match="switching rule"):
        target_node(0, 4, 10, "nope")
    with pytest.raises(ValueError, match="interval >= 1"):
        target_node(0, 4, 0)


def test_the_ring_mixture_score_is_the_gradient_of_its_log_density():
    mix = RingMixture(modes=5, radius=0.7, std=0.1)
    x = torch.randn(32, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    for sigma in (0.0, 0.05, 1.3):
        (grad,) = torch.autograd.grad(mix.log_prob(x, sigma).sum(), x)
        if sigma > 0:
            assert torch.allclose(mix.score(x.detach(), torch.tensor(sigma, dtype=torch.float64)), grad, rtol=1e-9, atol=1e-9)
    points, _ = mix.sample(20000, 0)
    assert abs(torch.as_tensor(points).norm(dim=1).mean().item() - 0.7) < 0.02
    with pytest.raises(ValueError, match="std > 0"):
        RingMixture(std=0.0)


# --- snapshots and resumption on small MLPs ---------------------------------------------------------------------

RUN = TrainConfig(steps=8, batch_size=16, lr=1e-3, checkpoint_every=3, log_every=2, seed=7)
CORE = ScoreDistillation(sigma_init=2.0, sigma_max=2.0, sigma_min=0.01, grid_points=50, fake_updates=2)


class Killed(Exception):
    pass


def _net(seed: int) -> NetworkDenoiser:
    torch.manual_seed(seed)
    return NetworkDenoiser(MLP(2, 2, hidden=16, depth=1, emb_ch=8), "eps")


def _killable(step_fn, kill_at):
    def run(ctx):
        if ctx.step == kill_at:
            raise Killed
        return step_fn(ctx)
    return run


def _stage_one(kill_at=None):
    teacher, score = _net(0), _net(0)
    step = degradation_step(CORE, SigmaFormDenoiser(teacher), SigmaFormDenoiser(score), (2,), RUN.batch_size, "cpu")
    return {"score": Part(score, RUN)}, _killable(step, kill_at)


def _stage_two(path, kill_at=None):
    nodes = [f for _, f in read_snapshots(path, "score")]
    real, generator, fake = _net(0), _net(0), _net(0)
    fake.load_state_dict(_weights(nodes[-1]))  # DisBack: the fake score starts at node N

    def real_at(step):
        real.load_state_dict(_weights(nodes[target_node(step, len(nodes) - 1, 2)]))
        return SigmaFormDenoiser(real)

    step = score_distillation_step(CORE, SigmaFormDenoiser(generator), SigmaFormDenoiser(fake), real_at, (2,),
                                   RUN.batch_size, "cpu")
    return {"generator": Part(generator, RUN), "fake_score": Part(fake, RUN)}, _killable(step, kill_at)


def _weights(file):
    from distill.core.checkpoint import load_weights

    return load_weights(file)[0]


def test_a_path_is_read_back_exactly_and_a_changed_node_is_refused(tmp_path):
    res, _ = train_parts(*_stage_one(), RUN, tmp_path, progress=False,
                         snapshots=Snapshots(tmp_path / "path", 4, ("score",)))
    nodes = read_snapshots(tmp_path / "path", "score", steps=[0, 4, 8])
    assert res.status == "completed" and [s for s, _ in nodes] == [0, 4, 8]
    teacher = _net(0).state_dict()
    assert all(torch.equal(_weights(nodes[0][1])[k], v) for k, v in teacher.items())  # node 0 is the teacher
    with pytest.raises(CheckpointError, match=r"expected \[0, 2, 4, 6, 8\]"):
        read_snapshots(tmp_path / "path", "score", steps=[0, 2, 4, 6, 8])
    data = bytearray(nodes[1][1].read_bytes())
    data[-1] ^= 1
    nodes[1][1].write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 differs"):
        read_snapshots(tmp_path / "path", "score")
    nodes[2][1].unlink()
    with pytest.raises(CheckpointError, match="(sha256 differs|missing)"):
        read_snapshots(tmp_path / "path", "score")


@pytest.mark.parametrize("kill_at", [2, 5])
def test_both_stages_resume_bit_identically_after_a_kill(tmp_path, kill_at):
    snaps = lambda d: Snapshots(tmp_path / d / "snaps", 2, ("score",))  # noqa: E731
    _, ref = train_parts(*_stage_one(), RUN, tmp_path / "ref", progress=False, snapshots=snaps("ref"))
    with pytest.raises(Killed):
        train_parts(*_stage_one(kill_at), RUN, tmp_path / "run", progress=False, snapshots=snaps("run"))
    _, got = train_parts(*_stage_one(), RUN, tmp_path / "run", progress=False, snapshots=snaps("run"))
    assert all(torch.equal(got["score"][k], v) for k, v in ref["score"].items())
    ref_files = read_snapshots(tmp_path / "ref" / "snaps", "score", steps=[0, 2, 4, 6, 8])
    run_files = read_snapshots(tmp_path / "run" / "snaps", "score", steps=[0, 2, 4, 6, 8])
    assert [f.read_bytes() for _, f in ref_files] == [f.read_bytes() for _, f in run_files]

    path = tmp_path / "ref" / "snaps"
    res, ref2 = train_parts(*_stage_two(path), RUN, tmp_path / "ref2", progress=False)
    assert res.updates == {"generator": RUN.steps // 2, "fake_score": RUN.steps}
    with pytest.raises(Killed):
        train_parts(*_stage_two(path, kill_at), RUN, tmp_path / "run2", progress=False)
    _, got2 = train_parts(*_stage_two(path), RUN, tmp_path / "run2", progress=False)
    for part in ref2:
        assert all(torch.equal(got2[part][k], v) for k, v in ref2[part].items()), part


# --- the toy2d experiment, end to end at a tiny scale ---------------------------------------------------------

TOY = {"mixture": {"modes": 4, "radius": 0.8, "std": 0.1}, "num_points": 512, "data_seed": 0,
       "network": {"hidden": 16, "depth": 1, "emb_ch": 8}, "parameterization": "v", "teacher_weighting": "snr_plus_one",
       "teacher_seed": 0,
       "teacher": {"steps": 30, "batch_size": 64, "lr": 2e-3, "warmup_steps": 0, "anneal": "none", "weight_decay": 0.0,
                   "ema_decay": 0.0, "grad_clip": 1.0, "adam_betas": [0.9, 0.999], "random_flip": False,
                   "checkpoint_every": 100, "log_every": 10},
       "core": {"sigma_init": 80.0, "grid_points": 100, "fake_updates": 1},
       "path": {"nodes": 2, "interval": 4, "batch_size": 32, "seed": 0},
       "stage_two": {"iterations": 12, "interval": 3, "switch_rule": "paper", "batch_size": 32},
       "train": {"batch_size": 32, "lr": 1e-3, "warmup_steps": 0, "anneal": "none", "weight_decay": 0.0,
                 "ema_decay": 0.0, "grad_clip": 10.0, "adam_betas": [0.9, 0.999], "checkpoint_every": 5,
                 "log_every": 5},
       "seeds": [0], "eval_every": 4, "min_eval_points": 3,
       "evaluation": {"samples": 128, "truth_seed": 1, "noise_seed": 2, "projections": 16, "projection_seed": 0}}


def test_the_toy2d_experiment_measures_both_methods_against_the_exact_mixture(tmp_path):
    import pandas as pd

    from distill.plugins.disback_check import run_problems
    from distill.steps import disback_toy2d

    summary = disback_toy2d.run(TOY, tmp_path, progress=False)
    curves = pd.read_csv(tmp_path / "curves.csv")
    assert set(curves["method"]) == {"disback", "baseline"} and sorted(set(curves["iteration"])) == [0, 4, 8, 12]
    assert curves[["sw", "mismatch_truth", "mismatch_teacher"]].notna().all().all()
    assert (curves["sw"] > 0).all()
    at0 = curves[curves["iteration"] == 0].set_index("method")
    assert at0.loc["baseline", "mismatch_teacher"] == 0.0  # the baseline's fake score starts as the teacher
    assert at0.loc["disback", "sw"] == at0.loc["baseline", "sw"]  # the same initial generator
    assert curves[curves["method"] == "disback"]["node"].tolist() == [1, 0, 0, 0]
    assert summary["runs"]["disback-s0"]["updates"] == {"generator": 12, "fake_score": 12}
    again = disback_toy2d.run(TOY, tmp_path, progress=False)  # every run found finished: the same curves
    strip = lambda runs: {k: {f: v for f, v in r.items() if f != "wall_seconds"} for k, r in runs.items()}  # noqa
    assert strip(again["runs"]) == strip(summary["runs"])
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "curves.csv"), curves)
    assert run_problems({**TOY, "eval_every": 5}, "toy2d") and not run_problems(TOY, "toy2d")

    import pdfplumber

    from distill.reports.disback_toy2d import build

    report = build(tmp_path / "curves.csv", TOY, tmp_path / "toy2d.pdf", tmp_path / "toy2d.csv")
    assert set(report["methods"]) == {"disback", "baseline"}
    with pdfplumber.open(tmp_path / "toy2d.pdf") as pdf:
        assert len(pdf.pages) == 2 and "exact 2-D truth" in pdf.pages[0].extract_text()


def test_convergence_summary_finds_the_first_point_at_the_baselines_final_value():
    import pandas as pd

    from distill.reports.disback_toy2d import summarise
    from distill.results.convergence import curve_stats, first_reaching

    rows = [{"method": m, "seed": s, "iteration": i, "sw": v + 0.01 * s, "mismatch_truth": 1.0 / (i + 1)}
            for m, vals in (("baseline", [1.0, 0.6, 0.4, 0.3]), ("disback", [1.0, 0.35, 0.3, 0.29]))
            for s in (0, 1, 2) for i, v in zip((0, 10, 20, 30), vals)]
    curves = pd.DataFrame(rows)
    summary = summarise(curves, 10)
    assert summary["baseline_final_sw"] == pytest.approx(0.31)
    assert summary["methods"]["disback"]["iterations_to_baseline_final"] == 20
    assert summary["methods"]["baseline"]["iterations_to_baseline_final"] == 30
    assert summary["methods"]["disback"]["final_sw_std"] == pytest.approx(0.01)
    assert first_reaching(curve_stats(curves, "sw"), "disback", 0.1) is None


def test_a_conditional_teachers_runs_draw_labels_from_the_runs_generator():
    from distill.pipeline.conditions import training_conditions

    unet = {"kind": "unet"}
    draw = training_conditions({"data": {"num_classes": 3}, "network": unet}, 64, "cpu")
    a, b = draw(torch.Generator().manual_seed(1)), draw(torch.Generator().manual_seed(1))
    assert torch.equal(a["label"], b["label"]) and set(a["label"].tolist()) == {0, 1, 2}
    assert training_conditions({"data": {"num_classes": 0}, "network": unet}, 64, "cpu")(torch.Generator()) is None
    with pytest.raises(ValueError, match="not a text-to-image model"):
        training_conditions({"data": {"num_classes": 3}, "network": unet}, 64, "cpu", prompts="prompts.txt")


def test_the_onestep_sampler_draws_what_training_generates(gaussian_denoiser):
    from distill.core.samplers import run_sampler
    from distill.core.seeding import SeededNoise
    from distill.methods.disback import generate

    x = run_sampler("onestep", gaussian_denoiser, (3,), [0, 1, 5], 1, grid="edm", clip_x=False,
                    grid_options={"sigma_max": 80.0})
    z = SeededNoise([0, 1, 5]).randn(3)
    assert torch.equal(x, generate(SigmaFormDenoiser(gaussian_denoiser), z, 80.0))
    with pytest.raises(ValueError, match="steps: 1"):
        run_sampler("onestep", gaussian_denoiser, (3,), [0], 2, grid="edm")
