import copy

import pytest
import yaml

from distill.config import ConfigError, load_params, load_schema, select_profile, validate
from distill.experiment_views import experiment_profile

from conftest import ROOT


@pytest.fixture(scope="module")
def params():
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="module")
def schema():
    return load_schema(ROOT / "params.yaml")


def test_project_params_are_valid_and_have_the_three_profiles(params):
    assert {"smoke", "mini", "paper"} <= set(params["profiles"])
    assert params["profile"] == "mini"
    paper = select_profile(params, "paper")
    # PD CIFAR-10 base settings (PUBLISHED.md 1(b), CODE)
    assert paper["teacher"]["lr"] == 2e-4 and paper["teacher"]["batch_size"] == 128
    assert paper["teacher"]["ema_decay"] == 0.9999 and paper["network"]["ch"] == 256
    assert paper["network"]["dropout"] == 0.2 and paper["network"]["ch_mult"] == [1, 1, 1]


@pytest.mark.parametrize("mutate,message", [
    (lambda p: p["profiles"]["mini"]["teacher"].update(learning_rate=1.0), r"profiles.mini.teacher: .*learning_rate"),
    (lambda p: p["profiles"]["mini"]["teacher"].update(lr="fast"), r"profiles.mini.teacher.lr: 'fast' is not of type"),
    (lambda p: p["profiles"]["mini"]["teacher"].update(steps=0), r"profiles.mini.teacher.steps: 0 is less than"),
    (lambda p: p["profiles"]["mini"]["table1"].update(weightings=["snr", "huber"]), r"weightings.1: 'huber' is not one of"),
    (lambda p: p["profiles"]["mini"]["network"].update(hidden=3), r"profiles.mini.network"),
    (lambda p: p["profiles"]["mini"].pop("sampling"), r"profiles.mini: 'sampling' is a required property"),
    (lambda p: p["profiles"]["mini"]["pd"]["experiments"]["digits"].update(updates_per_round=-1),
     r"profiles.mini.pd.experiments.digits.updates_per_round: -1 is less than"),
    (lambda p: p["profiles"]["mini"]["pd"]["experiments"]["digits"]["train"].update(steps=5),
     r"profiles.mini.pd.experiments.digits.train: .*steps"),
    (lambda p: p["profiles"]["mini"]["pd"]["experiments"]["digits"].update(data={"name": "svhn"}),
     r"profiles.mini.pd.experiments.digits.data"),
])
def test_schema_errors_name_the_key(params, schema, mutate, message):
    bad = copy.deepcopy(params)
    mutate(bad)
    with pytest.raises(ConfigError, match=message):
        validate(bad, schema)


def test_unknown_profile(params):
    with pytest.raises(ConfigError, match="profile 'huge' is not defined"):
        select_profile(params, "huge")


def test_cli_reports_bad_params(tmp_path):
    import shutil
    import subprocess
    import sys

    (tmp_path / "workflows").mkdir()
    shutil.copytree(ROOT / "workflows" / "schema", tmp_path / "workflows" / "schema")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profiles"]["smoke"]["sampling"]["steps"] = "many"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = subprocess.run([sys.executable, "-m", "distill", "check-params", "--params", str(tmp_path / "params.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "profiles.smoke.sampling.steps: 'many' is not of type 'integer'" in proc.stderr


def test_pd_experiments_override_only_what_they_set(params):
    paper = select_profile(params, "paper")
    cifar = experiment_profile(paper, "pd", "cifar10")
    assert cifar["data"] == paper["data"] and cifar["teacher"] == paper["teacher"]
    imagenet = experiment_profile(paper, "pd", "imagenet64")
    assert imagenet["data"]["name"] == "imagenet64" and imagenet["data"]["conditional"]
    assert imagenet["network"]["ch"] == 192 and imagenet["teacher"]["batch_size"] == 2048
    # PUBLISHED.md 1(b): 8192 steps for CIFAR-10, 1024 for ImageNet 64 and LSUN; 50k / 100k updates; distill lr
    pd = paper["pd"]["experiments"]
    assert pd["cifar10"]["teacher_steps"] == 8192 and pd["imagenet64"]["teacher_steps"] == 1024
    assert pd["lsun_church"]["teacher_steps"] == 1024 and pd["lsun_bedroom"]["data"]["resolution"] == 128
    assert all(e["updates_per_round"] == 50000 and e["updates_last_rounds"] == 100000 for e in pd.values())
    assert pd["cifar10"]["train"]["lr"] == 5e-5 and pd["imagenet64"]["train"]["lr"] == 1e-4
    with pytest.raises(ConfigError, match="pd experiment 'svhn' is not in params.yaml"):
        experiment_profile(paper, "pd", "svhn")


def test_params_file_is_written_back_unchanged_by_dvc():
    """`dvc exp run -S key=value` rewrites params.yaml with its YAML writer: the file is a fixed point of it, so such
    a run changes the one line it sets and nothing else."""
    from dvc.utils.serialize._yaml import dumps_yaml, parse_yaml_for_update

    text = (ROOT / "params.yaml").read_text()
    assert dumps_yaml(parse_yaml_for_update(text, "params.yaml")) == text
    data = parse_yaml_for_update(text, "params.yaml")
    data["profiles"]["mini"]["teacher"]["lr"] = 1.0e-3
    changed = [(a, b) for a, b in zip(text.splitlines(), dumps_yaml(data).splitlines()) if a != b]
    assert len(changed) == 1 and changed[0][1].strip() == "lr: 0.001"


@pytest.mark.parametrize("mutate,message", [
    (lambda p: p["profiles"]["mini"]["cluster"]["teacher"].update(gpus=1),
     r"profiles.mini.cluster.teacher.gpus: 1 GPUs asked for by a profile whose device is cpu"),
    (lambda p: p["profiles"]["paper"]["cluster"]["sample"].update(gpus=0),
     r"profiles.paper.cluster.sample.gpus: 0 GPUs for a network job of a profile whose device is cuda"),
    (lambda p: p["profiles"]["paper"]["cluster"]["teacher"].update(gpus=3),
     r"profiles.paper.teacher.batch_size: 128 does not split over the 3 GPUs"),
    (lambda p: p["profiles"]["mini"].update(precision="bf16"), r"profiles.mini.precision: bf16 autocast is for CUDA"),
])
def test_cluster_requests_that_cannot_run_are_errors(params, mutate, message):
    from distill.config import check_semantics

    bad = copy.deepcopy(params)
    mutate(bad)
    with pytest.raises(ConfigError, match=message):
        check_semantics(bad)
