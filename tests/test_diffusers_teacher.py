"""A diffusers text-to-image teacher through the suite's denoiser interface, checked against diffusers itself on tiny
random SD and SDXL pipelines saved in diffusers' layout and loaded by the suite's own loader (as a cluster run loads
the real ones): its DDIM path, its classifier-free guidance and its SDXL conditioning."""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

from distill.core.grids import from_sigmas
from distill.core.guidance import PromptGuided
from distill.core.samplers import sample_ddim
from distill.core.sigma_solvers import sigma_denoiser
from distill.methods.cd import cd_loss, consistency_function, karras_sigmas
from distill.methods.sfd import student_sigmas, student_steps, teacher_targets
from distill.nets import IMPORTED_NETWORKS, imported_denoiser
from distill.nets.diffusers_text import PromptEncoder
from distill.nets.diffusers_unet import unet_inputs
from distill.nets.diffusers_vae import decode, encode, load_vae
from distill.pipeline.sample import load_samples
from conftest import ROOT
from latent_models import sd_pipeline, sdxl_pipeline

PROMPTS = ["a red cube", "two cats on a mat"]


def _sigmas(scheduler: DDIMScheduler, steps: int) -> torch.Tensor:
    """The noise levels of the scheduler's DDIM timesteps, sigma_n = sqrt((1 - alpha-bar_n) / alpha-bar_n)."""
    scheduler.set_timesteps(steps)
    alpha_bar = scheduler.alphas_cumprod[scheduler.timesteps].double()
    return ((1 - alpha_bar) / alpha_bar).sqrt()


def _diffusers_ddim(pipe, z: torch.Tensor, steps: int, ehs: torch.Tensor, **unet_kwargs) -> torch.Tensor:
    """diffusers' own DDIM loop: eps-hat (or v-hat) of the UNet, `scheduler.step`; with set_alpha_to_one the last step
    returns the predicted clean latents."""
    scheduler = pipe.scheduler
    scheduler.set_timesteps(steps)
    x = z * scheduler.init_noise_sigma
    with torch.no_grad():
        for t in scheduler.timesteps:
            out = pipe.unet(x, t, encoder_hidden_states=ehs, **unet_kwargs).sample
            x = scheduler.step(out, t, x).prev_sample
    return x


def _teacher(folder):
    return imported_denoiser({"kind": "diffusers", "folder": str(folder)})


def _encoder(pipe, size=None) -> PromptEncoder:
    if size is None:
        return PromptEncoder([pipe.tokenizer], [pipe.text_encoder])
    return PromptEncoder([pipe.tokenizer, pipe.tokenizer_2], [pipe.text_encoder, pipe.text_encoder_2], size,
                         zeros_for_empty_prompt=pipe.config.force_zeros_for_empty_prompt)


def test_diffusers_is_an_imported_network_kind():
    assert "diffusers" in IMPORTED_NETWORKS
    with pytest.raises(FileNotFoundError, match="no unet/ folder"):
        imported_denoiser({"kind": "diffusers", "folder": "/nonexistent"})


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_the_adapter_reproduces_diffusers_ddim(tmp_path, prediction):
    """The suite's DDIM sampler on the adapter, at the noise levels of the scheduler's timesteps, lands where diffusers'
    DDIM loop does (the adapter's timestep of sigma_n is exactly n; x-hat from eps-hat or v-hat)."""
    pipe = sd_pipeline(tmp_path / "sd", prediction)
    teacher = _teacher(tmp_path / "sd")
    assert teacher.prediction_type == prediction
    alpha_bar = pipe.scheduler.alphas_cumprod.double()
    levels = ((1 - alpha_bar) / alpha_bar).sqrt()
    assert torch.allclose(teacher.timestep(levels[[0, 261, 999]]), torch.tensor([0.0, 261.0, 999.0],
                                                                                 dtype=torch.float64), atol=1e-6)
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    cond = _encoder(pipe)(PROMPTS)
    want = _diffusers_ddim(pipe, z, 4, cond["text"])
    with torch.no_grad():
        got = sample_ddim(teacher, z, from_sigmas(_sigmas(pipe.scheduler, 4)), cond, clip_x=False)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_prompt_guidance_equals_the_pipelines_classifier_free_guidance(tmp_path):
    """w of the suite is diffusers' guidance_scale - 1: the guided teacher's DDIM samples are the pipeline's latents,
    its unconditional branch the empty prompt, its prompts encoded as the pipeline encodes them."""
    pipe = sd_pipeline(tmp_path / "sd")
    teacher, encoder, w = _teacher(tmp_path / "sd"), _encoder(pipe), 2.5
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    want = pipe(PROMPTS, num_inference_steps=4, guidance_scale=1 + w, latents=z.clone(), output_type="latent").images
    with torch.no_grad():
        got = sample_ddim(PromptGuided(teacher, w, encoder.null(1)), z, from_sigmas(_sigmas(pipe.scheduler, 4)),
                          encoder(PROMPTS), clip_x=False)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="prompt guidance needs"):
        PromptGuided(teacher, w, encoder.null(1))(z, torch.ones(2), None)


def test_sdxl_conditioning_equals_encode_prompt(tmp_path):
    """SDXL's conditions, the empty prompt's zeros and its size ids are `StableDiffusionXLPipeline`'s, and the guided
    adapter's DDIM samples are the pipeline's latents."""
    pipe = sdxl_pipeline(tmp_path / "xl")
    size = (64, 64)
    encoder = _encoder(pipe, size)
    embeds, negative, pooled, negative_pooled = pipe.encode_prompt(PROMPTS, device="cpu", num_images_per_prompt=1,
                                                                   do_classifier_free_guidance=True)
    cond, null = encoder(PROMPTS), encoder.null(2)
    torch.testing.assert_close(cond["text"], embeds)
    torch.testing.assert_close(cond["text_embeds"], pooled)
    torch.testing.assert_close(null["text"], negative)
    torch.testing.assert_close(null["text_embeds"], negative_pooled)
    ids = pipe._get_add_time_ids(size, (0, 0), size, dtype=embeds.dtype,
                                 text_encoder_projection_dim=pipe.text_encoder_2.config.projection_dim)
    torch.testing.assert_close(cond["time_ids"], ids.expand(2, 6))

    teacher, w = _teacher(tmp_path / "xl"), 1.5
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    want = pipe(PROMPTS, num_inference_steps=3, guidance_scale=1 + w, latents=z.clone(), output_type="latent",
                height=size[0], width=size[1]).images
    with torch.no_grad():
        got = sample_ddim(PromptGuided(teacher, w, encoder.null(1)), z, from_sigmas(_sigmas(pipe.scheduler, 3)),
                          cond, clip_x=False)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_every_solver_runs_on_the_latent_teacher(tmp_path):
    """The sigma-form view of the adapter (what SFD, DisBack and CD use) is the same denoiser at sigma."""
    sd_pipeline(tmp_path / "sd")
    teacher = _teacher(tmp_path / "sd")
    cond = {"text": torch.randn(2, 16, 16)}
    z = torch.randn(2, 4, 8, 8)
    lo, hi = teacher.sigma_range()
    assert 0.02 < lo < 0.03 and 14 < hi < 15  # Stable Diffusion's range (SFD: 0.0292 and 14.6146)
    d = sigma_denoiser(teacher, teacher.schedule, cond, "none")
    with torch.no_grad():
        x = d(z * hi, torch.tensor(hi, dtype=torch.float64))
    assert x.shape == z.shape and bool(torch.isfinite(x).all())


def test_latents_decode_as_the_pipeline_decodes_them(tmp_path):
    """The suite's decode of the pipeline's latents is the pipeline's own image (its [0, 1] is the suite's [-1, 1])."""
    pipe = sd_pipeline(tmp_path / "sd")
    vae = load_vae(tmp_path / "sd")
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(4))
    args = dict(num_inference_steps=2, guidance_scale=1.0, latents=z.clone())
    latents = pipe(PROMPTS, output_type="latent", **args).images
    images = pipe(PROMPTS, output_type="pt", **args).images
    torch.testing.assert_close(decode(vae, latents, batch_size=1) / 2 + 0.5, images, rtol=1e-5, atol=1e-5)
    assert encode(vae, decode(vae, latents)).shape == latents.shape


def _distill(cwd, *args):
    return subprocess.run([sys.executable, "-m", "distill", *args, "--params", str(ROOT / "params.yaml"), "--profile",
                           "smoke", "--no-progress"], cwd=cwd, capture_output=True, text=True)


def test_a_pipeline_folder_is_imported_sampled_from_prompts_and_refused_once_changed(tmp_path):
    """import-diffusers records the folder's files at its first import; sample-text draws guided latents from a
    prompt file (seed i, prompt i mod P) and decodes them; a changed file in the folder is refused afterwards."""
    sd_pipeline(tmp_path / "sd")
    done = _distill(tmp_path, "import-diffusers", "--name", "tiny-sd", "--folder", str(tmp_path / "sd"),
                    "--resolution", "64", "--out", str(tmp_path / "teacher"))
    assert done.returncode == 0, done.stderr
    assert "recorded at first fetch" in done.stdout and "tiny-sd" in (tmp_path / "artifacts.lock.json").read_text()
    (tmp_path / "prompts.txt").write_text("a red cube\n\ntwo cats\na tree\n")
    done = _distill(tmp_path, "sample-text", "--model", str(tmp_path / "teacher" / "model.safetensors"), "--prompts",
                    str(tmp_path / "prompts.txt"), "--sampler", "heun", "--steps", "3", "--num-samples", "4",
                    "--grid-option", "sigma_min=0.0292", "--grid-option", "sigma_max=14.6146", "--guidance", "2",
                    "--out", str(tmp_path / "samples.npz"))
    assert done.returncode == 0, done.stderr
    images, status, meta = load_samples(tmp_path / "samples.npz")
    assert status == "ok" and images.shape == (4, 3, 64, 64) and images.dtype == np.uint8
    assert meta["prompt_index"].tolist() == [0, 1, 2, 0] and meta["nfe"] == 2 * 4 and meta["guidance_scale"] == 3.0
    with open(tmp_path / "sd" / "model_index.json", "a") as f:
        f.write(" ")
    again = _distill(tmp_path, "import-diffusers", "--name", "tiny-sd", "--folder", str(tmp_path / "sd"),
                     "--resolution", "64", "--out", str(tmp_path / "teacher2"))
    assert again.returncode != 0 and "model_index.json: recorded" in again.stderr
    assert not (tmp_path / "teacher2" / "model.safetensors").exists()


def _student(teacher):
    """A trainable copy of the latent teacher (as SFD and CD start their students)."""
    student = copy.deepcopy(teacher)
    student.net.requires_grad_(True)
    return student


def test_sfd_trains_on_the_latent_teacher_unchanged(tmp_path):
    """SFD's teacher trajectories and student steps (distill/methods/sfd.py) run on the adapter with prompt
    conditions as on a pixel teacher (conditional trajectories, as sfd-main trains): on one batch the student's
    trajectory loss falls."""
    pipe = sd_pipeline(tmp_path / "sd")
    teacher = _teacher(tmp_path / "sd")
    student = _student(teacher)
    cond = _encoder(pipe)(PROMPTS)
    grid = {"sigma_min": 0.0292, "sigma_max": 14.6146, "rho": 7.0}  # SFD's sampling range on SD's schedule
    sigmas = student_sigmas(4, grid)
    x0 = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(5)) * float(sigmas[0])
    with torch.no_grad():
        targets = teacher_targets(teacher, x0, 4, 1, grid, "heun", {}, cond=cond)
    opt = torch.optim.Adam(student.net.parameters(), lr=1e-2)

    def update(loss):
        opt.zero_grad()
        loss.backward()
        opt.step()

    first = sum(student_steps(student, x0, targets, sigmas, True, update, cond=cond))
    for _ in range(8):
        last = sum(student_steps(student, x0, targets, sigmas, True, update, cond=cond))
    assert torch.isfinite(first) and float(last) < 0.9 * float(first)


def test_cd_loss_runs_on_the_latent_teacher_unchanged(tmp_path):
    """The CD loss (distill/methods/cd.py) on latents with prompt conditions: finite, and a gradient for the UNet."""
    pipe = sd_pipeline(tmp_path / "sd")
    teacher = _teacher(tmp_path / "sd")
    student, target = _student(teacher), copy.deepcopy(teacher)
    cond = _encoder(pipe)(PROMPTS)
    sigmas = karras_sigmas(18, 0.0292, 14.6146, 7.0)

    def f(model):
        return consistency_function(sigma_denoiser(model, model.schedule, cond, "none"), float(sigmas[-1]))

    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(6))
    loss = cd_loss(f(student), f(target), sigma_denoiser(teacher, teacher.schedule, cond, "none"), latents, sigmas,
                   torch.Generator().manual_seed(7))
    loss.backward()
    grads = [p.grad for p in student.net.parameters() if p.grad is not None]
    assert torch.isfinite(loss) and grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_a_scalar_condition_enters_through_time_cond_proj_dim(tmp_path):
    """A w-conditioned (or step-conditioned) latent student: w is embedded as diffusers' LCM pipelines embed it and
    given to the UNet as timestep_cond; a UNet without time_cond_proj_dim refuses it."""
    from diffusers import LatentConsistencyModelPipeline, UNet2DConditionModel

    from distill.nets.diffusers_unet import DiffusersDenoiser, scalar_embedding

    w = torch.tensor([0.0, 2.5, 7.0])
    torch.testing.assert_close(scalar_embedding(w, 8),
                               LatentConsistencyModelPipeline.get_guidance_scale_embedding(None, w, embedding_dim=8))
    pipe = sd_pipeline(tmp_path / "sd")
    torch.manual_seed(1)
    unet = UNet2DConditionModel(**{**pipe.unet.config, "time_cond_proj_dim": 8}).eval()
    student = DiffusersDenoiser(unet, pipe.scheduler.alphas_cumprod, "epsilon")
    z, t, text = torch.randn(3, 4, 8, 8), torch.full((3,), 0.6), torch.randn(3, 16, 16)
    with torch.no_grad():
        apart = student(z, t, {"text": text, "w": w}) - student(z, t, {"text": text, "w": torch.zeros(3)})
        direct = unet(z, student.timestep(torch.exp(-0.5 * student.schedule.logsnr(t))).float(),
                      encoder_hidden_states=text, timestep_cond=scalar_embedding(w, 8)).sample
        mine = student.net(z, student.timestep(torch.exp(-0.5 * student.schedule.logsnr(t))).float(),
                           **unet_inputs({"text": text, "w": w}, 8)).sample
    assert float(apart[1:].abs().max()) > 0 and float(apart[0].abs().max()) == 0
    torch.testing.assert_close(mine, direct)
    scaled = DiffusersDenoiser(unet, pipe.scheduler.alphas_cumprod, "epsilon", condition_scales={"w": 1.0})
    with torch.no_grad():  # the network section's condition_scales (guided's w_embedding_scale) reach the embedding
        assert torch.equal(unet_inputs({"text": text, "w": w}, 8, {"w": 1.0})["timestep_cond"],
                           scalar_embedding(w, 8, 1.0))
        assert not torch.allclose(scaled(z, t, {"text": text, "w": w}), student(z, t, {"text": text, "w": w}))
    with pytest.raises(ValueError, match="no time_cond_proj_dim"):
        _teacher(tmp_path / "sd")(z, t, {"text": text, "w": w})


def test_guided_stage_one_trains_a_w_conditioned_latent_student(tmp_path):
    """Guided distillation's stage one (distill/methods/guided.py) on the latent teacher: the target is the
    prompt-guided teacher at a w per sample, the student a UNet with time_cond_proj_dim taking w; on one batch of
    latents the loss falls."""
    from diffusers import UNet2DConditionModel

    from distill.methods.guided import prompt_guide, stage_one_loss
    from distill.nets.diffusers_unet import DiffusersDenoiser

    pipe = sd_pipeline(tmp_path / "sd")
    teacher, encoder = _teacher(tmp_path / "sd"), _encoder(pipe)
    torch.manual_seed(2)
    unet = UNet2DConditionModel(**{**pipe.unet.config, "time_cond_proj_dim": 8})  # freshly initialised
    student = DiffusersDenoiser(unet, pipe.scheduler.alphas_cumprod, "epsilon")
    latents, cond = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(8)), encoder(PROMPTS)
    opt = torch.optim.Adam(student.net.parameters(), lr=1e-3)
    losses = []
    for _ in range(10):
        loss = stage_one_loss(student, teacher, latents, cond, (0.0, 4.0), "snr_trunc", prompt_guide(encoder.null(1)),
                              torch.Generator().manual_seed(9))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert all(map(math.isfinite, losses)) and losses[-1] < 0.9 * losses[0], losses


def test_sample_text_refuses_bad_settings_before_loading_anything(tmp_path):
    """A bad grid option or a negative guidance weight stops sample-text before any model is read."""
    from distill.config import load_profile
    from distill.pipeline import sample_text

    cfg = load_profile(ROOT / "params.yaml", "smoke")
    (tmp_path / "prompts.txt").write_text("a cube\n")
    model = tmp_path / "absent" / "model.safetensors"
    (tmp_path / "absent").mkdir()
    from distill.core.checkpoint import save_weights
    save_weights(model, {"w": torch.zeros(1)}, {"network": {"kind": "diffusers", "folder": str(tmp_path / "none")},
                                                 "data": {"shape": [4, 8, 8], "resolution": 8}})
    with pytest.raises(ValueError, match="takes no option rho"):
        sample_text.run(cfg, model, tmp_path / "prompts.txt", "ddim", tmp_path / "s.npz", 2, 1, grid="uniform",
                        grid_options={"rho": 7.0})
    with pytest.raises(ValueError, match="guidance weight w must be a finite number >= 0"):
        sample_text.run(cfg, model, tmp_path / "prompts.txt", "ddim", tmp_path / "s.npz", 2, 1, guidance=-1.0)
