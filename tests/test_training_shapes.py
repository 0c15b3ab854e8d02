"""The training loop's contract for every method's shape, proven with test doubles: two networks with a ratio of
updates between them (DisBack: a generator and a fake-score network), and several updates per step along a trajectory
the step generates itself (SFD). Each is killed mid-step and resumed, and must end bit-identical to an uninterrupted
run, with its cost (steps, updates per part, images) counted."""

import pytest
import torch
from torch import nn

from distill.core.training import Part, TrainConfig, train_parts

RUN = TrainConfig(steps=10, batch_size=8, lr=1e-2, checkpoint_every=3, log_every=2, seed=5)


class Killed(Exception):
    pass


def _mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.SiLU(), nn.Dropout(0.1), nn.Linear(16, 2))


def _two_networks(ratio: int, kill_at: tuple[int, int] | None = None):
    """A generator and a fake-score network: `ratio` fake-score updates, then one generator update, per step."""
    gen_net, fake = _mlp(0), _mlp(1)
    parts = {"generator": Part(gen_net, TrainConfig(**{**RUN.__dict__, "ema_decay": 0.9, "grad_clip": 1.0})),
             "fake_score": Part(fake, TrainConfig(**{**RUN.__dict__, "lr": 3e-3, "warmup_steps": 4}))}

    def step_fn(ctx):
        for i in range(ratio):
            if kill_at == (ctx.step, i):
                raise Killed
            z = torch.randn(RUN.batch_size, 2, generator=ctx.gen)
            x = gen_net(z).detach()
            loss_fake = (fake(x + 0.1 * torch.randn_like(x)) - x).pow(2).mean()  # dropout draws the global RNG
            ctx.update("fake_score", loss_fake)
        z = torch.randn(RUN.batch_size, 2, generator=ctx.gen)
        loss_gen = fake(gen_net(z)).pow(2).mean()
        ctx.update("generator", loss_gen)
        ctx.count_images(RUN.batch_size)
        return {"loss_generator": loss_gen, "loss_fake_score": loss_fake}

    return parts, step_fn


def _trajectory(updates_per_step: int, kill_at: tuple[int, int] | None = None):
    """A student trained along a trajectory it generates itself (no data): one update per point of the trajectory,
    with a learning-rate drop at half the run."""
    student = _mlp(2)
    parts = {"student": Part(student, RUN, lr_schedule=lambda s: RUN.lr if s < RUN.steps // 2 else RUN.lr / 10)}

    def step_fn(ctx):
        x = torch.randn(RUN.batch_size, 2, generator=ctx.gen)
        for j in range(updates_per_step):
            if kill_at == (ctx.step, j):
                raise Killed
            target = 0.5 * x  # the "teacher's" next point
            loss = (student(x) - target).pow(2).mean()
            ctx.update("student", loss)
            x = target.detach()
        ctx.count_images(RUN.batch_size)
        return {"loss": loss}

    return parts, step_fn


SHAPES = {"two networks, 3:1 updates": lambda kill=None: _two_networks(3, kill),
          "4 updates per step": lambda kill=None: _trajectory(4, kill)}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kill_at", [(1, 1), (4, 2), (7, 0)])
def test_every_shape_resumes_bit_identically_after_a_kill(tmp_path, shape, kill_at):
    ref, ref_weights = train_parts(*SHAPES[shape](), RUN, tmp_path / "ref", progress=False)
    with pytest.raises(Killed):
        train_parts(*SHAPES[shape](kill_at), RUN, tmp_path / "run", progress=False)
    res, weights = train_parts(*SHAPES[shape](), RUN, tmp_path / "run", progress=False)  # a fresh process

    assert res.status == ref.status == "completed" and res.steps == RUN.steps
    assert res.updates == ref.updates and res.images_seen == ref.images_seen == RUN.steps * RUN.batch_size
    for name in ref_weights:
        assert all(torch.equal(weights[name][k], ref_weights[name][k]) for k in ref_weights[name]), name
    assert [r for r in res.log if "seconds" in r and r.pop("seconds")] == [r for r in ref.log if r.pop("seconds")]


def test_update_counts_follow_the_shape(tmp_path):
    res, _ = train_parts(*_two_networks(3), RUN, tmp_path / "a", progress=False)
    assert res.updates == {"generator": RUN.steps, "fake_score": 3 * RUN.steps}
    res, _ = train_parts(*_trajectory(4), RUN, tmp_path / "b", progress=False)
    assert res.updates == {"student": 4 * RUN.steps}
    assert {"lr_generator", "grad_norm_fake_score", "loss_fake_score"} <= set(
        train_parts(*_two_networks(2), RUN, tmp_path / "c", progress=False)[0].log[0])


def test_a_non_finite_loss_of_any_part_is_recorded_as_divergence(tmp_path):
    parts, inner = _two_networks(2)

    def step_fn(ctx):
        if ctx.step == 6:
            ctx.update("fake_score", torch.tensor(float("inf"), requires_grad=True))
        return inner(ctx)

    res, weights = train_parts(parts, step_fn, RUN, tmp_path, progress=False)
    assert res.status == "diverged" and res.diverged_at == 6 and res.steps == 6
    assert res.updates == {"generator": 6, "fake_score": 12} and res.images_seen == 6 * RUN.batch_size
    assert all(torch.isfinite(v).all() for w in weights.values() for v in w.values())


def test_an_unknown_part_is_a_clear_error(tmp_path):
    parts, _ = _trajectory(1)
    with pytest.raises(KeyError, match="no trained part 'generator'"):
        train_parts(parts, lambda ctx: ctx.update("generator", torch.zeros(())), RUN, tmp_path, progress=False)
