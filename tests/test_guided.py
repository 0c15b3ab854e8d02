"""Guided distillation (distill/methods/guided.py, distill/plugins/guided.py, the `renoise` sampler) on exact models:
the two-class Gaussian of conftest, whose guided x-hat is known, as teacher; ideal students of both stages sampled
against the guided teacher; the stochastic sampler's per-sample noise; the initial w-student bit for bit; a round
killed and resumed; the settings check; the smoke pipeline's records."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import TwoClassGaussian
from distill.core.grids import times_of, uniform
from distill.core.guidance import GuidedDenoiser
from distill.core.samplers import renoise_step, run_sampler, sample_ddim
from distill.methods.guided import label_guide, stage_one_loss, w_conditions
from distill.methods.progressive import distillation_target

SWEEP = (0.0, 0.3, 1.0, 2.0, 4.0)


class Killed(Exception):
    """The process "dies" in the middle of a step."""


def _cond(n: int, w: float | None = None) -> dict[str, torch.Tensor]:
    cond = {"label": torch.arange(n) % 2}
    if w is not None:
        cond["w"] = torch.full((n,), w, dtype=torch.float64)
    return cond


def test_an_ideal_stage_one_student_sampled_equals_the_guided_teacher():
    """The stage-one student that outputs x-hat^w exactly (TwoClassGaussian given w) gives the guided teacher's
    samples at every w, and stage one's loss on it is zero."""
    model = TwoClassGaussian()
    z = torch.randn(6, 3, dtype=torch.float64)
    for w in SWEEP:
        teacher = sample_ddim(GuidedDenoiser(model, w, TwoClassGaussian.NULL), z, uniform(8), _cond(6), clip_x=False)
        student = sample_ddim(model, z, uniform(8), _cond(6, w), clip_x=False)
        assert torch.allclose(student, teacher, rtol=0, atol=1e-12), w
    x, labels = torch.randn(16, 3, dtype=torch.float64) * 0.2, torch.arange(16) % 2
    loss = stage_one_loss(model, model, x, {"label": labels}, (0.0, 4.0), "snr_trunc",
                          label_guide(TwoClassGaussian.NULL), torch.Generator().manual_seed(0))
    assert abs(float(loss)) < 1e-20


@pytest.mark.parametrize("n", [1, 2, 4])
def test_the_ideal_stage_two_student_equals_the_guided_teachers_2n_step_ddim_at_every_w(n):
    """A student of N steps that outputs PD's target (distillation_target of the w-conditioned teacher, w in its
    conditions) lands, sampled with N DDIM steps, where the guided teacher's 2N DDIM steps land."""
    model = TwoClassGaussian()
    z = torch.randn(5, 3, dtype=torch.float64)

    def ideal(z_t, t, cond):
        return distillation_target(model, z_t, t, n, cond, model.schedule)

    for w in SWEEP:
        student = sample_ddim(ideal, z, uniform(n), _cond(5, w), clip_x=False)
        teacher = sample_ddim(GuidedDenoiser(model, w, TwoClassGaussian.NULL), z, uniform(2 * n), _cond(5),
                              clip_x=False)
        assert torch.allclose(student, teacher, rtol=0, atol=1e-10), (n, w)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_the_stochastic_sampler_of_2n_steps_on_the_ideal_n_step_student_makes_the_teachers_jumps(n):
    """The paper's S at 2N steps evaluates the N-step student (jumps of 1/N, "the same as an N-step deterministic
    sampler") at every time of the 2N grid, half of them between the student's own. The ideal student trained there
    (distillation_target at i/(2N); at 1/(2N) the teacher's own last step) sampled with S gives what S gives when
    each of its jumps is two DDIM steps of the guided teacher, with the same per-sample noise."""
    from distill.core.schedule import broadcast_like
    from distill.core.samplers import ddim_step
    from distill.core.seeding import SeededNoise

    model = TwoClassGaussian()
    sched, seeds, w = model.schedule, list(range(5)), 2.0
    teacher = GuidedDenoiser(model, w, TwoClassGaussian.NULL)

    def ideal(z_t, t, cond):
        return distillation_target(model, z_t, t, n, cond, sched)

    got = run_sampler("renoise", ideal, (3,), seeds, 2 * n, cond=_cond(5, w), clip_x=False, schedule=sched)
    noise = SeededNoise(seeds)
    z, ts = noise.randn(3), times_of(uniform(2 * n))

    def coefs(u):
        return tuple(broadcast_like(c, z) for c in sched.alpha_sigma(u))

    for i in range(2 * n):  # the same loop, each jump of 1/N made by the teacher's two DDIM steps of 1/(2N)
        if i == 2 * n - 1:
            want = teacher(z, ts[i].expand(5), _cond(5))
            break
        z_mid = ddim_step(teacher(z, ts[i].expand(5), _cond(5)), z, *coefs(ts[i]), *coefs(ts[i + 1]))
        z_k = ddim_step(teacher(z_mid, ts[i + 1].expand(5), _cond(5)), z_mid, *coefs(ts[i + 1]), *coefs(ts[i + 2]))
        z = renoise_step(z_k, *coefs(ts[i + 2]), *coefs(ts[i + 1]), noise.randn_like(z))
    # (float32 samples; the grid closes at t = 0 where sigma is exp(-10), not 0: 4e-5 apart)
    assert torch.allclose(got.double(), want.double(), rtol=0, atol=2e-4), float((got.double() - want).abs().max())


def test_stage_two_draws_w_per_sample_from_the_range_on_the_runs_generator():
    draw = w_conditions((0.5, 2.0))
    labels, x = torch.arange(4000) % 10, torch.zeros(4000, 1)
    cond = {"label": labels}
    a, b = draw(cond, x, torch.Generator().manual_seed(3)), draw(cond, x, torch.Generator().manual_seed(3))
    assert torch.equal(a["w"], b["w"]) and torch.equal(a["label"], labels)
    assert 0.5 <= float(a["w"].min()) and float(a["w"].max()) <= 2.0 and abs(float(a["w"].mean()) - 1.25) < 0.03
    assert torch.equal(w_conditions((1.0, 1.0))(cond, x, torch.Generator())["w"], torch.ones(4000))  # a fixed w
    with pytest.raises(ValueError, match="0 <= w_min <= w_max"):
        w_conditions((2.0, 1.0))
    with pytest.raises(ValueError, match="conditional data"):
        draw(None, x, torch.Generator())


def test_the_stochastic_sampler_is_seeded_per_sample_and_renoises_to_the_marginal():
    guided = GuidedDenoiser(TwoClassGaussian(), 1.0, TwoClassGaussian.NULL)
    seeds, cond = list(range(6)), _cond(6)
    whole = run_sampler("renoise", guided, (3,), seeds, 4, cond=cond, clip_x=False)
    halves = torch.cat([run_sampler("renoise", guided, (3,), seeds[:2], 4,
                                    cond={"label": cond["label"][:2]}, clip_x=False),
                        run_sampler("renoise", guided, (3,), seeds[2:], 4,
                                    cond={"label": cond["label"][2:]}, clip_x=False)])
    assert torch.equal(whole, halves)  # results do not depend on the batch size
    ddim = run_sampler("ddim", guided, (3,), seeds, 4, cond=cond, clip_x=False)
    assert not torch.allclose(whole, ddim)  # it is stochastic
    assert torch.equal(run_sampler("renoise", guided, (3,), seeds, 1, cond=cond, clip_x=False),
                       run_sampler("ddim", guided, (3,), seeds, 1, cond=cond, clip_x=False))  # one step: D
    # forward noise from k back to s: z_k ~ N(a_k x, s_k^2) becomes z_s ~ N(a_s x, s_s^2) (PD Eq. 1)
    sched = TwoClassGaussian().schedule
    (a_k, s_k), (a_s, s_s) = sched.alpha_sigma(torch.tensor(0.25)), sched.alpha_sigma(torch.tensor(0.5))
    x, eps = torch.full((200000,), 0.3, dtype=torch.float64), torch.randn(200000, dtype=torch.float64)
    z_s = renoise_step(a_k * x + s_k * eps, a_k, s_k, a_s, s_s, torch.randn(200000, dtype=torch.float64))
    assert abs(float(z_s.mean()) - float(a_s) * 0.3) < 0.01 and abs(float(z_s.std()) - float(s_s)) < 0.01


def _guided_teacher(cfg, tmp_path):
    """A freshly initialised guided teacher of the smoke experiment (null label), saved as a model folder."""
    from distill.experiment_views import experiment_profile
    from distill.core.checkpoint import save_weights
    from distill.data import load_dataset
    from distill.pipeline.common import build_denoiser
    from distill.pipeline.train_teacher import teacher_step

    ecfg = experiment_profile(cfg, "guided", "digits")
    _, model_cfg, _ = teacher_step(ecfg, load_dataset(ecfg["data"]), "x", "snr", 0)
    torch.manual_seed(0)
    path = tmp_path / "teacher" / "model.safetensors"
    path.parent.mkdir(parents=True)
    save_weights(path, build_denoiser(model_cfg).net.state_dict(), {**model_cfg, "status": "completed"})
    return path


def test_the_initial_w_student_is_the_conditional_teacher_bit_for_bit(smoke_cfg, tmp_path):
    from distill.core.checkpoint import load_into, load_weights
    from distill.pipeline.common import build_denoiser, load_denoiser
    from distill.steps.guided import student_config

    path = _guided_teacher(smoke_cfg, tmp_path)
    tensors, teacher_cfg = load_weights(path)
    teacher, _ = load_denoiser(path)
    student_cfg = student_config(teacher_cfg, smoke_cfg["guided"]["experiments"]["digits"], "digits", "w")
    assert student_cfg["network"]["scalar_conditions"] == ["w"] and student_cfg["network"]["null_label"]
    student = build_denoiser(student_cfg)
    load_into(student.net, tensors, path, new_conditions=("w",))
    teacher.eval(), student.eval()
    z, t, labels = torch.randn(4, 1, 8, 8), torch.rand(4), torch.tensor([0, 3, 7, 9])
    with torch.no_grad():
        for w in SWEEP:
            assert torch.equal(student(z, t, {"label": labels, "w": torch.full((4,), w)}),
                               teacher(z, t, {"label": labels}))


def test_stage_one_and_a_round_resume_after_a_kill(smoke_cfg, tmp_path, monkeypatch):
    """Stage one records its cost (two guided teacher evaluations per image); a round killed after its first
    checkpoint and rerun ends with the weights of a round never interrupted."""
    from distill.core.checkpoint import load_weights
    from distill.methods import progressive
    from distill.steps import guided

    teacher = _guided_teacher(smoke_cfg, tmp_path)
    summary = guided.train_stage_one(smoke_cfg, "digits", "w", teacher, tmp_path / "stage1", progress=False)
    assert summary["status"] == "completed" and summary["teacher_forwards"] == 2 * summary["images_seen"]
    first = tmp_path / "stage1" / "model.safetensors"
    _, cfg = load_weights(first)
    assert cfg["kind"] == "guided-stage-one" and cfg["w_range"] == [0.0, 4.0]

    ref = guided.run_round(smoke_cfg, "digits", "w", 2, first, tmp_path / "ref", progress=False)
    original, calls = progressive.loss_at, []

    def dies_at_seven(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:  # after the checkpoint of step 5
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(progressive, "loss_at", dies_at_seven)
    with pytest.raises(Killed):
        guided.run_round(smoke_cfg, "digits", "w", 2, first, tmp_path / "run", progress=False)
    monkeypatch.setattr(progressive, "loss_at", original)
    again = guided.run_round(smoke_cfg, "digits", "w", 2, first, tmp_path / "run", progress=False)
    assert again["steps"] == ref["steps"] == smoke_cfg["guided"]["experiments"]["digits"]["stage_two"]["updates_last_rounds"]
    a, b = load_weights(tmp_path / "ref" / "model.safetensors")[0], load_weights(tmp_path / "run" / "model.safetensors")[0]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="not a guided-distillation student"):
        guided.run_round(smoke_cfg, "digits", "w", 2, teacher, tmp_path / "bad", progress=False)


def test_the_settings_check_names_each_problem(smoke_cfg):
    from distill.plugins.guided_check import check

    exp = smoke_cfg["guided"]["experiments"]["digits"]
    assert check(smoke_cfg) == []
    exp["sweep"], exp["student_steps"] = [5.0], [3]
    exp["teacher_training"]["label_dropout"] = 0.0
    exp["data"]["conditional"] = False
    problems = dict(check(smoke_cfg))
    assert "outside w_range" in problems["guided.experiments.digits.sweep"]
    assert "not made by the rounds" in problems["guided.experiments.digits.student_steps"]
    assert "label_dropout > 0" in problems["guided.experiments.digits.teacher_training"]
    assert "class-conditional" in problems["guided.experiments.digits.data"]


def test_the_smoke_pipeline_records_w_nfe_and_cost(readme_project):
    """The README run's guided target: the teacher's sweeps count two evaluations per step and record w as
    guidance; the students take w as their condition; every results row has its w and its cost."""
    from distill.results import table as results_table

    smoke = readme_project.require() / "results" / "smoke"
    teacher = json.loads((smoke / "guided_metrics/digits/teacher/ddim-n4/w1.json").read_text())
    assert teacher["sampling"]["guidance"] == 1.0 and teacher["sampling"]["nfe"] == 8
    student = json.loads((smoke / "guided_metrics/digits/w-n2/renoise-n2/w1.json").read_text())
    assert student["sampling"]["cond_w"] == 1.0 and student["sampling"]["nfe"] == 2
    rows = results_table.read(smoke / "rows" / "guided-digits.csv")
    assert set(rows["guidance"]) == {"1"} and rows["cost_seconds"].notna().all()
    assert set(rows["sampler"]) == {"ddim", "ancestral", "renoise"}
    summary = json.loads((smoke / "guided_digits.json").read_text())
    # S at 2 steps evaluates the 1-step students (jumps of 2/N); its ablation the 2-step student
    assert {p["model"] for p in summary["points"]} == {"teacher", "w-n2", "w-n1", "w1-n2", "w1-n1"}
    assert {(p["model"], p["variant"]) for p in summary["points"] if p["sampler"] == "renoise"} == \
        {("w-n1", "S"), ("w-n2", "S-same"), ("w1-n1", "S")}
    assert np.isfinite([p["fid"] for p in summary["points"]]).all()


def test_w_is_embedded_as_time_is_and_an_unknown_scale_is_refused(smoke_cfg):
    """Stage one's student embeds w as the suite embeds t (a sinusoid of 1000 w, stage_one.w_embedding_scale): at
    the mini width the features of w = 0 and w = 0.3 differ by more than their norm, where a sinusoid of w itself
    moved them by 11%. SFD-v's integer step count keeps scale 1 (its official embedding): neighbours differ by 36%."""
    from distill.nets.embedding import ConditionEmbedding, sinusoidal_embedding
    from distill.steps.guided import student_config

    exp = smoke_cfg["guided"]["experiments"]["digits"]
    cfg = student_config({"network": {"kind": "unet", "scalar_conditions": []}}, exp, "digits", "w")
    assert cfg["network"]["condition_scales"] == {"w": 1000.0} == {"w": exp["stage_one"]["w_embedding_scale"]}
    emb = ConditionEmbedding(16, 32, scalar_conditions=["w", "steps"], condition_scales={"w": 1000.0})
    assert emb.scalars["w"].scale == 1000.0 and emb.scalars["steps"].scale == 1.0

    def moved(a, b, scale):
        fa, fb = (sinusoidal_embedding(torch.tensor([v * scale]), 16) for v in (a, b))
        return float((fa - fb).norm() / fa.norm())

    assert moved(0.0, 0.3, 1000.0) > 1.0 > 0.2 > moved(0.0, 0.3, 1.0)
    assert moved(4.0, 5.0, 1.0) > 0.3  # SFD-v's steps condition, embedded as the official code does
    with pytest.raises(ValueError, match="not scalar_conditions"):
        ConditionEmbedding(16, 32, scalar_conditions=["w"], condition_scales={"steps": 1000.0})
    with pytest.raises(ValueError, match="finite numbers > 0"):
        ConditionEmbedding(16, 32, scalar_conditions=["w"], condition_scales={"w": 0.0})
