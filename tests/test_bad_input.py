"""The bad-input catalogue: every way a user can hand the suite a wrong value or file, each refused by the command line
with a message that names the problem (and the fix), a non-zero exit status, and no file written or changed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from distill import cli
from distill.core.checkpoint import load_weights, save_weights

from conftest import ROOT

TEACHER = "results/smoke/teachers/x-snr-s0/model.safetensors"
REF = "results/smoke/refs/ref.npz"
GOOD = np.random.default_rng(0).integers(0, 256, (64, 1, 8, 8), dtype=np.uint8)  # 2 seed ranges of 32 (smoke)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A smoke project: params.yaml, its schema, a trained teacher, the domain classifier and reference statistics."""
    from distill.config import load_profile
    from distill.pipeline import reference, train_classifier, train_teacher

    proj = tmp_path_factory.mktemp("bad_input")
    shutil.copytree(ROOT / "workflows" / "schema", proj / "workflows" / "schema")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profile"] = "smoke"
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    cfg = load_profile(proj / "params.yaml")
    cwd = Path.cwd()
    try:
        os.chdir(proj)
        train_teacher.run(cfg, "x", "snr", 0, Path(TEACHER).parent, progress=False)
        train_classifier.run(cfg, "results/smoke/classifier", progress=False)
        reference.run(cfg, REF)
    finally:
        os.chdir(cwd)
    return proj


def _params(proj: Path, edit) -> str:
    """A params.yaml in its own folder (with the schema beside it), changed by edit(params)."""
    folder = proj / "case"
    shutil.copytree(proj / "workflows", folder / "workflows")
    params = yaml.safe_load((proj / "params.yaml").read_text())
    edit(params)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return str(folder / "params.yaml")


def _smoke(params) -> dict:
    return params["profiles"]["smoke"]


def _npz(proj: Path, name: str = "case.npz", **arrays) -> str:
    np.savez(proj / name, **arrays)
    return name


def _write(proj: Path, name: str, data: bytes) -> str:
    (proj / name).write_bytes(data)
    return name


def _truncated(proj: Path) -> str:
    _npz(proj, "full.npz", images=GOOD)
    data = (proj / "full.npz").read_bytes()
    (proj / "full.npz").unlink()
    return _write(proj, "case.npz", data[: len(data) // 2])


def _pair(proj: Path, change) -> str:
    """A copy of the teacher's weights and config in case/, then change(folder) swaps or edits one of them."""
    folder = proj / "case"
    shutil.copytree(proj / Path(TEACHER).parent, folder)
    change(folder)
    return str(folder / "model.safetensors")


def _swap_weights(folder: Path) -> None:
    tensors, cfg = load_weights(folder / "model.safetensors")
    save_weights(folder / "other.safetensors", {k: v * 1.01 for k, v in tensors.items()}, cfg)
    shutil.move(folder / "other.safetensors", folder / "model.safetensors")
    (folder / "other.json").unlink()


def _edit_config(folder: Path) -> None:
    cfg = json.loads((folder / "model.json").read_text())
    cfg["parameterization"] = "eps"
    (folder / "model.json").write_text(json.dumps(cfg))


FID = ["fid", "calc", "--ref", REF, "--out", "out.json"]
SAMPLE = ["sample", "--model", TEACHER, "--sampler", "ddim", "--out", "out.npz"]

# id -> (setup(project) -> dict of names for the argv's {placeholders}, argv, the message expected on stderr)
CASES = {
    # params.yaml
    "unknown key": (lambda p: {"params": _params(p, lambda x: _smoke(x)["teacher"].update(stepz=3))},
                    ["check-params", "--params", "{params}"], r"teacher: unknown key\(s\): 'stepz'"),
    "wrong type": (lambda p: {"params": _params(p, lambda x: _smoke(x)["teacher"].update(lr="fast"))},
                   ["check-params", "--params", "{params}"], r"profiles\.smoke\.teacher\.lr: 'fast' is not of type"),
    "zero count in params": (lambda p: {"params": _params(p, lambda x: _smoke(x)["evaluation"].update(num_samples=0))},
                             ["check-params", "--params", "{params}"],
                             r"evaluation\.num_samples: 0 is less than the minimum of 1"),
    "negative learning rate": (lambda p: {"params": _params(p, lambda x: _smoke(x)["teacher"].update(lr=-1e-3))},
                               ["check-params", "--params", "{params}"], r"teacher\.lr: -0\.001 is less than"),
    "PD steps not a power of two": (
        lambda p: {"params": _params(p, lambda x: _smoke(x)["pd"]["experiments"]["digits"].update(teacher_steps=6))},
        ["check-params", "--params", "{params}"],
        r"profiles\.smoke\.pd\.experiments\.digits\.teacher_steps: 6 is not a power of two"),
    "KID subset larger than a seed range": (
        lambda p: {"params": _params(p, lambda x: _smoke(x)["evaluation"].update(kid_subset_size=33))},
        ["check-params", "--params", "{params}"], r"evaluation\.kid_subset_size: 33 exceeds evaluation\.num_samples"),
    "unknown profile": (lambda p: {}, ["check-params", "--profile", "huge"], "profile 'huge' is not defined"),
    "params file missing": (lambda p: {}, ["check-params", "--params", "none.yaml"], "params file none.yaml not found"),
    "params not YAML": (lambda p: {"params": _write(p, "bad.yaml", b"profile: [smoke\n")},
                        ["check-params", "--params", "{params}"], "is not valid YAML"),
    "experiment not in params": (lambda p: {}, ["kd-train", "--experiment", "nope", "--teacher", TEACHER,
                                                "--pairs", "x.npz", "--out", "out"],
                                 "kd experiment 'nope' is not in params.yaml"),
    # counts and options on the command line
    "zero steps": (lambda p: {}, [*SAMPLE, "--steps", "0"], "--steps: expected an integer >= 1, got 0"),
    "zero samples": (lambda p: {}, [*SAMPLE, "--num-samples", "0"], "--num-samples: expected an integer >= 1, got 0"),
    "negative samples": (lambda p: {}, [*SAMPLE, "--num-samples", "-5"], "expected an integer >= 1, got -5"),
    "text count": (lambda p: {}, [*SAMPLE, "--steps", "four"], "expected an integer >= 1, got 'four'"),
    "zero threads": (lambda p: {}, [*SAMPLE, "--threads", "0"], "--threads: expected an integer >= 1, got 0"),
    "gamma out of range": (lambda p: {}, ["sample", "--model", TEACHER, "--sampler", "ancestral", "--gamma", "-1",
                                          "--out", "out.npz"], r"option gamma must lie in \[0\.0, 1\.0\], got -1\.0"),
    "option of another sampler": (lambda p: {}, [*SAMPLE, "--gamma", "0.5"], "ddim.*gamma"),
    "condition without a value": (lambda p: {}, [*SAMPLE, "--cond", "w"], "--cond expects KEY=VALUE"),
    "label for an unconditional model": (lambda p: {}, [*SAMPLE, "--cond", "label=3"],
                                         "--cond label: the model is not class-conditional"),
    # weights
    "weights missing": (lambda p: {}, ["sample", "--model", "none/model.safetensors", "--sampler", "ddim", "--out",
                                       "out.npz"], "weights file none/model.safetensors does not exist"),
    "weights corrupt": (lambda p: {"model": _pair(p, lambda f: (f / "model.safetensors").write_bytes(b"\0" * 64))},
                        ["sample", "--model", "{model}", "--sampler", "ddim", "--out", "out.npz"],
                        "is corrupt or not safetensors"),
    "weights of another run": (lambda p: {"model": _pair(p, _swap_weights)},
                               ["sample", "--model", "{model}", "--sampler", "ddim", "--out", "out.npz"],
                               "the weights were swapped or edited"),
    "edited model config": (lambda p: {"model": _pair(p, _edit_config)},
                            ["sample", "--model", "{model}", "--sampler", "ddim", "--out", "out.npz"],
                            "the config was edited"),
    # image files and images
    "truncated npz": (lambda p: {"images": _truncated(p)}, [*FID, "--images", "{images}"],
                      "images file case.npz is not a readable .npz"),
    "text file named npz": (lambda p: {"images": _write(p, "case.npz", b"id,value\n1,2\n")},
                            [*FID, "--images", "{images}"], "images file case.npz is not a readable .npz"),
    "npz without images": (lambda p: {"images": _npz(p, a=GOOD, b=GOOD)}, [*FID, "--images", "{images}"],
                           r"holds \['a', 'b'\]; expected an array named 'images'"),
    "float images, range not named": (lambda p: {"images": _npz(p, images=GOOD / 255.0)},
                                      [*FID, "--images", "{images}"], "float images .* are ambiguous"),
    "float images outside their range": (lambda p: {"images": _npz(p, images=GOOD / 127.5 - 1)},
                                         [*FID, "--images", "{images}", "--range", "unit"],
                                         r"outside the range unit \[0, 1\]"),
    "NaN images": (lambda p: {"images": _npz(p, images=np.full((64, 1, 8, 8), np.nan, np.float32))},
                   [*FID, "--images", "{images}", "--range", "signed"], "64 image.* contain NaN or infinite"),
    "too few images": (lambda p: {"images": _npz(p, images=GOOD[:40])}, [*FID, "--images", "{images}"],
                       "needs 2 seed ranges of 32 = 64"),
    "channels last": (lambda p: {"images": _npz(p, images=GOOD.transpose(0, 2, 3, 1))},
                      [*FID, "--images", "{images}"], "channels last"),
    "wrong resolution": (lambda p: {"images": _npz(p, images=np.zeros((64, 1, 16, 16), np.uint8))},
                         [*FID, "--images", "{images}"], r"were computed on \(1, 8, 8\)"),
    "reference missing": (lambda p: {"images": _npz(p, images=GOOD)},
                          ["fid", "calc", "--ref", "none.npz", "--images", "{images}"], "none.npz not found"),
    "reference not statistics": (lambda p: {"images": _npz(p, images=GOOD), "ref": _npz(p, "ref2.npz", mu=GOOD)},
                                 ["fid", "calc", "--ref", "{ref}", "--images", "{images}"],
                                 r"lacks the array\(s\)"),
    "extractor weights missing": (
        lambda p: {"images": _npz(p, images=GOOD)},
        [*FID, "--images", "{images}", "--extractor-weights", "none.safetensors"],
        "feature-extractor weights none.safetensors not found"),
    "classifier not trained": (
        lambda p: {"params": _params(p, lambda x: None)},
        ["fid", "ref", "--params", "{params}", "--profile", "mini", "--out", "ref.npz"],
        r"snakemake --cores all -- results/mini/classifier/model\.safetensors"),
    "data set files missing": (
        lambda p: {"params": _params(p, lambda x: _smoke(x)["data"].update(name="cifar10", root="nowhere"))},
        ["fid", "ref", "--params", "{params}", "--extractor-weights", "results/smoke/classifier/model.safetensors",
         "--out", "ref.npz"], "nowhere"),
    "samples file missing": (lambda p: {}, ["evaluate", "--samples", "none.npz", "--reference", REF, "--out", "m.json",
                                            "--grid", "m.png"], "samples file none.npz not found"),
    "KD pairs corrupt": (lambda p: {"pairs": _write(p, "pairs.npz", b"not an archive")},
                         ["kd-train", "--experiment", "digits", "--teacher", TEACHER, "--pairs", "{pairs}", "--out",
                          "out"], "KD pairs file .*pairs.npz is not a readable .npz"),
}

CLASSIFIER = "results/smoke/classifier/model.safetensors"
EVALUATE = ["evaluate", "--reference", REF, "--extractor-weights", CLASSIFIER]


def _link(proj: Path, name: str, target: str, hard: bool = False) -> str:
    (os.link if hard else os.symlink)(proj / target if hard else Path(target).resolve(), proj / name)
    return name


# Issue classes of the second catalogue: an output that is an input, non-finite numbers, options a model would ignore,
# checks check-params must run, and tracebacks. Each: message, non-zero exit, no traceback, no file changed.
CASES.update({
    # 1. an output that is one of the command's inputs (any spelling), or a folder of another run
    "sample over its own model": (lambda p: {}, ["sample", "--model", TEACHER, "--sampler", "ddim", "--out", TEACHER],
                                  "--out .* is the input --model"),
    "sample over a symlink to its model": (
        lambda p: {"link": _link(p, "link.safetensors", TEACHER)},
        ["sample", "--model", TEACHER, "--sampler", "ddim", "--out", "{link}"], "--out link.safetensors is the input"),
    "sample over a hard link to its model": (
        lambda p: {"link": _link(p, "hard.safetensors", TEACHER, hard=True)},
        ["sample", "--model", TEACHER, "--sampler", "ddim", "--out", "{link}"], "--out hard.safetensors is the input"),
    "evaluate over its samples": (lambda p: {"s": _npz(p, images=GOOD)},
                                  [*EVALUATE, "--samples", "{s}", "--out", "{s}", "--grid", "g.png"],
                                  "--out case.npz is the input --samples"),
    "evaluate grid over its reference, spelled otherwise": (
        lambda p: {"s": _npz(p, images=GOOD)},
        [*EVALUATE, "--samples", "{s}", "--out", "m.json", "--grid", "./results/smoke/../smoke/refs/ref.npz"],
        "--grid .* is the input --reference"),
    "two outputs one file": (lambda p: {"s": _npz(p, images=GOOD)},
                             [*EVALUATE, "--samples", "{s}", "--out", "m.json", "--grid", "m.json"],
                             "--grid and --out are one file"),
    "fid ref over its images": (lambda p: {"s": _npz(p, images=GOOD)},
                                ["fid", "ref", "--images", "{s}", "--extractor-weights", CLASSIFIER, "--out", "{s}"],
                                "--out case.npz is the input --images"),
    "training run in the project's folder": (
        lambda p: {}, ["train-teacher", "--parameterization", "x", "--weighting", "snr", "--out", "."],
        r"--out \. is a folder that holds the input --params"),
    "KD student into its teacher's folder": (
        lambda p: {"pairs": _npz(p, "pairs.npz", z=GOOD, x=GOOD)},
        ["kd-train", "--experiment", "digits", "--teacher", TEACHER, "--pairs", "{pairs}", "--out",
         str(Path(TEACHER).parent)], "is a folder that holds the input --teacher"),
    "verify's re-run kept in the project itself": (lambda p: {}, ["verify", "--runs", "x-snr-s0", "--keep", "."],
                                                   r"--keep \. is a folder that holds the input --params"),
    "training over another run's folder": (
        lambda p: {}, ["train-teacher", "--parameterization", "x", "--weighting", "snr_trunc", "--out",
                       str(Path(TEACHER).parent)],
        "holds a run of other settings .* choose another --out, or pass --overwrite"),
    # 2. non-finite numbers, wherever a number is read
    "infinite learning rate": (lambda p: {"params": _params(p, lambda x: _smoke(x)["teacher"].update(lr=float("inf")))},
                               ["check-params", "--params", "{params}"],
                               r"profiles\.smoke\.teacher\.lr: inf is not a finite number"),
    "NaN EMA decay": (lambda p: {"params": _params(p, lambda x: _smoke(x)["teacher"].update(ema_decay=float("nan")))},
                      ["check-params", "--params", "{params}"],
                      r"profiles\.smoke\.teacher\.ema_decay: nan is not a finite number"),
    "NaN sampler option": (lambda p: {}, ["sample", "--model", TEACHER, "--sampler", "ancestral", "--gamma", "nan",
                                          "--out", "out.npz"], "--gamma: expected a finite number, got 'nan'"),
    "infinite condition": (lambda p: {}, [*SAMPLE, "--cond", "w=inf"], "--cond w: 'inf' is not a finite number"),
    # 3. an option the model cannot use
    "a float range for uint8 images": (lambda p: {"images": _npz(p, images=GOOD)},
                                       [*FID, "--images", "{images}", "--range", "unit"],
                                       "--range unit names the range of float images, but these are uint8"),
    "sampler option not declared": (lambda p: {}, [*SAMPLE, "--option", "afs=true"],
                                    "--option afs: sampler 'ddim' takes no option 'afs'"),
    "sampler flag not true or false": (lambda p: {}, ["sample", "--model", TEACHER, "--sampler", "heun", "--option",
                                                      "afs=yes", "--out", "out.npz"],
                                       "--option afs: expected true or false, got 'yes'"),
    "sampler option twice": (lambda p: {}, ["sample", "--model", TEACHER, "--sampler", "ancestral", "--gamma", "0.5",
                                            "--option", "gamma=0.2", "--out", "out.npz"],
                             "--gamma and --option gamma=... both given"),
    "grid option of another grid": (lambda p: {}, [*SAMPLE, "--grid-option", "rho=7"],
                                    "grid 'uniform' takes no option rho; its options: \\['sigma_min', 'sigma_max'\\]"),
    "grid option out of the schedule's range": (
        lambda p: {}, ["sample", "--model", TEACHER, "--sampler", "euler", "--grid", "edm", "--grid-option",
                       "sigma_max=1e6", "--out", "out.npz"], "must lie in the schedule's range"),
    "condition the model does not take": (lambda p: {}, [*SAMPLE, "--cond", "w=2"],
                                          "--cond w: the model takes no condition 'w'; it takes no condition"),
    # 6. what the workflow checks, check-params checks
    "a key written twice": (lambda p: {"params": _write(p, "twice.yaml", (p / "params.yaml").read_bytes().replace(
                                b"  smoke:\n", b"  smoke:\n    device: cpu\n", 1))},
                            ["check-params", "--params", "{params}"], "key 'device' is written twice in one mapping"),
    "negative seed": (lambda p: {}, ["train-teacher", "--parameterization", "x", "--weighting", "snr", "--seed", "-1",
                                     "--out", "run"], "--seed: expected an integer >= 0, got -1"),
    "Table 2 experiment not defined": (
        lambda p: {"params": _params(p, lambda x: _smoke(x)["pd"].update(table2="nope"))},
        ["check-params", "--params", "{params}"], r"pd\.table2: 'nope' is not one of pd\.experiments"),
    "profile name the shell cannot pass": (
        lambda p: {"params": _params(p, lambda x: x["profiles"].update({"my profile": _smoke(x)}))},
        ["check-params", "--params", "{params}"], "profile name 'my profile': use letters, digits"),
    # 7. what used to end in a traceback
    "float count in a method section": (
        lambda p: {"params": _params(p, lambda x: _smoke(x)["kd"]["experiments"]["digits"].update(pairs=64.0))},
        ["check-params", "--params", "{params}"], r"kd\.experiments\.digits\.pairs: 64\.0 is not of type 'integer'"),
    "more samples than memory": (lambda p: {}, [*SAMPLE, "--num-samples", str(10 ** 12)],
                                 "1,000,000,000,000 samples .* need about .* GiB of memory"),
    "model given as its folder": (lambda p: {}, ["sample", "--model", str(Path(TEACHER).parent), "--sampler", "ddim",
                                                 "--out", "out.npz"], "is a folder; give the weights file in it"),
    "output under a regular file": (lambda p: {}, ["sample", "--model", TEACHER, "--sampler", "ddim", "--out",
                                                   TEACHER + "/samples.npz"],
                                    "is a file, so no folder can be made there"),
    "output that is a folder": (lambda p: {}, ["sample", "--model", TEACHER, "--sampler", "ddim", "--out", "results"],
                                "--out results is a folder; give the path of a file"),
    "a teacher as the feature extractor": (
        lambda p: {}, ["fid", "ref", "--extractor-weights", TEACHER, "--out", "r.npz"],
        "holds a teacher network, not the domain classifier"),
})


def _results(proj: Path, edit=None) -> str:
    """A results folder whose results.csv is two rows of the committed mini table, then edit(lines)."""
    lines = (ROOT / "results" / "mini" / "results.csv").read_text().splitlines()[:3]
    if edit:
        edit(lines)
    (proj / "res").mkdir()
    (proj / "res" / "results.csv").write_text("\n".join(lines) + "\n")
    return "res"


PUBLISHED_LINES = len((ROOT / "results" / "published" / "published.csv").read_text().splitlines())  # header included


def _published(proj: Path, edit) -> str:
    lines = (ROOT / "results" / "published" / "published.csv").read_text().splitlines()
    edit(lines)
    (proj / "pub.csv").write_text("\n".join(lines) + "\n")
    return "pub.csv"


def _set_value(line: str, column: int, value: str) -> str:
    cells = line.split(",")
    cells[column] = value
    return ",".join(cells)


class _Payload:
    """What a tampered pickle carries: unpickled by a trusting reader, it runs a command (here: makes a file)."""

    def __reduce__(self):
        return os.system, ("touch pwned",)


def _tampered_state(proj: Path) -> str:
    """A run folder of the teacher's settings whose training state was replaced by a hostile pickle."""
    import torch

    folder = proj / "case"
    shutil.copytree(proj / Path(TEACHER).parent, folder)
    for name in ("model.safetensors", "model.json", "summary.json"):  # an unfinished run: it resumes from the state
        (folder / name).unlink(missing_ok=True)
    torch.save({"nets": {}, "step": 1, "payload": _Payload()}, folder / "train_state.pt")
    return str(folder)


def _hostile_cifar(proj: Path) -> str:
    import pickle

    folder = proj / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": _Payload(), b"labels": [0]}, f)
    return _params(proj, lambda x: _smoke(x)["data"].update(name="cifar10", root=str(proj / "cifar")))


def _finished_path(proj: Path) -> str:
    """A DisBack path folder whose run finished (its nodes and summary) and whose training state is gone."""
    folder = proj / "path"
    (folder / "nodes").mkdir(parents=True)
    (folder / "nodes" / "manifest.json").write_text("{}")
    (folder / "summary.json").write_text("{}")
    return str(folder)


def _student(proj: Path, **record) -> str:
    """The teacher's weights saved as a distilled student whose config records what it was trained on (`record`):
    every check below refuses before the network is built."""
    tensors, cfg = load_weights(proj / TEACHER)
    cfg = {**cfg, **record, "network": {**cfg["network"], "scalar_conditions": record.pop("conditions", [])}}
    (proj / "student").mkdir()
    save_weights(proj / "student" / "model.safetensors", tensors, {**cfg, **record})
    return "student/model.safetensors"


def _fixed_w(proj: Path) -> str:
    return _student(proj, kind="guided-student", line="w0.3", w_range=[0.3, 0.3], conditions=["w"])


def _w_student(proj: Path) -> str:
    return _student(proj, kind="guided-student", line="w", w_range=[0.0, 4.0], conditions=["w"])


def _sfd_v(proj: Path) -> str:
    sampling = {"sampler": "euler", "steps": None, "step_condition": "steps", "options": {"afs": True},
                "grid": "edm", "grid_options": {"rho": 7.0, "sigma_min": 0.006, "sigma_max": 80.0}}
    return _student(proj, kind="sfd-student", sampling=sampling, distill={"kind": "sfd-v", "num_steps": [4, 5]},
                    conditions=["steps"])


def _baseline_run(proj: Path) -> str:
    """A finished stage-2 folder of DisBack's baseline (its summary), to be passed as another run's."""
    folder = proj / "baseline-run"
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({"method": "baseline", "seed": 0, "nodes": 0}))
    return str(folder)


VALUE = 15  # the value column of the results table (distill/results/table.py COLUMNS)
PUBLISHED_VALUE = 12  # and of published.csv
COMPARE = ["compare", "--results", "{res}", "--md", "out.md", "--pdf", "out.pdf"]

# Issue classes of the third catalogue (the surfaces of SFD, guided distillation and DisBack; the files compare
# reads). Each: message, non-zero exit, no traceback, no file changed.
CASES.update({
    # a value checked against what the model was trained on
    "another w for a fixed-w student": (
        lambda p: {"m": _fixed_w(p)}, ["sample", "--model", "{m}", "--sampler", "ddim", "--cond", "w=2",
                                       "--out", "out.npz"], r"--cond w=2: this student was trained at w = 0\.3 only"),
    "w outside the student's trained range": (
        lambda p: {"m": _w_student(p)}, ["sample", "--model", "{m}", "--sampler", "ddim", "--cond", "w=8",
                                         "--out", "out.npz"],
        r"--cond w=8 lies outside the guidance weights this student was trained on \(w_range \[0, 4\]\)"),
    "guidance on top of a guided student": (
        lambda p: {"m": _w_student(p)}, ["sample", "--model", "{m}", "--sampler", "ddim", "--guidance", "1",
                                         "--out", "out.npz"], r"--guidance on a guided student: its outputs are"),
    "an SFD-v step count it never saw": (
        lambda p: {"m": _sfd_v(p)}, ["sample", "--model", "{m}", "--steps", "9", "--out", "out.npz"],
        r"--steps 9: this student was trained for num_steps 4, 5 .*never saw this count"),
    "--path on a DisBack baseline run": (
        lambda p: {"path": _finished_path(p)},
        ["disback-train", "--experiment", "digits", "--teacher", TEACHER, "--run", "baseline-s0", "--path", "{path}",
         "--out", "run"], r"--path is read only by DisBack's runs; baseline-s0 is a baseline run"),
    "--classifier on a first-stage SFD run": (
        lambda p: {}, ["sfd-train", "--run", "nfe2", "--teacher", TEACHER, "--classifier", CLASSIFIER, "--out", "run"],
        r"--classifier is read only by a second-stage run .*this is a sfd run"),
    "a run folder of another kind than its --run": (
        lambda p: {"run": _baseline_run(p), "path": _finished_path(p)},
        ["disback-curve", "--experiment", "digits", "--teacher", TEACHER, "--run", "disback-s0", "--run-dir", "{run}",
         "--path", "{path}", "--reference", REF, "--extractor-weights", CLASSIFIER, "--out-dir", "pts"],
        r"--run-dir .*baseline-run holds another run than disback-s0: its method is 'baseline', disback-s0's "
        r"'disback'"),
    "an SFD student of another run on the curve": (
        lambda p: {"m": _student(p, run="v")}, ["sfd-curve", "--run", "nfe2", "--model", "{m}", "--reference", REF,
                                                "--extractor-weights", CLASSIFIER, "--out-dir", "pts"],
        r"--model student/model\.safetensors is the student of SFD run 'v', not of 'nfe2'"),
    # files read implicitly are inputs: the config beside a weights file, a path's nodes
    "samples over the model's config": (
        lambda p: {}, ["sample", "--model", TEACHER, "--sampler", "ddim", "--out", TEACHER.replace(".safetensors",
                                                                                                     ".json")],
        r"--out .*model\.json is the input --model .*model\.json: writing it would destroy the input"),
    "DisBack run inside its path's nodes": (
        lambda p: {"path": _finished_path(p)},
        ["disback-train", "--experiment", "digits", "--teacher", TEACHER, "--run", "disback-s0", "--path", "{path}",
         "--out", "{path}/nodes/run"], r"--out .*nodes/run lies inside the input folder --path .*path, whose files"),
    # "finished" decided per kind of run: a DisBack path has nodes and a summary, no model.safetensors
    "DisBack path finished, its state gone": (
        lambda p: {"path": _finished_path(p)},
        ["disback-path", "--experiment", "digits", "--teacher", TEACHER, "--out", "{path}"],
        r"holds a finished run \(summary\.json\) whose training state is gone.*pass --overwrite"),
    # every pickle through a safe loader
    "training state that runs code": (
        lambda p: {"run": _tampered_state(p)},
        ["train-teacher", "--parameterization", "x", "--weighting", "snr", "--out", "{run}"],
        r"train_state\.pt names code to run while it is read.*posix\.system"),
    "CIFAR-10 batch that runs code": (
        lambda p: {"params": _hostile_cifar(p)},
        ["fid", "ref", "--params", "{params}", "--extractor-weights", "results/smoke/classifier/model.safetensors",
         "--out", "ref.npz"], r"data_batch_1 refers to posix\.system, which a plain-data pickle .* does not need; refusing"),
    # cross-field settings, checked by check-params naming the key
    "SFD grid upside down": (
        lambda p: {"params": _params(p, lambda x: _smoke(x)["sfd"]["grid"].update(sigma_min=100.0))},
        ["check-params", "--params", "{params}"],
        r"profiles\.smoke\.sfd\.grid\.sigma_min: 100\.0 must lie above 0 and below sfd\.grid\.sigma_max \(80\.0\)"),
    "DisBack sigma_max beyond the teacher": (
        lambda p: {"params": _params(p, lambda x: _smoke(x)["disback"]["experiments"]["digits"]["core"].update(
            sigma_max=1e9))}, ["check-params", "--params", "{params}"],
        r"disback\.experiments\.digits\.core\.sigma_max: 1000000000\.0 lies outside the teacher's sigma range"),
    "DisBack sigma_init beyond the teacher": (
        lambda p: {"params": _params(p, lambda x: _smoke(x)["disback"]["experiments"]["digits"]["core"].update(
            sigma_init=1e9))}, ["check-params", "--params", "{params}"],
        r"disback\.experiments\.digits\.core\.sigma_init: 1000000000\.0 lies outside the teacher's sigma range"),
    "toy2d sigma range upside down": (
        lambda p: {"params": _params(p, lambda x: _smoke(x)["disback"]["toy2d"]["core"].update(sigma_min=100.0))},
        ["check-params", "--params", "{params}"], r"disback\.toy2d\.core\.sigma_min: 100\.0 must lie above 0"),
    # the numbers compare reads
    "results row written twice": (lambda p: {"res": _results(p, lambda x: x.append(x[1]))}, COMPARE,
                                  r"res/results\.csv, lines 2, 4: one number written 2 times .*keep one row"),
    "results value written as text": (
        lambda p: {"res": _results(p, lambda x: x.__setitem__(1, _set_value(x[1], VALUE, "good")))}, COMPARE,
        r"res/results\.csv, line 2, column 'value': 'good' is not a number"),
    "results value NaN": (
        lambda p: {"res": _results(p, lambda x: x.__setitem__(2, _set_value(x[2], VALUE, "nan")))}, COMPARE,
        r"res/results\.csv, line 3, column 'value': 'nan' is not a finite number; a number that does not exist"),
    "published row written twice": (
        lambda p: {"res": _results(p), "pub": _published(p, lambda x: x.append(_set_value(x[1], PUBLISHED_VALUE,
                                                                                          "1.0")))},
        [*COMPARE, "--published", "{pub}"],
        rf"pub\.csv, lines 2, {PUBLISHED_LINES + 1}: one number written 2 times \(paper='PD'"),
    "published value written as text": (
        lambda p: {"res": _results(p), "pub": _published(p, lambda x: x.__setitem__(1, _set_value(
            x[1], PUBLISHED_VALUE, "2.54 (EXACT)")))},
        [*COMPARE, "--published", "{pub}"], r"pub\.csv, line 2, column 'value': '2\.54 \(EXACT\)' is not a number"),
    "published value infinite": (
        lambda p: {"res": _results(p), "pub": _published(p, lambda x: x.__setitem__(3, _set_value(
            x[3], PUBLISHED_VALUE, "inf")))},
        [*COMPARE, "--published", "{pub}"], r"pub\.csv, line 4, column 'value': 'inf' is not a finite number"),
})


def _tree(root: Path) -> dict[str, str]:
    """Every file's sha256 (links as the path they point to)."""
    return {str(p.relative_to(root)): os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture
def in_project(project, monkeypatch):
    """Run in the project; afterwards remove what the case's setup made there."""
    monkeypatch.chdir(project)
    before = set(project.iterdir())
    yield project
    for path in set(project.iterdir()) - before:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_a_clear_message_and_no_output(case, in_project, capsys):
    setup, argv, message = CASES[case]
    names = setup(in_project)
    before = _tree(in_project)
    try:
        code = cli.main([a.format(**names) for a in argv] + ["--no-progress"])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code not in (0, None), f"exit status {code}"
    assert re.search(message, err), err
    assert "Traceback" not in err
    assert _tree(in_project) == before, "the command wrote or changed files"


def test_the_catalogue_has_at_least_25_cases():
    assert len(CASES) >= 25


def test_an_output_on_a_read_only_file_system_is_refused_before_any_work(in_project, capsys, monkeypatch):
    """(A read-only mount cannot be made here, and root writes in a folder without write permission: the file
    system's refusal is simulated where the command probes the output's folder.)"""
    import errno
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    before = _tree(in_project)
    assert cli.main([*SAMPLE, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "--out out.npz: cannot write in" in err and "the file system is read-only" in err, err
    assert _tree(in_project) == before


def test_float_images_in_a_named_range_give_the_uint8_numbers(in_project, capsys):
    """The same images as uint8, as [0, 1] floats and as [-1, 1] floats give one FID once the range is named."""
    project = in_project
    fids = []
    for images, extra in [(GOOD, []), (GOOD / 255.0, ["--range", "unit"]), (GOOD / 127.5 - 1, ["--range", "signed"])]:
        np.savez(project / "imgs.npz", images=images)
        assert cli.main(["fid", "calc", "--ref", REF, "--images", "imgs.npz", "--no-progress", *extra]) == 0
        fids.append(json.loads(capsys.readouterr().out)["metrics"]["fid"]["min"])
    assert fids[1] == pytest.approx(fids[0], abs=1e-9) and fids[2] == pytest.approx(fids[0], abs=1e-9)


def test_a_sigma_form_solver_samples_through_the_cli_with_its_options_and_records_its_nfe(in_project, capsys):
    """SFD's convention through `distill sample`: num_steps 4 on the edm grid, Heun with AFS: 2 x 3 - 1 = 5 NFE."""
    argv = ["sample", "--model", TEACHER, "--sampler", "heun", "--grid", "edm", "--steps", "4", "--option",
            "afs=true", "--grid-option", "sigma_min=0.002", "--num-samples", "8", "--out", "heun.npz", "--no-progress"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    with np.load(in_project / "heun.npz") as z:
        assert z["images"].shape == (8, 1, 8, 8) and int(z["nfe"]) == 5 and bool(z["afs"])
        assert float(z["grid_sigma_min"]) == 0.002


def test_solver_distances_prints_and_writes_a_row_per_solver_and_nfe(in_project, capsys):
    import pandas as pd

    argv = ["solver-distances", "--model", TEACHER, "--solvers", "euler", "heun", "--nfe", "3", "--num-samples", "2",
            "--sigma-max", "1", "--sigma-min", "0.8", "--out", "d.csv", "--no-progress"]  # a short stretch: fast
    assert cli.main(argv) == 0, capsys.readouterr().err
    table = pd.read_csv(in_project / "d.csv")
    # Euler makes 3 evaluations at num_steps 4 (and 5 with AFS); Heun only with AFS (2 x 2 - 1), at num_steps 3
    assert sorted(zip(table["solver"], table["num_steps"])) == [("euler", 4), ("euler", 5), ("heun", 3)]
    assert table["rms_distance"].gt(0).all()


def test_a_folder_command_replaces_only_what_it_wrote(project, monkeypatch):
    """A command that writes a folder whole (a guided sweep, SFD's budget curve: distill.pipeline.evaluate's
    evaluate_points; DisBack's points) pointed one level too high refuses before any work and removes nothing; its
    own folder is replaced on a rerun, and once something else is put in it, refused again."""
    from distill.config import load_profile
    from distill.core.owned_folder import MANIFEST, ForeignFiles
    from distill.pipeline import evaluate

    monkeypatch.chdir(project)
    cfg = load_profile(project / "params.yaml")
    point = [("w1", TEACHER, {"sampler": "ddim", "steps": 2})]
    parent = project / "sweeps"
    (parent / "other-run").mkdir(parents=True)
    (parent / "other-run" / "w1.json").write_text("{}")
    (parent / "table.csv").write_text("kept\n")
    before = _tree(parent)
    with pytest.raises(ForeignFiles, match=r"holds 2 entries this command did not write \(other-run, table\.csv\)"):
        evaluate.evaluate_points(cfg, point, REF, CLASSIFIER, parent, progress=False)
    assert _tree(parent) == before and not (project / ".sweeps.tmp").exists()
    own = parent / "mine"
    evaluate.evaluate_points(cfg, point, REF, CLASSIFIER, own, progress=False)
    assert sorted(p.name for p in own.iterdir()) == [MANIFEST, "w1.json", "w1.png"]
    evaluate.evaluate_points(cfg, point, REF, CLASSIFIER, own, progress=False)  # control: its own folder, replaced
    (own / "notes.txt").write_text("mine")
    with pytest.raises(ForeignFiles, match=r"mine holds 1 entry this command did not write \(notes\.txt\)"):
        evaluate.evaluate_points(cfg, point, REF, CLASSIFIER, own, progress=False)
    assert (own / "notes.txt").read_text() == "mine"
    shutil.rmtree(parent)


def test_the_values_a_model_was_trained_on_are_accepted(project):
    """Controls of the trained-on checks: a fixed-w student at its w, a w-conditioned one inside its range (its ends
    included), an SFD-v student at a count it was trained for (that count becomes its `steps` condition)."""
    from distill.pipeline.sample import check_conditions, recorded_sampling

    _, cfg = load_weights(project / TEACHER)
    fixed = {**cfg, "w_range": [0.3, 0.3], "network": {**cfg["network"], "scalar_conditions": ["w"]}}
    line = {**fixed, "w_range": [0.0, 4.0]}
    check_conditions({"w": 0.3}, fixed)
    for w in (0.0, 2.5, 4.0):
        check_conditions({"w": w}, line)
    sampling = {"sampler": "euler", "steps": None, "step_condition": "steps", "options": {"afs": True},
                "grid": "edm", "grid_options": {}}
    sfd_v = {**cfg, "sampling": sampling, "distill": {"num_steps": [4, 5]}}
    cond = {}
    assert recorded_sampling(sfd_v, None, 5, {}, None, {}, cond)[:2] == ("euler", 5) and cond == {"steps": 5.0}


def test_two_commands_writing_one_output_at_once_the_second_is_refused(in_project, capsys):
    """While one command writes an output (its lock held, as a live `distill sample` holds it), a second command
    naming the same output, however spelled, is refused before any work; once the first has ended, it runs."""
    from distill.commands import output_lock
    from distill.commands.paths import output

    import argparse

    parser = argparse.ArgumentParser()
    output(parser, "--out")
    held = output_lock.acquire(parser.parse_args(["--out", "busy.npz"]), ["sample", "--out", "busy.npz"])  # running
    before = _tree(in_project)
    argv = ["sample", "--model", TEACHER, "--sampler", "ddim", "--steps", "2", "--num-samples", "4", "--out",
            "./busy.npz", "--no-progress"]
    try:
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert "--out busy.npz is being written by another command now (process" in err, err
        assert _tree(in_project) == before
    finally:
        for f in held:
            f.close()
    assert cli.main(argv) == 0, capsys.readouterr().err  # control: the first has ended
    assert (in_project / "busy.npz").is_file()
