"""SFD's math (distill/methods/sfd.py) on the analytic Gaussian model: the teacher's targets are its solver's states
on the fine grid, the student's training trajectory is the Euler sampler it is later sampled with, a student equal to
an Euler teacher without inserted steps has zero loss, the losses by hand, and a new step condition starts as the
teacher."""

from __future__ import annotations

import pytest
import torch

from distill.core.grids import make_grid
from distill.core.samplers import get_sampler
from distill.core.seeding import SeededNoise
from distill.methods import sfd

from conftest import GaussianDenoiser

GRID = {"rho": 7.0, "sigma_min": 0.006, "sigma_max": 80.0}  # SFD's (sfd-main/launch.sh)
SHAPE = (3, 4)


def _z(seeds=range(5)):
    return SeededNoise(list(seeds)).randn(*SHAPE, dtype=torch.float64)


def test_the_teacher_grid_holds_every_student_state():
    n, m = 4, 3
    coarse, fine = sfd.student_sigmas(n, GRID), sfd.student_sigmas(sfd.teacher_grid_size(n, m), GRID)
    assert len(fine) == 13 and torch.allclose(fine[::m + 1], coarse, rtol=1e-12)


@pytest.mark.parametrize("solver,options", [("dpmpp", {"max_order": 3}), ("euler", {}), ("ipndm", {"max_order": 4})])
def test_the_targets_are_the_teacher_solver_on_the_fine_grid(solver, options):
    teacher, n, m, z = GaussianDenoiser(0.3, 0.2), 4, 3, _z()
    x0 = z * sfd.student_sigmas(n, GRID)[0]
    targets = sfd.teacher_targets(teacher, x0, n, m, GRID, solver, options, clip="none")
    steps = sfd.teacher_grid_size(n, m)
    full = get_sampler(solver).fn(teacher, z, make_grid("edm", steps, **GRID), clip="none", **options)
    assert len(targets) == n - 1 and torch.equal(targets[-1], full)
    if solver == "euler":  # a one-step solver's first M + 1 steps are the solver over the first M + 2 states
        from distill.core.sigma_solvers import euler, sigma_denoiser
        from distill.core.schedule import CosineSchedule

        fine = sfd.student_sigmas(steps, GRID)
        d = sigma_denoiser(teacher, CosineSchedule(), None, False)
        assert torch.equal(targets[0], euler(d, x0, fine[:m + 2]))


@pytest.mark.parametrize("afs", [True, False])
def test_the_student_trajectory_is_the_euler_sampler_it_is_sampled_with(afs):
    student, n, z = GaussianDenoiser(0.1, 0.5), 5, _z()
    sigmas = sfd.student_sigmas(n, GRID)
    states = []
    targets = [torch.zeros_like(z)] * (n - 1)
    losses = sfd.student_steps(student, z * sigmas[0], targets, sigmas, afs, lambda loss: states.append(loss),
                               clip="clamp")
    assert len(losses) == len(states) == n - 1 - int(afs)  # one update per student step; none for AFS's
    sampled = get_sampler("euler").fn(student, z, make_grid("edm", n, **GRID), clip="clamp", afs=afs)
    # the last loss is the L1 distance of the last state from zero: the sampler's output
    assert torch.allclose(losses[-1], sampled.flatten(1).abs().sum(1).mean(), rtol=1e-12)


def test_a_student_equal_to_an_euler_teacher_without_inserted_steps_has_zero_loss():
    teacher, n, z = GaussianDenoiser(0.3, 0.2), 4, _z()
    sigmas = sfd.student_sigmas(n, GRID)
    targets = sfd.teacher_targets(teacher, z * sigmas[0], n, 0, GRID, "euler", {}, clip="none")
    losses = sfd.student_steps(teacher, z * sigmas[0], targets, sigmas, False, lambda loss: None, clip="none")
    assert all(float(v) == 0.0 for v in losses)
    with_m = sfd.teacher_targets(teacher, z * sigmas[0], n, 3, GRID, "euler", {}, clip="none")
    assert float(sfd.trajectory_loss(targets[-1], with_m[-1])) > 0  # inserted steps make the teacher more accurate


def test_the_losses_by_hand():
    a = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    b = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    assert float(sfd.trajectory_loss(a, b, "l1")) == pytest.approx(((1 + 2) + (0.5 + 1)) / 2)
    assert float(sfd.trajectory_loss(a, b, "l2")) == pytest.approx(((1 + 4) + (0.25 + 1)) / 2)
    feats = lambda x: 2 * x  # noqa: E731
    assert float(sfd.perceptual_loss(feats, a, b)) == pytest.approx(4 * ((1 + 4) + (0.25 + 1)) / 2)
    with pytest.raises(ValueError, match="unknown SFD loss 'huber'"):
        sfd.trajectory_loss(a, b, "huber")


def test_sfd_v_draws_every_step_count_from_the_generator():
    gen = torch.Generator().manual_seed(0)
    draws = [sfd.draw_num_steps((4, 5, 6, 7), gen) for _ in range(400)]
    assert set(draws) == {4, 5, 6, 7} and all(60 < draws.count(k) < 140 for k in (4, 5, 6, 7))
    again = torch.Generator().manual_seed(0)
    assert draws[:20] == [sfd.draw_num_steps((4, 5, 6, 7), again) for _ in range(20)]


def test_a_new_step_condition_starts_as_the_teacher_bit_for_bit():
    from distill.core.checkpoint import CheckpointError, load_into
    from distill.nets.unet import UNet

    torch.manual_seed(0)
    kw = dict(in_channels=1, out_channels=1, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(),
              resolution=8)
    teacher = UNet(**kw)
    torch.manual_seed(1)
    student = UNet(**kw, scalar_conditions=("steps",))
    load_into(student, teacher.state_dict(), "teacher", new_conditions=("steps",))
    z, t = torch.randn(4, 1, 8, 8), torch.rand(4)
    with torch.no_grad():
        assert torch.equal(student(z, t, {"steps": torch.full((4,), 5.0)}), teacher(z, t, None))
    with pytest.raises(CheckpointError, match="no embedding of the scalar condition 'w'"):
        load_into(UNet(**kw, scalar_conditions=("steps",)), teacher.state_dict(), "teacher", new_conditions=("w",))
    with pytest.raises(CheckpointError, match="do not match"):
        load_into(UNet(**kw, scalar_conditions=("steps",)), teacher.state_dict(), "teacher")


# ---- the plug-in's settings, checks and the student's own sampler ----

def test_a_run_overrides_only_what_it_names(smoke_cfg):
    from distill.plugins.sfd import run_settings

    second = run_settings(smoke_cfg, "second")
    assert second["kind"] == "second-stage" and second["num_steps"] == 3 and second["inserted"] == 2
    assert second["train"]["lr"] == 5.0e-4 and second["train"]["batch_size"] == smoke_cfg["sfd"]["train"]["batch_size"]
    assert second["grid"] == smoke_cfg["sfd"]["grid"] and run_settings(smoke_cfg, "nfe2")["kind"] == "sfd"
    with pytest.raises(ValueError, match="unknown SFD run 'nope'"):
        run_settings(smoke_cfg, "nope")


def test_the_learning_rate_drops_one_iteration_after_half_of_the_trajectories(smoke_cfg):
    """training_loop.py tests cur_nimg >= half before counting the iteration it just made."""
    from distill.plugins.sfd import iterations, lr_schedule, run_settings

    s = run_settings(smoke_cfg, "nfe2")
    s["train"].update(trajectories=64, batch_size=16, lr=1.0, lr_drop=0.5)
    schedule = lr_schedule(s)
    assert iterations(s) == 4 and [schedule(i) for i in range(4)] == [1.0, 1.0, 1.0, 0.1]


@pytest.mark.parametrize("change,where,message", [
    (lambda c: c["runs"].update(v={"kind": "sfd-v", "num_steps": 4}), "sfd.runs.v", "list of at least two"),
    (lambda c: c["runs"]["second"].update(teacher_run="nfe9"), "sfd.runs.second.teacher_run", "not a first-stage"),
    (lambda c: c["runs"]["nfe2"].update(teacher_run="v"), "sfd.runs.nfe2.teacher_run", "only a second-stage"),
    (lambda c: c["runs"].update(x={"afs": True, "num_steps": 2}), "sfd.runs.x", "no network evaluation"),
    (lambda c: c["solvers"].update(heun={"sampler": "heun", "options": {}, "grid": "edm", "nfe": [5]}),
     "sfd.solvers.heun", "cannot make exactly 5"),
    (lambda c: c["solvers"]["ddim"]["options"].update(clip="sometimes"), "sfd.solvers.ddim", "clip must be one of"),
    (lambda c: c["curve"].update(iterations=[1, 2]), "sfd.curve.iterations", "the last point must be the run's budget"),
    (lambda c: c["curve"].update(iterations=[4, 2, 4]), "sfd.curve.iterations", "must increase"),
    (lambda c: c["curve"].update(runs=["second"]), "sfd.curve.runs", "a second stage"),
    (lambda c: c["curve"].update(runs=["nfe9"]), "sfd.curve.runs", "not a run of sfd.runs"),
    (lambda c: c["student"]["teacher_solver"].update(options={"max_order": 9}), "sfd.runs.nfe2.teacher_solver",
     "max_order must lie in"),
])
def test_check_names_each_unusable_run(smoke_cfg, change, where, message):
    from distill.plugins.sfd_check import check

    change(smoke_cfg["sfd"])
    problems = dict(check(smoke_cfg))
    assert where in problems and message in problems[where], problems


def test_a_student_is_sampled_with_its_own_sampler_unless_told_otherwise():
    from distill.pipeline.sample import recorded_sampling

    record = {"sampling": {"sampler": "euler", "options": {"afs": True}, "grid": "edm", "steps": 4,
                           "grid_options": {"sigma_min": 0.006}, "step_condition": None}}
    assert recorded_sampling(record, None, None, {}, None, {}, {}) == (
        "euler", 4, {"afs": True}, "edm", {"sigma_min": 0.006})
    assert recorded_sampling(record, "euler", 6, {"afs": False}, None, {"rho": 5.0}, {}) == (
        "euler", 6, {"afs": False}, "edm", {"sigma_min": 0.006, "rho": 5.0})
    assert recorded_sampling(record, "ddim", 8, {}, None, {}, {}) == ("ddim", 8, {}, "uniform", {})
    with pytest.raises(ValueError, match="give --sampler"):
        recorded_sampling({}, None, None, {}, None, {}, {})

    variable = {"sampling": {**record["sampling"], "steps": None, "step_condition": "steps"}}
    with pytest.raises(ValueError, match="give --steps"):
        recorded_sampling(variable, None, None, {}, None, {}, {})
    cond = {}
    recorded_sampling(variable, None, 5, {}, None, {}, cond)
    assert cond == {"steps": 5.0}
    with pytest.raises(ValueError, match="contradicts --steps 5"):
        recorded_sampling(variable, None, 5, {}, None, {}, {"steps": 6.0})


def test_each_claim_holds_fails_or_is_not_checked_on_a_hand_made_table():
    from distill.claims import sfd as claims
    from distill.claims.registry import FAILS, HOLDS, NOT_CHECKED

    points = [("SFD", 2, 30.0, 28.0), ("SFD", 3, 31.0, 40.0), ("DDIM", 5, 200.0, 0.0), ("DPM++(3M)", 5, 58.0, 0.0), ("PD", 2, 38.0, 400.0),
              ("PD", 1, 47.0, 500.0), ("SFD (second-stage)", 1, 40.0, 90.0), ("SFD-v (one model)", 2, 45.0, 100.0)]
    summary = {"points": [{"method": m, "nfe": n, "fid": f, "cost_seconds": c} for m, n, f, c in points]}
    by_id = {c.id: c.check(summary, c.tolerance)[0] for c in claims.CLAIMS}
    assert by_id == {"sfd.table2.nfe2_beats_solvers_at_nfe5": HOLDS, "sfd.table2.sfd_v_matches_sfd": FAILS,
                     "sfd.table2.fid_falls_with_nfe": FAILS,
                     "sfd.abstract.fraction_of_pd_cost": HOLDS, "sfd.table2.second_stage_best_nfe1": HOLDS}
    assert {c.check({"points": []}, c.tolerance)[0] for c in claims.CLAIMS} == {NOT_CHECKED}


@pytest.fixture
def smoke_teacher(smoke_cfg, tmp_path):
    """An untrained teacher of the smoke profile's shape, saved as a model folder."""
    from distill.core.checkpoint import save_weights
    from distill.data import load_dataset
    from distill.pipeline.train_teacher import teacher_step

    denoiser, model_cfg, _ = teacher_step(smoke_cfg, load_dataset(smoke_cfg["data"]), "x", "snr", 0)
    path = tmp_path / "teacher" / "model.safetensors"
    path.parent.mkdir()
    save_weights(path, denoiser.net.state_dict(), {**model_cfg, "status": "completed"})
    return path


def test_a_student_trains_resumes_and_samples_with_its_own_settings(smoke_cfg, smoke_teacher, tmp_path):
    """SFD-v on the smoke settings: the student starts as the teacher, trains its iterations (an update per student
    step), records its sampler, and a second run in the same folder resumes to the same weights."""
    from distill.core.checkpoint import load_weights
    from distill.plugins.sfd import iterations, run_settings
    from distill.steps.sfd import train_student

    summary = train_student(smoke_cfg, "v", smoke_teacher, tmp_path / "v", progress=False)
    settings = run_settings(smoke_cfg, "v")
    assert summary["status"] == "completed" and summary["steps"] == iterations(settings)
    assert summary["trajectories"] == iterations(settings) * settings["train"]["batch_size"]
    tensors, cfg = load_weights(tmp_path / "v" / "model.safetensors")
    assert cfg["sampling"] == {"sampler": "euler", "options": {"afs": True}, "grid": "edm",
                               "grid_options": smoke_cfg["sfd"]["grid"], "steps": None, "step_condition": "steps"}
    assert cfg["network"]["scalar_conditions"] == ["steps"]
    again = train_student(smoke_cfg, "v", smoke_teacher, tmp_path / "v", progress=False)  # finished: nothing to do
    assert again["steps"] == summary["steps"]
    assert all(torch.equal(tensors[k], load_weights(tmp_path / "v" / "model.safetensors")[0][k]) for k in tensors)


def test_a_second_stage_needs_a_first_stage_teacher(smoke_cfg, smoke_teacher, tmp_path):
    from distill.steps.sfd import train_student

    with pytest.raises(ValueError, match="not an SFD student"):
        train_student(smoke_cfg, "second", smoke_teacher, tmp_path / "second",
                      classifier=str(smoke_teacher), progress=False)


def test_the_budget_curve_settings_and_the_solvers_grids(smoke_cfg):
    """A curve run saves its student at every iteration the curve evaluates (SFD-v: per step count, times its step
    counts), from 0, the teacher; a solver row's grid takes only the options it has (log-SNR: no rho)."""
    from distill.plugins.sfd import curve_iterations, snapshot_every, solver_grid

    c = smoke_cfg["sfd"]
    c["curve"] = {"runs": ["nfe2", "v"], "iterations": [1, 2, 4]}
    c["train"]["trajectories"] = 64  # 4 iterations of 16
    c["runs"]["v"]["train"] = {"trajectories": 128}  # 8: 4 per step count
    assert curve_iterations(smoke_cfg, "nfe2") == [0, 1, 2, 4] and curve_iterations(smoke_cfg, "v") == [0, 2, 4, 8]
    assert snapshot_every(smoke_cfg, "nfe2") == 1 and snapshot_every(smoke_cfg, "v") == 2
    assert snapshot_every(smoke_cfg, "second") is None
    assert solver_grid(smoke_cfg, "ddim") == ("edm", c["grid"])
    assert solver_grid(smoke_cfg, "dpmpp3m") == ("edm_logsnr", {k: c["grid"][k] for k in ("sigma_min", "sigma_max")})


def test_the_log_snr_grid_is_uniform_in_log_sigma_between_the_edm_range():
    import math

    from distill.core.schedule import CosineSchedule

    sched = CosineSchedule()
    sigmas = make_grid("edm_logsnr", 5, sched, sigma_min=0.006, sigma_max=80.0)[:-1]
    logs = torch.log(sigmas)
    assert math.isclose(float(sigmas[0]), 80.0, rel_tol=1e-9) and math.isclose(float(sigmas[-1]), 0.006, rel_tol=1e-9)
    assert torch.allclose(logs[1:] - logs[:-1], torch.full((4,), (math.log(0.006) - math.log(80.0)) / 4,
                                                            dtype=torch.float64), rtol=1e-9)


def test_the_perceptual_term_is_weighted_as_the_official_loss_weighs_lpips():
    """sfd-main adds the LPIPS scalar to every element of the per-pixel L1 before the sum: C x H x W times."""
    student, n, z = GaussianDenoiser(0.1, 0.5), 3, _z()
    sigmas = sfd.student_sigmas(n, GRID)
    targets = [torch.zeros_like(z)] * (n - 1)
    feats = lambda x: x.flatten(1)[:, :3]  # noqa: E731
    plain = sfd.student_steps(student, z * sigmas[0], targets, sigmas, True, lambda loss: None, clip="none")
    with_p = sfd.student_steps(student, z * sigmas[0], targets, sigmas, True, lambda loss: None, clip="none",
                               features=feats, perceptual_weight=0.5)
    x_last = get_sampler("euler").fn(student, z, make_grid("edm", n, **GRID), clip="none", afs=True)
    extra = 0.5 * z[0].numel() * sfd.perceptual_loss(feats, x_last, targets[-1])
    assert torch.allclose(with_p[-1] - plain[-1], extra, rtol=1e-9)


def test_the_smoke_pipeline_records_the_curve_and_each_solvers_grid_and_clipping(readme_project):
    """The README run's SFD target: a budget curve from the teacher (iteration 0) to the run's budget, and solver
    rows sampled on their own grid with their own clipping (the Euler student: none)."""
    import json

    smoke = readme_project.require() / "results" / "smoke"
    summary = json.loads((smoke / "sfd.json").read_text())
    curve = [(p["run"], p["iterations"]) for p in summary["curve"]]
    assert curve == [("nfe2", 0), ("nfe2", 2), ("nfe2", 4)], curve
    assert all(p["fid"] is not None for p in summary["curve"])
    logsnr = json.loads((smoke / "sfd_metrics/solvers/dpmpp3m-nfe3.json").read_text())["sampling"]
    assert logsnr["grid"] == "edm_logsnr" and logsnr["clip"] == "dynamic" and "clip_x" not in logsnr
    student = json.loads((smoke / "sfd_metrics/nfe2/n4.json").read_text())["sampling"]
    assert student["sampler"] == "euler" and student["clip"] == "none"


def test_sfd_table_2_gathers_pd_and_kd_rows_of_pd_table_2_through_its_card():
    """SFD Table 2 lists PD's students ("PD") and KD's one-step student beside its own: SFD's card gathers them from
    PD Table 2 (distill.reports.reproduced.gather), so PD and KD emit no SFD rows; PD Table 2's DDIM rows are not
    SFD's DDIM (its teacher's solver) and stay out."""
    from types import SimpleNamespace

    import pandas as pd

    from distill.plugins.kd import LABEL as KD_LABEL
    from distill.plugins.kd import METHOD as KD
    from distill.plugins.pd import DDIM_LABEL, LABEL as PD_LABEL
    from distill.plugins.pd import METHOD as PD
    from distill.plugins.sfd import METHOD as SFD
    from distill.reports.reproduced import frame, gather, keyed

    row = SimpleNamespace(dataset="digits", resolution=8, experiment="digits", cost_seconds=1.0, cost_images=2,
                          cost_teacher_evals=3)
    rows = frame([keyed("PD", "Table 2", "cifar10", PD_LABEL, "FID", row, 40.0, steps="1"),
                  keyed("PD", "Table 2", "cifar10", KD_LABEL, "FID", row, 44.0, steps="1"),
                  keyed("PD", "Table 2", "cifar10", DDIM_LABEL, "FID", row, 90.0, steps="1")])
    out = gather(rows, [PD, KD, SFD])
    sfd = out[(out["paper"] == "SFD") & (out["table"] == "Table 2")]
    assert sorted(zip(sfd["method"], sfd["reproduced"])) == [("Knowledge distillation (Luhman & Luhman, 2021)", 44.0),
                                                             ("PD", 40.0)]
    assert len(out) == 5 and gather(rows, [PD, KD]).equals(rows)  # without SFD's card nothing is gathered
    assert not any(paper == "SFD" for paper, _ in {*PD.reproduces, *KD.reproduces})
    assert {"PD", KD_LABEL} <= SFD.reproduces[("SFD", "Table 2")]
    pd.testing.assert_frame_equal(sfd.drop(columns=["paper", "method"]).reset_index(drop=True),
                                  rows.iloc[:2].drop(columns=["paper", "method"]).reset_index(drop=True))


def test_an_experiment_is_the_section_run_again_on_its_own_teacher_and_data():
    """SFD Table 3 (paper profile, sfd.experiments.imagenet64): a command run with --method sfd --experiment
    imagenet64 sees the section's runs with the experiment's teacher and data; its files, report and results-table
    part are its own; and each row is keyed under the table of the section whose teacher made it."""
    import pandas as pd

    from pathlib import Path

    from distill.config import load_profile
    from distill.experiment_views import experiment_profile
    from distill.plugins import sfd as S
    from distill.plugins import sfd_layout as SL
    from distill.reports.sfd import published_rows
    from distill.results.table import COLUMNS

    cfg = load_profile(Path(__file__).resolve().parents[1] / "params.yaml", "paper")
    view = experiment_profile(cfg, "sfd", "imagenet64")
    assert view["sfd"]["teacher"] == {"edm": "edm_imagenet64_cond"} and view["data"]["name"] == "imagenet64"
    assert view["sfd"]["runs"] == cfg["sfd"]["runs"] and view["sfd"]["solvers"] == cfg["sfd"]["solvers"]
    assert (SL.experiment_of(cfg), SL.experiment_of(view)) == (None, "imagenet64")
    assert SL.paths("r", "imagenet64")["student"] == "r/sfd/imagenet64/{srun}"
    assert SL.paths("r")["student"] == "r/sfd/{srun}"
    assert S.METHOD.targets(cfg) == ["reports/sfd.pdf", "reports/sfd_imagenet64.pdf"]
    assert S.METHOD.rows(cfg, "r") == ["r/rows/sfd.csv", "r/rows/sfd_imagenet64.csv"]

    def row(teacher, value):
        return {**dict.fromkeys(COLUMNS, ""), "method": "sfd", "experiment": "nfe2", "model": "sfd", "nfe": 2,
                "steps": 4, "teacher": f"results/paper/teachers/{teacher}", "seed_range": "min", "metric": "fid",
                "value": value, "status": "ok", "cost_seconds": 1.0, "cost_images": 2, "cost_teacher_evals": 3}

    table = pd.DataFrame([row("edm_cifar10_vp", 5.0), row("edm_imagenet64_cond", 11.0)], columns=COLUMNS)
    keyed = published_rows(table, cfg)  # compare: each row under its own section's table
    assert sorted(zip(keyed["table"], keyed["dataset"], keyed["reproduced"])) == [
        ("Table 2", "cifar10", 5.0), ("Table 3", "imagenet64", 11.0)]
    keyed = published_rows(table, view)  # the experiment's report: its own rows
    assert list(zip(keyed["table"], keyed["dataset"], keyed["reproduced"])) == [("Table 3", "imagenet64", 11.0)]


@pytest.mark.integration
def test_an_experiment_runs_through_the_workflow_on_its_own_images(readme_project, tmp_path):
    """sfd.experiments at smoke: the section run again with other images (MNIST at 8 px standing in for ImageNet-64)
    builds its own reference statistics, floor, students and report (SFD Table 3's layout) under its own names, and
    rebuilds none of the section's files."""
    import json

    import pandas as pd
    import yaml

    from conftest import run_snakemake

    proj = readme_project.copy(tmp_path / "project")
    params = yaml.safe_load((proj / "params.yaml").read_text())
    sfd_section = params["profiles"]["smoke"]["sfd"]
    sfd_section["experiments"] = {"other": {
        "reproduces": "imagenet64", "teacher": dict(sfd_section["teacher"]),
        "data": {"name": "mnist", "root": None, "resolution": 8, "conditional": False},
        "solvers": {"ddim": sfd_section["solvers"]["ddim"]}}}
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    smoke = proj / "results" / "smoke"
    before = {p: p.stat().st_mtime_ns for p in (smoke / "sfd").rglob("*") if p.is_file()}
    proc = run_snakemake(proj, "--config", "profile=smoke", "--", "reports/sfd_other.pdf")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in before} == before  # the section's students untouched
    assert (smoke / "sfd" / "other" / "nfe2" / "model.safetensors").is_file()
    assert (smoke / "refs" / "sfd-other-distill-domain.npz").is_file()
    assert json.loads((smoke / "sfd_metrics" / "other" / "floor-distill-domain.json").read_text())["data"] == "mnist"
    rows = pd.read_csv(smoke / "rows" / "sfd_other.csv")
    assert set(rows["dataset"]) == {"mnist"} and set(rows["teacher"]) == {"results/smoke/teachers/x-snr-s0"}
    table = pd.read_csv(proj / "reports" / "sfd_other.csv")
    assert set(table["table"]) == {"Table 3"} and "DDIM" in set(table["method"])
    assert (proj / "reports" / "sfd_other.pdf").read_bytes().startswith(b"%PDF")
