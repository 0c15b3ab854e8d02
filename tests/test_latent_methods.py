"""The methods' own steps on tiny random text-to-image teachers, loaded as a cluster run loads the real ones
(tests/latent_models.py, `distill import-diffusers`): SFD trains on prompts on SD and SDXL and its student samples
with its own recorded sampler; DisBack's SD/SDXL core (the teacher's own levels, the generator at its conditioning
timestep, the real score's guidance, the epsilon-MSE fake score) records a path and trains a generator on SDXL and
SD, and the generator samples with `distill sample-text` what training drew."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import CLIPTokenizer
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from distill.config import load_profile
from distill.core.checkpoint import file_sha256, load_weights
from distill.core.denoiser import SigmaFormDenoiser
from distill.methods.disback import ScoreDistillation, denoising_loss, generate
from distill.nets import imported_denoiser
from distill.data.prompts import read_prompts
from distill.pipeline.import_diffusers import run as import_pipeline
from distill.pipeline.sample import load_samples, save_samples
from distill.steps import disback, sfd
from conftest import ROOT
from latent_models import clip_model, sd_pipeline, sdxl_pipeline

PROMPTS = "a red cube\ntwo cats on a mat\na tree by a lake\n"
SD_CORE = {"sigma_init": 80.0, "sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0, "grid_points": 1000,
           "min_step_percent": 0.02, "max_step_percent": 0.98, "sigma_data": 0.5, "fake_updates": 2,
           "grid": "teacher", "init_timestep": 399, "fake_weighting": "snr", "real_guidance": 7.0}


def _distill(cwd, *args):
    return subprocess.run([sys.executable, "-m", "distill", *args, "--params", str(ROOT / "params.yaml"), "--profile",
                           "smoke", "--no-progress"], cwd=cwd, capture_output=True, text=True)


def _encode(pipe, prompts):
    with torch.no_grad():
        return pipe.text_encoder(pipe.tokenizer(prompts, padding="max_length", return_tensors="pt",
                                                max_length=pipe.tokenizer.model_max_length).input_ids)[0]


@pytest.fixture(scope="module")
def sdxl_teacher(tmp_path_factory):
    """A tiny SDXL pipeline imported as a teacher, and a prompt file."""
    tmp = tmp_path_factory.mktemp("sdxl")
    sdxl_pipeline(tmp / "sdxl")
    import_pipeline("tiny-sdxl", tmp / "sdxl", tmp / "teacher", 64, lock=tmp / "artifacts.lock.json")
    (tmp / "prompts.csv").write_text("image_id,id,text\n1,1,a red cube\n2,2,\"two cats, on a mat\"\n3,3,a tree\n")
    return tmp


def test_a_prompt_csv_is_read_by_its_text_column(tmp_path):
    (tmp_path / "p.csv").write_text("image_id,id,text\n1,1,a red cube\n2,2,\"two cats, on a mat\"\n3,3,  \n")
    assert read_prompts(tmp_path / "p.csv") == ["a red cube", "two cats, on a mat"]
    (tmp_path / "q.csv").write_text("caption\na red cube\n")
    with pytest.raises(ValueError, match="'text' column"):
        read_prompts(tmp_path / "q.csv")


def test_the_generator_at_its_conditioning_timestep_is_dmd2s(tmp_path):
    """G(z) with the VP input at timestep 399 equals DMD2's SD generator: the UNet's eps-hat on the unit noise as the
    state at timestep 399, x0 = (z - sqrt(1 - a) eps-hat) / sqrt(a) (sd_unified_model.py, get_x0_from_noise)."""
    pipe = sd_pipeline(tmp_path / "sd")
    teacher = imported_denoiser({"kind": "diffusers", "folder": str(tmp_path / "sd")})
    core = ScoreDistillation.from_params(SD_CORE)
    levels = teacher.levels()
    assert len(levels) == 1000 and torch.all(levels[1:] > levels[:-1])
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    ehs = _encode(pipe, ["a cube", "a cat"])
    with torch.no_grad():
        ours = generate(SigmaFormDenoiser(teacher), z, core.initial_sigma(levels), {"text": ehs}, core.vp_input)
        a = pipe.scheduler.alphas_cumprod[399].double()
        eps = pipe.unet(z, torch.tensor([399, 399]), encoder_hidden_states=ehs).sample.double()
        dmd2 = (z.double() - (1 - a).sqrt() * eps) / a.sqrt()
    assert torch.allclose(ours.double(), dmd2, atol=1e-5), float((ours.double() - dmd2).abs().max())


def test_the_snr_weighted_fake_loss_is_the_epsilon_mse(tmp_path):
    """The fake score's `snr` weighting in the sigma form is sd_guidance.py's mean((eps-hat - eps)^2)."""
    pipe = sd_pipeline(tmp_path / "sd")
    teacher = imported_denoiser({"kind": "diffusers", "folder": str(tmp_path / "sd")})
    levels = teacher.levels()
    x = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(4))
    cond = {"text": _encode(pipe, ["a cube", "a cat", "a tree"])}
    d = SigmaFormDenoiser(teacher)
    with torch.no_grad():
        ours = denoising_loss(d, x, levels, 0.5, torch.Generator().manual_seed(9), cond, "snr")
    g = torch.Generator().manual_seed(9)  # the same draws: sigma indices, then eps
    sigma = levels[torch.randint(0, 1000, (3,), generator=g)]
    eps = torch.randn(x.shape, generator=g)
    s = sigma.to(x).reshape(-1, 1, 1, 1)
    with torch.no_grad():
        eps_hat = (x + s * eps - d(x + s * eps, sigma, cond)) / s  # the denoiser's own epsilon
    assert float(ours) == pytest.approx(float((eps_hat - eps).pow(2).mean()), rel=1e-4)


def test_disback_records_a_path_and_trains_a_generator_on_sdxl(sdxl_teacher):
    """Stage 1 and stage 2 on the tiny SDXL teacher with prompts, the real score guided (w 7: the SDXL scripts'
    real_guidance_scale 8); the generator records the onestep sampler with the VP input at timestep 399's sigma,
    and `distill sample-text` draws, decodes and records it."""
    tmp = sdxl_teacher
    smoke = load_profile(ROOT / "params.yaml", "smoke")
    exp = copy.deepcopy(smoke["disback"]["experiments"]["digits"])
    exp.update(core=SD_CORE, path={"nodes": 2, "interval": 1, "batch_size": 2, "seed": 0},
               stage_two={"iterations": 2, "interval": 1, "switch_rule": "paper", "batch_size": 2}, eval_every=1)
    teacher = tmp / "teacher" / "model.safetensors"
    path = disback.record_path(exp, teacher, tmp / "path", progress=False, prompts=tmp / "prompts.csv")
    nodes = disback.path_nodes(tmp / "path", 2, 1)
    summary = disback.train_generator(exp, "disback", 0, teacher, nodes, tmp / "gen", progress=False,
                                      prompts=tmp / "prompts.csv")
    assert path["status"] == summary["status"] == "completed"
    with pytest.raises(ValueError, match="give --prompts"):
        disback.record_path(exp, teacher, tmp / "path2", progress=False)

    sampling = load_weights(tmp / "gen" / "model.safetensors")[1]["sampling"]
    levels = imported_denoiser({"kind": "diffusers", "folder": str(tmp / "sdxl")}).levels()
    assert sampling["sampler"] == "onestep" and sampling["options"] == {"input": "vp"}
    assert sampling["grid_options"]["sigma_max"] == pytest.approx(float(levels[399]))
    done = _distill(tmp, "sample-text", "--model", str(tmp / "gen" / "model.safetensors"), "--prompts",
                    str(tmp / "prompts.csv"), "--num-samples", "2", "--out", str(tmp / "gen.npz"))
    assert done.returncode == 0, done.stderr
    images, status, meta = load_samples(tmp / "gen.npz")
    assert status == "ok" and images.shape == (2, 3, 64, 64) and meta["nfe"] == 1 and meta["input"] == "vp"


def test_disback_records_a_path_and_trains_a_generator_on_sd(tmp_path):
    """DisBack's stage 1 and stage 2 on the tiny SD teacher too (one CLIP encoder, no pooled embedding or size ids)."""
    sd_pipeline(tmp_path / "sd")
    import_pipeline("tiny-sd", tmp_path / "sd", tmp_path / "teacher", 64, lock=tmp_path / "artifacts.lock.json")
    (tmp_path / "prompts.txt").write_text(PROMPTS)
    exp = copy.deepcopy(load_profile(ROOT / "params.yaml", "smoke")["disback"]["experiments"]["digits"])
    exp.update(core=SD_CORE, path={"nodes": 2, "interval": 1, "batch_size": 2, "seed": 0},
               stage_two={"iterations": 2, "interval": 1, "switch_rule": "paper", "batch_size": 2}, eval_every=1)
    teacher = tmp_path / "teacher" / "model.safetensors"
    path = disback.record_path(exp, teacher, tmp_path / "path", progress=False, prompts=tmp_path / "prompts.txt")
    summary = disback.train_generator(exp, "disback", 0, teacher, disback.path_nodes(tmp_path / "path", 2, 1),
                                      tmp_path / "gen", progress=False, prompts=tmp_path / "prompts.txt")
    assert path["status"] == summary["status"] == "completed"
    assert not load_weights(tmp_path / "gen" / "model.safetensors")[1]["network"]["sdxl"]


@pytest.mark.parametrize("pipeline", [sd_pipeline, sdxl_pipeline], ids=["sd", "sdxl"])
def test_sfd_trains_on_prompts_and_its_student_samples_with_its_own_solver(tmp_path, pipeline):
    """`sfd.train_student` on the tiny SD and SDXL teachers with a prompt file (sfd-main: conditional trajectories),
    then `distill sample-text` of the student with no sampler named: its recorded Euler with AFS on its own grid."""
    pipeline(tmp_path / "sd")
    import_pipeline("tiny-sd", tmp_path / "sd", tmp_path / "teacher", 64, lock=tmp_path / "artifacts.lock.json")
    (tmp_path / "prompts.txt").write_text(PROMPTS)
    cfg = load_profile(ROOT / "params.yaml", "smoke")
    run = next(iter(cfg["sfd"]["runs"]))
    cfg["sfd"]["grid"] = {"rho": 7.0, "sigma_min": 0.0292, "sigma_max": 14.6146}  # SD's range (sfd-main: 0.1)
    cfg["sfd"]["train"] = {**cfg["sfd"]["train"], "trajectories": 4, "batch_size": 2}
    teacher = tmp_path / "teacher" / "model.safetensors"
    summary = sfd.train_student(cfg, run, teacher, tmp_path / "student", progress=False,
                                prompts=tmp_path / "prompts.txt")
    assert summary["status"] == "completed" and summary["trajectories"] == 4
    with pytest.raises(ValueError, match="give --prompts"):
        sfd.train_student(cfg, run, teacher, tmp_path / "student2", progress=False)
    done = _distill(tmp_path, "sample-text", "--model", str(tmp_path / "student" / "model.safetensors"), "--prompts",
                    str(tmp_path / "prompts.txt"), "--num-samples", "2", "--guidance", "1.5",
                    "--out", str(tmp_path / "s.npz"))
    assert done.returncode == 0, done.stderr
    images, status, meta = load_samples(tmp_path / "s.npz")
    assert status == "ok" and images.shape == (2, 3, 64, 64) and images.dtype == np.uint8
    assert meta["sampler"] == "euler" and bool(meta["afs"]) and meta["guidance_scale"] == 2.5


def test_sfd_v_on_a_text_to_image_teacher_gains_a_zero_timestep_cond_and_samples_each_step_count(tmp_path):
    """SFD-v on the tiny SD teacher (whose UNet has no time_cond_proj_dim): the student's UNet gains LCM's
    timestep_cond projection, zero-initialised, so it starts as the teacher at any step condition; it trains on
    prompts, and `distill sample-text --steps N` samples it with N as its condition."""
    from distill.plugins.sfd import run_settings

    sd_pipeline(tmp_path / "sd")
    import_pipeline("tiny-sd", tmp_path / "sd", tmp_path / "teacher", 64, lock=tmp_path / "artifacts.lock.json")
    (tmp_path / "prompts.txt").write_text(PROMPTS)
    cfg = load_profile(ROOT / "params.yaml", "smoke")
    cfg["sfd"]["grid"] = {"rho": 7.0, "sigma_min": 0.1, "sigma_max": 14.6146}
    cfg["sfd"]["train"] = {**cfg["sfd"]["train"], "trajectories": 2, "batch_size": 2}
    cfg["sfd"]["runs"] = {"v": {"kind": "sfd-v", "num_steps": [4, 5]}}
    teacher_path = tmp_path / "teacher" / "model.safetensors"
    student, model_cfg, teacher, _ = sfd.build_student(cfg, run_settings(cfg, "v"), teacher_path)
    assert model_cfg["network"]["scalar_conditions"] == ["steps"]
    assert student.net.config.time_cond_proj_dim == 256 and not student.net.time_embedding.cond_proj.weight.any()
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    text = torch.randn(2, 16, 16, generator=torch.Generator().manual_seed(1))
    sigma = torch.tensor([2.0, 0.5])
    with torch.no_grad():
        want = SigmaFormDenoiser(teacher)(z, sigma, {"text": text})
        got = SigmaFormDenoiser(student)(z, sigma, {"text": text, "steps": torch.tensor([4.0, 7.0])})
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    summary = sfd.train_student(cfg, "v", teacher_path, tmp_path / "v", progress=False,
                                prompts=tmp_path / "prompts.txt")
    assert summary["status"] == "completed"
    done = _distill(tmp_path, "sample-text", "--model", str(tmp_path / "v" / "model.safetensors"), "--prompts",
                    str(tmp_path / "prompts.txt"), "--num-samples", "2", "--steps", "5", "--guidance", "1.5",
                    "--out", str(tmp_path / "v.npz"))
    assert done.returncode == 0, done.stderr
    images, status, meta = load_samples(tmp_path / "v.npz")
    assert status == "ok" and meta["steps"] == 5 and meta["cond_steps"] == 5


def test_the_clip_score_pairs_each_image_with_its_prompt(tmp_path):
    """`distill clip-score` on sample-text's samples: the mean of 100 cos(image, prompt) over the images, equal to
    the model's own logits (logit_scale e^s cos) rescaled; the wrong prompt file is refused."""

    model = clip_model(tmp_path / "clip")
    (tmp_path / "prompts.txt").write_text(PROMPTS)
    images = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)

    save_samples(tmp_path / "s.npz", images, "ok", {"prompt_index": np.array([0, 1, 2, 0]),
                                                    "prompts_sha256": file_sha256(tmp_path / "prompts.txt")})
    done = _distill(tmp_path, "clip-score", "--samples", str(tmp_path / "s.npz"), "--prompts",
                    str(tmp_path / "prompts.txt"), "--clip", str(tmp_path / "clip"), "--out", str(tmp_path / "c.json"))
    assert done.returncode == 0, done.stderr

    record = json.loads((tmp_path / "c.json").read_text())
    prompts = read_prompts(tmp_path / "prompts.txt")
    tok = CLIPTokenizer.from_pretrained(tmp_path / "clip")
    proc = CLIPImageProcessorPil.from_pretrained(tmp_path / "clip")
    with torch.no_grad():
        out = model(**tok([prompts[i] for i in (0, 1, 2, 0)], padding="max_length", truncation=True,
                          max_length=tok.model_max_length, return_tensors="pt"),
                    pixel_values=proc([Image.fromarray(x.transpose(1, 2, 0)) for x in images],
                                      return_tensors="pt")["pixel_values"])
    cos = out.logits_per_image.diagonal() / model.logit_scale.exp()
    assert record["num_samples"] == 4 and record["clip_score"] == pytest.approx(float(100 * cos.mean()), rel=1e-5)
    (tmp_path / "other.txt").write_text("something else\n")
    again = _distill(tmp_path, "clip-score", "--samples", str(tmp_path / "s.npz"), "--prompts",
                     str(tmp_path / "other.txt"), "--clip", str(tmp_path / "clip"), "--out", str(tmp_path / "d.json"))
    assert again.returncode != 0 and "not the prompt file" in again.stderr and not (tmp_path / "d.json").exists()
