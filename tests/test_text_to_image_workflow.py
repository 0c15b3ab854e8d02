"""The text-to-image targets end to end, as a cluster runs them, on tiny random pipelines placed where the fetch
rules put the real ones (data/hf/sd15, data/hf/sdxl, data/hf/clip_vit_g14, data/coco): `snakemake -- text_to_image`
imports both teachers, trains an SFD student on SD prompts, encodes a caption set with SD's VAE and trains guided
distillation's stage one and round, PD's round and a consistency model on it, trains DisBack's path, generator and
baseline on SDXL, samples and scores every point (in one part here: tests/test_text_artifacts.py joins parts), and
writes the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_project, run_snakemake
from distill.data.first_fetch import RECORDED
from latent_models import (caption_methods, clip_model, coco_train_set, random_inception, sd_pipeline,
                           sdxl_pipeline)

PROMPTS = "text\na red cube\ntwo cats on a mat\na tree by a lake\n"


def _section(smoke):
    sfd = {**smoke["sfd"], "teacher": {"diffusers": "sd15"}, "reproduces": "ms_coco",
           "grid": {"rho": 7.0, "sigma_min": 0.1, "sigma_max": 14.6146},
           "solvers": {"dpmpp": {"sampler": "dpmpp", "options": {"max_order": 2, "lower_order_final": True,
                                                                 "clip": "none"}, "grid": "edm_logsnr", "nfe": [2]}},
           "train": {**smoke["sfd"]["train"], "trajectories": 2, "batch_size": 2}, "runs": {"nfe2": {}}}
    for key in ("curve", "gits", "spread_seeds"):
        sfd.pop(key, None)
    disback = {**smoke["disback"]["experiments"]["digits"], "teacher": {"diffusers": "sdxl"}, "reproduces": "sdxl",
               "core": {**smoke["disback"]["experiments"]["digits"]["core"], "grid": "teacher", "init_timestep": 399,
                        "fake_weighting": "snr", "real_guidance": 7.0, "fake_updates": 2},
               "path": {"nodes": 2, "interval": 1, "batch_size": 1, "seed": 0},
               "stage_two": {"iterations": 3, "interval": 1, "switch_rule": "paper", "batch_size": 1},
               "seeds": [0], "eval_every": 1}
    return {"prompts": "coco_captions", "fid_reference": "coco_fid_stats", "clip": "clip_vit_g14",
            "captions": "coco_train2014", "num_samples": 3, "part_size": 3, "experiments": {
                "sd15": {"teacher": {"diffusers": "sd15"}, "resolution": 64, "guidance": 1.5, "sfd": sfd,
                         "pd_steps": [1], **caption_methods(smoke, "sd15", "sd15", teacher_steps=2, updates=1,
                                                            multistep=[[0, 5]])},
                "sdxl": {"teacher": {"diffusers": "sdxl"}, "resolution": 64, "guidance": 0.0,
                         "disback": {"experiments": {"sdxl": disback}}}}}


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_the_text_to_image_target_runs_every_method_and_scores_every_point(tmp_path):
    proj = make_project(tmp_path)
    sd_pipeline(proj / "data" / "hf" / "sd15")
    sdxl_pipeline(proj / "data" / "hf" / "sdxl")
    clip_model(proj / "data" / "hf" / "clip_vit_g14")
    (proj / "data" / "coco").mkdir(parents=True)
    (proj / "data" / "coco" / "MS-COCO_val2014_30k_captions.csv").write_text(PROMPTS)
    coco = proj / "data" / "coco"  # where the fetch rules unpack MS-COCO train2014 (9: the set's first image)
    coco_train_set(coco / "train2014", coco / "annotations" / "captions_train2014.json", {9: (80, 70), 25: (80, 70)},
                   {9: ["a red cube"], 25: ["two cats"]})
    np.savez(proj / "data" / "coco" / "MS-COCO_val2014_fid_stats.npz", mu=np.zeros(2048), sigma=np.eye(2048) * 1e-4)
    weights = "data/inception/weights-inception-2015-12-05-6726825d.pth"
    random_inception(proj / weights)

    params = yaml.safe_load((proj / "params.yaml").read_text())
    smoke = params["profiles"]["smoke"]
    smoke["evaluation"].update(feature_extractor="inception-v3-compat", feature_extractor_weights=weights)
    smoke["text_to_image"] = _section(smoke)
    params["profile"] = "smoke"
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    done = run_snakemake(proj, "--", "text_to_image")
    assert done.returncode == 0, done.stderr[-4000:]
    table = pd.read_csv(proj / "reports" / "text_to_image.csv")
    assert list(table["point"]) == ["teacher-dpmpp-nfe2", "sfd-nfe2", "guided-w-n1-ddim-n1-w1p5", "pd-n1", "cd-n1",
                                    "disback-s0", "baseline-s0"]
    assert (table["num_samples"] == 3).all() and np.isfinite(table[["fid", "clip_score"]].to_numpy()).all()
    # a guided evaluation counts twice (SFD NFE 2, PD's and CD's students); the w-student takes w as input;
    # generators: one step
    assert list(table["nfe"]) == [4, 4, 1, 2, 2, 1, 1]
    guided = table.set_index("point").loc["guided-w-n1-ddim-n1-w1p5"]
    assert guided["training_iterations"] == 2  # stage one and the round: its cost includes the chain before it
    assert set(table["digests"]) == {RECORDED} and table["published"].iloc[1].startswith("NOT FOUND")
    assert (proj / "reports" / "text_to_image.pdf").stat().st_size > 0
    lock = json.loads((proj / "artifacts.lock.json").read_text())
    assert {"sd15", "sdxl"} <= set(lock)  # the teachers' files, recorded at their import
    assert not list((proj / "results" / "smoke" / "text_to_image").rglob("samples-*.npz"))  # parts are temporary
