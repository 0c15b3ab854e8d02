"""The methods that draw x from data, on a tiny random SD teacher (tests/latent_models.py) loaded as a cluster run
loads the real one: an MS-COCO-format image-caption set written here in the real formats (JPEGs, a captions JSON),
encoded by the teacher's VAE (`distill encode-captions`: resumable, batch-size independent), then PD's rounds,
guided distillation's stage one and stage two, and consistency distillation on it (--captions), each student sampled
by `distill sample-text` on the teacher's own levels (distill/core/time_window.py) or its own time list; the same
methods on a tiny SDXL teacher and its own caption latents."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from conftest import make_project
from distill.core.checkpoint import load_weights
from distill.core.grids import make_grid
from distill.core.time_window import TimeWindow, window_of
from distill.data.base import DataError
from distill.data.caption_latents import open_caption_latents, read_coco_captions
from distill.methods.progressive import distillation_target
from distill.nets import imported_denoiser
from distill.pipeline import encode_captions
from distill.pipeline.import_diffusers import run as import_pipeline
from distill.pipeline.sample import load_samples
from latent_models import caption_methods, coco_train_set, sd_pipeline, sdxl_pipeline

RESOLUTION = 16
CAPTIONS = {1: ["a red cube", "a cube, red"], 2: ["two cats on a mat"], 3: ["a tree by a lake"],
            4: ["a blue sky"]}


def _coco(folder):
    """Five JPEGs of different shapes and an MS-COCO captions file; image 5 has no caption, so it is left out."""
    sizes = {1: (24, 20), 2: (20, 30), 3: (16, 16), 4: (40, 18), 5: (22, 22)}
    return coco_train_set(folder, folder / "captions_train2014.json", sizes, CAPTIONS)


def _section(smoke):
    """text_to_image experiments on the tiny SD and SDXL teachers with PD's, guided distillation's and CD's sections."""
    def experiment(name, pd_steps):
        return {"teacher": {"diffusers": name}, "resolution": RESOLUTION, "guidance": 1.5, "pd_steps": pd_steps,
                **caption_methods(smoke, name, name, teacher_steps=4, updates=2)}

    return {"prompts": "coco_captions", "fid_reference": "coco_fid_stats", "clip": "clip_vit_g14",
            "captions": "coco_train2014", "num_samples": 2, "part_size": 2,
            "experiments": {"sd15": experiment("sd15", [1]), "sdxl": experiment("sdxl", [2])}}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = make_project(tmp_path_factory.mktemp("latent-training"))
    sd_pipeline(tmp / "sd15")
    import_pipeline("tiny-sd15", tmp / "sd15", tmp / "teacher", RESOLUTION, lock=tmp / "artifacts.lock.json")
    sdxl_pipeline(tmp / "sdxl")
    import_pipeline("tiny-sdxl", tmp / "sdxl", tmp / "teacher-xl", RESOLUTION, lock=tmp / "artifacts.lock.json")
    annotations = _coco(tmp / "coco")
    params = yaml.safe_load((tmp / "params.yaml").read_text())
    smoke = params["profiles"]["smoke"]
    smoke["evaluation"].update(feature_extractor="inception-v3-compat")
    smoke["text_to_image"] = _section(smoke)
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp / "prompts.txt").write_text("a red cube\ntwo cats on a mat\n")
    return tmp, annotations


def _distill(cwd, *args):
    return subprocess.run([sys.executable, "-m", "distill", *args, "--params", str(cwd / "params.yaml"), "--profile",
                           "smoke", "--no-progress"], cwd=cwd, capture_output=True, text=True)


def _encode(tmp, annotations, out, batch_size):
    return _distill(tmp, "encode-captions", "--teacher", str(tmp / "teacher" / "model.safetensors"), "--images",
                    str(annotations.parent), "--annotations", str(annotations), "--batch-size", str(batch_size),
                    "--out", str(out))


@pytest.fixture(scope="module")
def captions(project):
    tmp, annotations = project
    done = _encode(tmp, annotations, tmp / "captions", 3)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / "captions"


def test_the_coco_reader_pairs_each_captioned_image_with_all_its_captions(project):
    _, annotations = project
    pairs = read_coco_captions(annotations)
    assert [name for name, _ in pairs] == [f"COCO_train2014_{i:012d}.jpg" for i in (1, 2, 3, 4)]  # 5 has no caption
    assert pairs[0][1] == ["a red cube", "a cube, red"]


def test_encoded_latents_are_the_vaes_posterior_draws_whatever_the_batch_size(project, captions):
    tmp, annotations = project
    data = open_caption_latents(captions)
    assert len(data) == 4 and data.shape == (4, RESOLUTION, RESOLUTION) and data.latents.dtype == np.float16
    assert data.captions[1] == ["two cats on a mat"]
    one = _encode(tmp, annotations, tmp / "captions-b1", 1)
    assert one.returncode == 0, one.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp / "captions-b1" / "latents.npy"), data.latents, atol=2e-3)
    # image 2 by hand: the shorter side to 16 (bilinear), the centre crop, then mean + std * eps(seed 0 + 1)
    from distill.nets.diffusers_vae import load_vae
    vae = load_vae(tmp / "sd15")
    x = encode_captions.load_image(annotations.parent / "COCO_train2014_000000000002.jpg", RESOLUTION)
    assert x.shape == (3, RESOLUTION, RESOLUTION) and -1 <= x.min() and x.max() <= 1
    with torch.no_grad():
        dist = vae.encode(x[None]).latent_dist
    eps = torch.randn(dist.mean.shape[1:], generator=torch.Generator().manual_seed(1))
    want = ((dist.mean[0] + dist.std[0] * eps) * vae.config.scaling_factor).numpy()
    np.testing.assert_allclose(data.latents[1].astype(np.float32), want, atol=5e-3)


def test_a_killed_encoding_resumes_to_the_same_latents(project, captions, monkeypatch):
    tmp, annotations = project
    real, calls = encode_captions.load_image, []

    def dies_on_the_third(path, resolution):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(path, resolution)

    monkeypatch.setattr(encode_captions, "load_image", dies_on_the_third)
    out = tmp / "captions-resumed"
    with pytest.raises(KeyboardInterrupt):
        encode_captions.run(tmp / "teacher" / "model.safetensors", annotations.parent, annotations, out, 2,
                            progress=False)
    progress = json.loads((tmp / ".captions-resumed.tmp" / "progress.json").read_text())
    assert not out.exists() and progress["done"] == 2
    monkeypatch.setattr(encode_captions, "load_image", real)
    encode_captions.run(tmp / "teacher" / "model.safetensors", annotations.parent, annotations, out, 2,
                        progress=False)
    assert not (tmp / ".captions-resumed.tmp").exists()
    encode_captions.run(tmp / "teacher" / "model.safetensors", annotations.parent, annotations, tmp / "captions-b2", 2,
                        progress=False)  # the same batches, unbroken
    np.testing.assert_array_equal(np.load(out / "latents.npy"), np.load(tmp / "captions-b2" / "latents.npy"))
    assert (out / "captions.json").read_text() == (captions / "captions.json").read_text()


def test_bad_caption_data_is_refused_with_the_fix(project, captions, tmp_path):
    tmp, annotations = project
    gone = tmp_path / "coco"
    gone.mkdir()
    (gone / "captions_train2014.json").write_text(annotations.read_text())
    done = _encode(tmp, gone / "captions_train2014.json", tmp_path / "out", 2)
    assert done.returncode != 0 and "4 of the 4 captioned images" in done.stderr and not (tmp_path / "out").exists()
    (tmp_path / "bad.json").write_text(json.dumps({"images": []}))
    with pytest.raises(DataError, match="not an MS-COCO captions file"):
        read_coco_captions(tmp_path / "bad.json")
    with pytest.raises(DataError, match="lacks latents.npy"):
        open_caption_latents(tmp_path)
    done = _distill(tmp, "pd-round", "--method", "text_to_image", "--experiment", "sd15", "--student-steps", "2",
                    "--teacher", str(tmp / "teacher" / "model.safetensors"),
                    "--out", str(tmp_path / "pd"))
    assert done.returncode != 0 and "give --captions" in done.stderr


def test_a_window_reads_the_grid_in_the_teachers_levels(project):
    tmp, _ = project
    teacher = imported_denoiser(load_weights(tmp / "teacher" / "model.safetensors")[1]["network"])
    lo, hi = teacher.sigma_range()
    window = window_of(teacher)
    sigmas = make_grid("uniform", 4, sigma_min=lo, sigma_max=hi)
    assert sigmas[0].item() == pytest.approx(hi) and sigmas[-1] == 0
    assert torch.equal(TimeWindow()(torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)),
                       torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))  # the whole schedule: t unchanged
    assert window(torch.tensor(0.0)) == 0 and 0 < window.t_lo < window.t_hi < 1
    # PD's target at the student's last step (t = window(1/N)) is the teacher's x-hat at window(1/(2N)), a level it
    # was trained on
    z = torch.randn(2, 4, RESOLUTION, RESOLUTION)
    seen = []
    target = distillation_target(lambda z, t, c: seen.append(t) or torch.full_like(z, 0.25), z,
                                 torch.full((2,), 0.5, dtype=torch.float64), 2, None, window=window)
    assert (target == 0.25).all()
    assert [float(t[0]) for t in seen] == pytest.approx([float(window(0.5)), float(window(0.25))])


def test_pd_guided_and_cd_train_on_caption_latents_and_their_students_sample(project, captions):
    tmp, _ = project
    teacher = str(tmp / "teacher" / "model.safetensors")
    run = ("--method", "text_to_image", "--experiment", "sd15")
    for n, parent in ((2, teacher), (1, str(tmp / "pd-n2" / "model.safetensors"))):
        done = _distill(tmp, "pd-round", *run, "--student-steps", str(n), "--teacher", parent, "--captions",
                        str(captions), "--out", str(tmp / f"pd-n{n}"))
        assert done.returncode == 0, done.stderr[-3000:]
    done = _distill(tmp, "guided-stage-one", *run, "--teacher", teacher, "--captions", str(captions),
                    "--out", str(tmp / "guided-w"))
    assert done.returncode == 0, done.stderr[-3000:]
    done = _distill(tmp, "guided-round", *run, "--student-steps", "1", "--teacher",
                    str(tmp / "guided-w" / "model.safetensors"), "--captions", str(captions),
                    "--out", str(tmp / "guided-w-n1"))
    assert done.returncode == 0, done.stderr[-3000:]
    done = _distill(tmp, "cd-train", *run, "--teacher", teacher, "--captions", str(captions), "--out", str(tmp / "cd"))
    assert done.returncode == 0, done.stderr[-3000:]
    student, cfg = load_weights(tmp / "guided-w-n1" / "model.safetensors")
    assert cfg["kind"] == "guided-student" and cfg["network"]["scalar_conditions"] == ["w"]
    assert "time_embedding.cond_proj.weight" in student  # w enters through the UNet's timestep_cond (LCM's)
    tensors, _ = load_weights(teacher)
    assert any(not torch.equal(student[k], tensors[k]) for k in tensors)  # it trained
    for model, extra in ((tmp / "pd-n1", ("--sampler", "ddim", "--steps", "1")),
                         (tmp / "guided-w-n1", ("--sampler", "ddim", "--steps", "1", "--guidance", "1.5"))):
        out = model / "samples.npz"
        done = _distill(tmp, "sample-text", "--model", str(model / "model.safetensors"), "--prompts",
                        str(tmp / "prompts.txt"), "--num-samples", "2", "--grid", "uniform", *extra, "--out", str(out))
        assert done.returncode == 0, done.stderr[-3000:]
        images, status, meta = load_samples(out)
        assert status == "ok" and images.shape == (2, 3, RESOLUTION, RESOLUTION)
        assert float(meta["grid_sigma_max"]) == pytest.approx(14.6146, abs=1e-3)  # the teacher's top level
    assert float(meta["cond_w"]) == 1.5 and int(meta["nfe"]) == 1  # w is the student's input: one evaluation
    # the consistency model at given sigmas (as plugins/cd.py step_sigmas gives a time list's), guided: two states
    # are one consistency step, two evaluations with guidance
    done = _distill(tmp, "sample-text", "--model", str(tmp / "cd" / "model.safetensors"), "--prompts",
                    str(tmp / "prompts.txt"), "--num-samples", "2", "--sigmas", "14.6146,0.5", "--guidance", "1.5",
                    "--out", str(tmp / "cd" / "samples.npz"))
    assert done.returncode == 0, done.stderr[-3000:]
    images, status, meta = load_samples(tmp / "cd" / "samples.npz")
    assert status == "ok" and json.loads(str(meta["sigmas"])) == [14.6146, 0.5] and int(meta["nfe"]) == 2
    done = _distill(tmp, "sample-text", "--model", str(tmp / "guided-w-n1" / "model.safetensors"), "--prompts",
                    str(tmp / "prompts.txt"), "--num-samples", "1", "--sampler", "ddim", "--steps", "1",
                    "--out", str(tmp / "no-w.npz"))
    assert done.returncode != 0 and "give --guidance" in done.stderr


def test_every_method_that_draws_data_trains_on_sdxl_caption_latents(project, captions):
    """SDXL's conditions (two encoders' hidden states, the pooled embedding, the size ids; its null is zeros): the
    caption set encoded by SDXL's VAE, then a PD round, guided distillation's stage one and CD; SD's latents are refused
    for the SDXL teacher (another VAE)."""
    tmp, annotations = project
    teacher = str(tmp / "teacher-xl" / "model.safetensors")
    done = _distill(tmp, "encode-captions", "--teacher", teacher, "--images", str(annotations.parent), "--annotations",
                    str(annotations), "--out", str(tmp / "captions-xl"))
    assert done.returncode == 0, done.stderr[-3000:]
    run = ("--method", "text_to_image", "--experiment", "sdxl", "--teacher", teacher)
    wrong = _distill(tmp, "cd-train", *run, "--captions", str(captions), "--out", str(tmp / "xl-wrong"))
    assert wrong.returncode != 0 and "another VAE" in wrong.stderr
    for command, extra, out in (("pd-round", ("--student-steps", "2"), "xl-pd-n2"), ("guided-stage-one", (), "xl-w"),
                                ("cd-train", (), "xl-cd")):
        done = _distill(tmp, command, *run, *extra, "--captions", str(tmp / "captions-xl"), "--out", str(tmp / out))
        assert done.returncode == 0, (command, done.stderr[-3000:])
        assert load_weights(tmp / out / "model.safetensors")[1]["network"]["sdxl"]


def test_gpu_hours_measures_every_unit_on_the_imported_pipeline(project, monkeypatch):
    """`distill gpu-hours --measure` times the text_to_image jobs' units on the experiment's imported pipeline: each
    method's training step (the profile as the experiment sees it: its own sections, latents of the teacher's shape
    and a prompt's conditions), a sampler step of the pipeline's UNet and of a model file, and the VAE's encoding."""
    import shutil

    from distill.bench.work import Unit
    from distill.config import load_profile
    from distill.workflow.unit_times import measure

    tmp, _ = project
    for name, folder in (("sd15", "teacher"), ("sdxl", "teacher-xl")):
        shutil.copytree(tmp / folder, tmp / "results" / "smoke" / "teachers" / name, dirs_exist_ok=True)
    monkeypatch.chdir(tmp)  # the imported teachers are read under results/<profile>/teachers
    cfg = load_profile(tmp / "params.yaml", "smoke")
    cfg["sampling"]["batch_size"] = 2
    model = "results/smoke/teachers/sd15/model.safetensors"
    units = [Unit("train", ("text_to_image", "sd15"), step) for step in
             (("pd", "distillation"), ("guided", "stage_one"), ("guided", "round"), ("cd", "cd"))]
    units += [Unit("train", ("text_to_image", "sdxl"), ("pd", "distillation")),
              Unit("sampler_step", ("text_to_image", "sdxl")), Unit("sampler_step", model), Unit("vae_encode", model)]
    times = measure(cfg, units, "cpu", repeats=1)
    assert set(times) == {u.key for u in units} and all(t > 0 for t in times.values())
