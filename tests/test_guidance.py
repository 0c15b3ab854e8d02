"""Classifier-free guidance (distill/core/guidance.py) on a two-class Gaussian model whose conditional and
unconditional posterior means are exact (conftest.TwoClassGaussian): the guided x-hat against the hand formula, w = 0
is the conditional model, per-sample weights, one batched call of two evaluations, and the NFE it makes a sampler
count."""

from __future__ import annotations

import pytest
import torch

from conftest import TwoClassGaussian
from distill.core.guidance import GuidedDenoiser


def test_the_guided_prediction_by_hand():
    model, z, t = TwoClassGaussian(), torch.randn(6, 3, dtype=torch.float64), torch.full((6,), 0.6, dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    guided = GuidedDenoiser(model, 2.0, null_label=2)(z, t, {"label": labels})
    x_c, x_u = model(z, t, {"label": labels}), model(z, t, {"label": torch.full_like(labels, 2)})
    assert torch.allclose(guided, 3.0 * x_c - 2.0 * x_u, rtol=1e-12)
    assert torch.equal(GuidedDenoiser(model, 0.0, 2)(z, t, {"label": labels}), x_c)  # w = 0: the conditional model
    w = torch.tensor([0.0, 0.3, 1.0, 2.0, 4.0, 0.5], dtype=torch.float64)
    per_sample = GuidedDenoiser(model, w, 2)(z, t, {"label": labels})
    assert torch.allclose(per_sample, (1 + w[:, None]) * x_c - w[:, None] * x_u, rtol=1e-12)


def test_one_guided_call_is_one_batch_of_two_evaluations():
    from distill.core.samplers import evaluations_per_step, get_sampler, run_sampler

    model = TwoClassGaussian()
    guided = GuidedDenoiser(model, 1.0, 2)
    x = run_sampler("ddim", guided, (3,), seeds=range(4), steps=5, cond={"label": torch.tensor([0, 1, 0, 1])},
                    clip_x=False)
    assert model.calls == 5 and evaluations_per_step(guided) == 2
    assert get_sampler("ddim").nfe(5, {}, evaluations_per_step(guided)) == 10
    assert torch.isfinite(x).all()


def test_bad_guidance_is_refused():
    model = TwoClassGaussian()
    with pytest.raises(ValueError, match="finite number >= 0"):
        GuidedDenoiser(model, -1.0, 2)
    z, t = torch.zeros(2, 3), torch.ones(2)
    with pytest.raises(ValueError, match="needs the class"):
        GuidedDenoiser(model, 1.0, 2)(z, t, None)
    with pytest.raises(ValueError, match="is the null label"):
        GuidedDenoiser(model, 1.0, 2)(z, t, {"label": torch.tensor([0, 2])})


def test_a_null_label_teacher_learns_with_label_dropout_and_samples_guided(smoke_cfg, tmp_path):
    """A class-conditional network with a null label: label dropout hands the null label to about p of a batch
    (drawn from the run's generator), and `distill sample --guidance` doubles the NFE; a model without a null label
    is refused."""
    from distill.core.checkpoint import save_weights
    from distill.methods import teacher as teacher_math
    from distill.pipeline import sample
    from distill.pipeline.common import build_denoiser

    cfg = {"kind": "teacher", "parameterization": "x", "network": {**smoke_cfg["network"], "null_label": True},
           "data": {"shape": [1, 8, 8], "num_classes": 10}}
    denoiser = build_denoiser(cfg)
    assert denoiser.net.embed.label.num_embeddings == 11
    seen = []
    data, labels = torch.randn(50, 1, 8, 8), torch.arange(50) % 10
    original = teacher_math.diffusion_loss
    try:
        teacher_math.diffusion_loss = lambda d, x, w, g, y: seen.append(y) or torch.zeros(())
        loss = teacher_math.make_teacher_loss(denoiser, data, labels, 400, "snr", label_dropout=0.25, null_label=10)
        loss(denoiser.net, torch.Generator().manual_seed(0))
    finally:
        teacher_math.diffusion_loss = original
    assert 60 < int((seen[0] == 10).sum()) < 140
    with pytest.raises(ValueError, match="needs class labels and a network with a null label"):
        teacher_math.make_teacher_loss(denoiser, data, labels, 8, "snr", label_dropout=0.1, null_label=None)

    path = tmp_path / "m" / "model.safetensors"
    path.parent.mkdir()
    save_weights(path, denoiser.net.state_dict(), {**cfg, "status": "completed"})
    out = tmp_path / "s.npz"
    assert sample.run(smoke_cfg, path, "ddim", out, progress=False, num_samples=3, steps=4, guidance=2.0) == "ok"
    import numpy as np

    meta = np.load(out)
    assert int(meta["nfe"]) == 8 and float(meta["guidance"]) == 2.0
    plain = {**cfg, "network": {**cfg["network"], "null_label": False}}
    path2 = tmp_path / "p" / "model.safetensors"
    path2.parent.mkdir()
    save_weights(path2, build_denoiser(plain).net.state_dict(), {**plain, "status": "completed"})
    with pytest.raises(ValueError, match="trained with a null label"):
        sample.run(smoke_cfg, path2, "ddim", out, progress=False, num_samples=3, steps=4, guidance=1.0)


def test_label_dropout_without_a_null_label_is_a_params_error(smoke_cfg):
    from distill.config import profile_problems

    smoke_cfg["teacher"]["label_dropout"] = 0.1
    problems = dict(profile_problems(smoke_cfg))
    assert "network.null_label: true and class-conditional data" in problems["teacher.label_dropout"]
    smoke_cfg["network"]["null_label"], smoke_cfg["data"]["conditional"] = True, True
    assert "teacher.label_dropout" not in dict(profile_problems(smoke_cfg))
