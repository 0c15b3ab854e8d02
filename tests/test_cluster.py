"""The SLURM profile (workflows/profiles/slurm): the paper profile's dry run through it lists every job with its
resources; every job that trains, samples or extracts features asks for a GPU, derived from its rule's command
(distill/workflow/resources.py); reports, tables, figures, compare and fetch are local rules."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from conftest import make_project, run_snakemake
from distill.workflow.resources import classify, command_of

# written here independently of distill.cli: the commands that run networks on the device
NETWORK_COMMANDS = {"train-teacher", "sample", "evaluate", "fid", "pd-round", "kd-pairs", "kd-train"}


def _jobs(text: str) -> list[dict]:
    """The job blocks of `snakemake -n -p`: rule name, resources and shell command."""
    jobs = []
    for block in re.split(r"\n(?=\[[A-Z][a-z]{2} )", text):
        rule = re.search(r"^(?:local)?rule (\w+):", block, flags=re.M)
        if rule:
            resources = re.search(r"^\s+resources: (.*)$", block, flags=re.M)
            shell = [line.strip() for line in block.splitlines() if " -m distill " in line]
            jobs.append({"rule": rule.group(1), "resources": resources.group(1) if resources else "",
                         "command": command_of(shell[0]) if shell else None})
    return jobs


def test_the_command_of_a_rule_is_read_from_its_shell_command():
    assert command_of("{DISTILL} train-teacher {CLI_ARGS} --seed 0") == "train-teacher"
    assert command_of("/usr/bin/python -m distill pd-round --params p") == "pd-round"
    assert command_of(None) is None and command_of("echo hi") is None
    kinds = classify([SimpleNamespace(name=n, shellcmd=c) for n, c in (
        ("train_teacher", "{DISTILL} train-teacher"), ("train_classifier", "{DISTILL} train-classifier"),
        ("pd_table1", "{DISTILL} table1 --pdf x"), ("all", None), ("fetch_cifar10", "{DISTILL} fetch cifar10"))])
    assert kinds == {"train_teacher": "gpu", "train_classifier": "cpu", "pd_table1": "local", "all": "local",
                     "fetch_cifar10": "local"}


@pytest.mark.integration
def test_the_paper_dry_run_through_the_slurm_profile_asks_a_gpu_for_every_network_job(tmp_path):
    proj = make_project(tmp_path)
    proc = run_snakemake(proj, "-n", "-p", "--workflow-profile", "workflows/profiles/slurm", "--config",
                         "profile=paper", "--", "all")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = _jobs(proc.stdout)
    assert len(jobs) > 1000 and {j["command"] for j in jobs} >= {"train-teacher", "sample", "evaluate", "pd-round",
                                                                 "fid", "fetch", "table1"}
    for job in jobs:
        wants_gpu = "gpu=1" in job["resources"]
        assert wants_gpu == (job["command"] in NETWORK_COMMANDS), job
