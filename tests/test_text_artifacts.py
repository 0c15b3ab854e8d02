"""The text-to-image evaluation's artifacts and FID, offline: a Hugging Face model fetched at the commit its first
fetch recorded (the hub replaced by functions that write files, as huggingface_hub's snapshot_download does), and the
FID of decoded images against mean/covariance statistics (the Inception replaced by pooled pixels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from distill.data.artifacts import ARTIFACTS, hub_need, needs
from distill.data.fetching import fetch
from distill.data.download import DownloadError
from distill.data.hub import HubModel, hub_fetch
from distill.metrics.reference import fid_statistics
from distill.config import load_profile
from distill.core.checkpoint import file_sha256
from distill.metrics.text_fid import clean_resize, fid_against, inception_features
from distill.pipeline import text_scores
from distill.pipeline.sample import save_samples

MODEL = HubModel("owner/model", ("model_index.json", "unet/*"), requires=("model_index.json", "unet/w.safetensors"))
FILES = {"model_index.json": b"{}", "unet/w.safetensors": b"weights", "unet/config.json": b"{}"}


class FakeHub:
    """snapshot_download and model_info: files by commit, a log of the calls."""

    def __init__(self, commits):
        self.commits, self.calls = commits, []

    def resolve(self, repo, branch):
        self.calls.append(("resolve", branch))
        return "c0ffee"

    def download(self, repo, revision, local_dir, allow_patterns):
        self.calls.append(("download", revision))
        for name, data in self.commits[revision].items():
            (Path(local_dir) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(local_dir) / name).write_bytes(data)
        (Path(local_dir) / ".cache" / "huggingface").mkdir(parents=True, exist_ok=True)
        (Path(local_dir) / ".cache" / "huggingface" / "meta").write_text(revision)  # snapshot_download's record
        return local_dir


def test_a_hub_model_is_pinned_to_the_commit_of_its_first_fetch(tmp_path):
    hub, lock, folder = FakeHub({"c0ffee": FILES}), tmp_path / "lock.json", tmp_path / "hf" / "m"
    done = hub_fetch("m", MODEL, folder, lock, hub.download, hub.resolve)
    assert "commit c0ffee" in done and hub.calls == [("resolve", "main"), ("download", "c0ffee")]
    record = json.loads(lock.read_text())["m"]
    assert record["revision"] == "c0ffee" and sorted(record["files"]) == sorted(FILES)  # no .cache bookkeeping

    hub.calls.clear()  # in place: verified, nothing downloaded
    assert "verified" in hub_fetch("m", MODEL, folder, lock, hub.download, hub.resolve) and hub.calls == []

    (folder / "unet" / "w.safetensors").unlink()  # a lost file: downloaded again at the recorded commit, not main's
    hub_fetch("m", MODEL, folder, lock, hub.download, hub.resolve)
    assert hub.calls == [("download", "c0ffee")]
    hub.calls.clear()
    (folder / "unet" / "config.json").unlink()  # one the loaders need not name, but the record has: the same
    hub_fetch("m", MODEL, folder, lock, hub.download, hub.resolve)
    assert hub.calls == [("download", "c0ffee")]

    (folder / "unet" / "config.json").write_text('{"changed": 1}')
    with pytest.raises(DownloadError, match="unet/config.json: recorded"):
        hub_fetch("m", MODEL, folder, lock, hub.download, hub.resolve)


def test_a_hub_model_placed_by_hand_is_recorded_without_a_download(tmp_path):
    hub, lock, folder = FakeHub({}), tmp_path / "lock.json", tmp_path / "m"
    for name, data in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    assert "placed by hand" in hub_fetch("m", MODEL, folder, lock, hub.download, hub.resolve)
    assert hub.calls == [] and "revision" not in json.loads(lock.read_text())["m"]


def test_a_hub_repository_without_the_files_the_suite_reads_is_refused(tmp_path):
    hub = FakeHub({"c0ffee": {"model_index.json": b"{}", "unet/w.bin": b"pickle"}})
    with pytest.raises(DownloadError, match=r"has no \['unet/w.safetensors'\]"):
        hub_fetch("m", MODEL, tmp_path / "m", tmp_path / "lock.json", hub.download, hub.resolve)
    assert not (tmp_path / "lock.json").exists()


def test_the_paper_profile_reads_the_text_to_image_artifacts():
    from distill.config import load_profile

    found = {n.artifact.name: n for n in needs(load_profile("params.yaml", "paper"))}
    assert {"sd15", "sdxl", "clip_vit_g14", "coco_captions", "coco_fid_stats"} <= set(found)
    assert found["sd15"].target == hub_need("sd15").target and ARTIFACTS["sd15"].hub is not None
    assert all(ARTIFACTS[n].sha256 is None for n in ("coco_captions", "coco_fid_stats"))  # no published digest


def test_a_hub_artifact_goes_through_fetch(tmp_path, monkeypatch):
    import distill.data.hub_client as client

    hub = FakeHub({"c0ffee": {"model_index.json": b"{}", "unet/diffusion_pytorch_model.safetensors": b"w"}})
    monkeypatch.setattr(client, "download", hub.download)
    monkeypatch.setattr(client, "resolve", hub.resolve)
    need = hub_need("sd15")
    need = type(need)(need.artifact, tmp_path / "sd15", tmp_path / "sd15" / "model_index.json")
    assert "commit c0ffee" in fetch(need, lock=tmp_path / "lock.json")
    assert hub.calls[1] == ("download", "c0ffee")


def pooled_features(images, extractor, batch_size):
    """A cheap stand-in for the Inception's features (its plumbing is tests/test_metrics.py's): 4 x 4 mean pools."""
    x = torch.nn.functional.adaptive_avg_pool2d(images.double(), 4)
    return {"fid": x.reshape(len(images), -1)}


@pytest.fixture
def pooled(monkeypatch):
    import distill.metrics.text_fid as module

    monkeypatch.setattr(module, "load_extractor", lambda name, weights: None)
    monkeypatch.setattr(module, "extract_features", pooled_features)


def test_the_clean_resize_is_text2image_benchmarks():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 3, 40, 64), dtype=np.uint8)
    out = clean_resize(images)
    square = Image.fromarray(np.moveaxis(images[1], 0, -1)[:, 12:52])  # the centre 40 x 40
    assert out.shape == (2, 3, 299, 299)
    assert np.array_equal(np.moveaxis(out[1], 0, -1), np.asarray(square.resize((299, 299), Image.BICUBIC)))


def test_fid_against_statistics_of_the_same_images_is_zero(tmp_path, pooled):
    images = np.random.default_rng(1).integers(0, 256, (32, 3, 24, 32), dtype=np.uint8)
    feats = inception_features(images, tmp_path / "w.pth", 16)
    mu, sigma = fid_statistics(torch.from_numpy(feats))
    np.savez(tmp_path / "stats.npz", mu=mu, sigma=sigma)
    assert abs(fid_against(feats, tmp_path / "stats.npz")) < 1e-3  # 32 images, 48 features: a singular covariance
    assert fid_against(inception_features(images // 2, tmp_path / "w.pth", 16), tmp_path / "stats.npz") > 100
    np.savez(tmp_path / "small.npz", mu=mu[:8], sigma=sigma[:8, :8])
    with pytest.raises(ValueError, match="8-dimensional statistics"):
        fid_against(feats, tmp_path / "small.npz")
    np.savez(tmp_path / "nan.npz", mu=mu * np.nan, sigma=sigma)
    with pytest.raises(ValueError, match="non-finite"):
        fid_against(feats, tmp_path / "nan.npz")
    with pytest.raises(ValueError, match="at least 2 images"):
        fid_against(feats[:1], tmp_path / "stats.npz")


def test_a_point_sampled_in_parts_is_scored_as_one(tmp_path, pooled):
    """`text-features` on two parts (seed ranges) of a point, `text-point` joins them: the FID and CLIP score of the
    whole; a missing part, a part given twice or a part of another sampling is refused."""
    from latent_models import clip_model

    clip_model(tmp_path / "clip")
    (tmp_path / "prompts.txt").write_text("a red cube\ntwo cats\n")
    (tmp_path / "w.pth").write_bytes(b"inception")
    images = np.random.default_rng(3).integers(0, 256, (12, 3, 32, 32), dtype=np.uint8)
    cfg = load_profile("params.yaml", "smoke")
    meta = {"prompts_sha256": file_sha256(tmp_path / "prompts.txt"), "model": "m", "sampler": "euler", "nfe": 4}
    for first, n in ((0, 8), (8, 4)):
        save_samples(tmp_path / f"s{first}.npz", images[first:first + n], "ok",
                     {**meta, "first_seed": first, "prompt_index": np.arange(first, first + n) % 2})
        text_scores.features_run(cfg, tmp_path / f"s{first}.npz", tmp_path / "prompts.txt", tmp_path / "clip",
                                 tmp_path / "w.pth", tmp_path / f"f{first}.npz", progress=False)
    whole = inception_features(images, tmp_path / "w.pth", 16)
    np.savez(tmp_path / "stats.npz", mu=whole.mean(0) + 1.0, sigma=np.cov(whole, rowvar=False))
    record = text_scores.point_run([tmp_path / "f8.npz", tmp_path / "f0.npz"], tmp_path / "stats.npz",
                                   tmp_path / "point.json")
    assert record["num_samples"] == 12 and record["sampler"] == "euler" and record["nfe"] == 4
    assert record["fid"] == pytest.approx(fid_against(whole, tmp_path / "stats.npz"), rel=1e-9)
    clip_all = text_scores.run(cfg, tmp_path / "s0.npz", tmp_path / "prompts.txt", tmp_path / "clip",
                               tmp_path / "c0.json", progress=False)
    parts = [np.load(tmp_path / f"f{f}.npz")["clip_scores"] for f in (0, 8)]
    assert parts[0].mean() == pytest.approx(clip_all["clip_score"], rel=1e-6)
    assert record["clip_score"] == pytest.approx(float(np.concatenate(parts).mean()), rel=1e-9)

    with pytest.raises(ValueError, match="starts at seed 8, expected 0"):
        text_scores.point_run([tmp_path / "f8.npz"], tmp_path / "stats.npz", tmp_path / "p.json")
    with pytest.raises(ValueError, match="starts at seed 0, expected 8"):
        text_scores.point_run([tmp_path / "f0.npz", tmp_path / "f0.npz"], tmp_path / "stats.npz", tmp_path / "p.json")
    save_samples(tmp_path / "other.npz", images[8:], "ok", {**meta, "nfe": 8, "first_seed": 8,
                                                           "prompt_index": np.arange(8, 12) % 2})
    text_scores.features_run(cfg, tmp_path / "other.npz", tmp_path / "prompts.txt", tmp_path / "clip",
                             tmp_path / "w.pth", tmp_path / "g8.npz", progress=False)
    with pytest.raises(ValueError, match="in its sampling"):
        text_scores.point_run([tmp_path / "f0.npz", tmp_path / "g8.npz"], tmp_path / "stats.npz", tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()

    # a diverged model's part (sample-text writes no images, status "non-finite samples"): the point has no number
    save_samples(tmp_path / "nan.npz", np.zeros((0,), np.uint8), "non-finite samples",
                 {**meta, "first_seed": 8, "num_samples": 4, "prompt_index": np.arange(8, 12) % 2})
    text_scores.features_run(cfg, tmp_path / "nan.npz", tmp_path / "prompts.txt", tmp_path / "clip",
                             tmp_path / "w.pth", tmp_path / "n8.npz", progress=False)
    record = text_scores.point_run([tmp_path / "f0.npz", tmp_path / "n8.npz"], tmp_path / "stats.npz",
                                   tmp_path / "p.json")
    assert record["fid"] is None and record["clip_score"] is None and record["num_samples"] == 12
    assert record["status"] == "non-finite samples (seeds from 8)"


def test_the_text_to_image_section_is_checked_across_keys_and_by_each_methods_own_checks():
    import copy

    from distill.config import profile_problems

    cfg = copy.deepcopy(load_profile("params.yaml", "paper"))
    assert profile_problems(cfg) == []
    cfg["evaluation"]["feature_extractor"] = "distill-domain"
    cfg["text_to_image"]["experiments"]["sd15"]["sfd"]["grid"]["sigma_min"] = 20.0
    cfg["text_to_image"]["experiments"]["sdxl"]["disback"]["experiments"]["sdxl"]["teacher"] = {"diffusers": "sd15"}
    problems = dict(profile_problems(cfg))
    assert "evaluation.feature_extractor" in problems
    assert "below sfd.grid.sigma_max" in problems["text_to_image.experiments.sd15.sfd.grid.sigma_min"]
    assert "'sd15'" in problems["text_to_image.experiments.sdxl.disback"]
