"""The SLURM profile (workflows/profiles/slurm): the paper profile's dry run through it lists every job with its
resources; every job that trains, samples or extracts features asks for a GPU, derived from its rule's command
(distill/workflow/resources.py); reports, tables, figures, compare and fetch are local rules."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from conftest import ROOT, make_project, run_snakemake
from distill.workflow.resources import classify, command_of

# the shared commands' kinds, written here independently of distill.cli; each method's commands declare theirs on
# its card (distill/plugins: Command.job), so that a new method edits no test
SHARED_KINDS = {"train-teacher": "teacher", "sample": "sample", "evaluate": "evaluate", "fid": "evaluate",
                "train-classifier": "classifier", "sample-text": "sample", "clip-score": "evaluate",
                "text-features": "evaluate", "encode-captions": "sample"}


def kinds_of_commands() -> dict[str, str]:
    """Each computing command's kind of job (its params.yaml cluster entry): the shared ones and every method's."""
    from distill.registry import methods

    return SHARED_KINDS | {c.name: c.job for m in methods() for c in m.commands if c.job is not None}


def network_commands() -> set[str]:
    """The commands that run networks on the device: those of a GPU kind."""
    from distill.commands.spec import GPU_JOBS

    return {name for name, kind in kinds_of_commands().items() if kind in GPU_JOBS}


def _jobs(text: str) -> list[dict]:
    """The job blocks of `snakemake -n -p`: rule name, resources and shell command."""
    jobs = []
    for block in re.split(r"\n(?=\[[A-Z][a-z]{2} )", text):
        rule = re.search(r"^(?:local)?rule (\w+):", block, flags=re.M)
        if rule:
            resources = re.search(r"^\s+resources: (.*)$", block, flags=re.M)
            shell = [line.strip() for line in block.splitlines() if " -m distill " in line]
            jobs.append({"rule": rule.group(1), "resources": resources.group(1) if resources else "",
                         "command": command_of(shell[0]) if shell else None, "shell": shell[0] if shell else ""})
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
    # SFD Table 3 and DisBack's ImageNet-64 row: their own teacher, reference statistics and reports
    shells = [j["shell"] for j in jobs]
    for needle in ("sfd-train --params params.yaml --profile paper --no-progress --method sfd --experiment imagenet64",
                   "import-edm --params params.yaml --profile paper --no-progress --artifact edm_imagenet64_cond",
                   "fid ref --params params.yaml --profile paper --no-progress --method sfd --experiment imagenet64",
                   "disback-train --params params.yaml --profile paper --no-progress --experiment imagenet64",
                   "fetch --params params.yaml --profile paper --no-progress edm_ref_imagenet64",
                   "--pdf reports/sfd_imagenet64.pdf", "--pdf reports/disback_imagenet64.pdf"):
        assert any(needle in s for s in shells), needle
    assert not any("fid ref" in s and "--experiment imagenet64" in s and "disback" in s for s in shells)  # SFD's
    cluster = yaml.safe_load((proj / "params.yaml").read_text())["profiles"]["paper"]["cluster"]
    network, kinds = network_commands(), kinds_of_commands()
    assert network >= {"pd-round", "kd-train", "sfd-train", "guided-round", "disback-train"}  # the registry's
    for job in jobs:
        wants_gpu = "gpu=1" in job["resources"]
        assert wants_gpu == (job["command"] in network), job
        kind = kinds.get(job["command"])
        if kind is not None:  # its kind's wall time and memory, from params.yaml
            want = cluster[kind]
            assert f"runtime={want['runtime_minutes']}," in job["resources"] + ",", job
            assert f"mem_mb={want['mem_mb']}," in job["resources"], job


# each kind's request, distinct so that every submission shows which kind it was given
REQUESTS = {"teacher": (2, 11, 2001), "distill": (1, 12, 2002), "sample": (1, 13, 2003), "evaluate": (1, 14, 2004),
            "classifier": (0, 15, 2005)}
KIND_OF_RULE = {"train_teacher": "teacher"}


@pytest.mark.integration
def test_jobs_run_through_the_slurm_profile_on_a_fake_scheduler(tmp_path):
    """sbatch/sacct/srun stand-ins (tests/fake_slurm/slurm.py) run the job here: a teacher is submitted with its
    kind's GPU, wall time and memory from params.yaml, runs through the plugin's job step (srun), is seen finished
    through sacct, and the workflow ends with its model. (Every kind's request in the paper's whole plan: the dry run
    above; the plugin polls at growing intervals, so each further job in a chain costs tens of seconds.)"""
    proj = make_project(tmp_path / "p")
    params = yaml.safe_load((proj / "params.yaml").read_text())
    smoke = params["profiles"]["smoke"]
    smoke["device"] = "auto"  # asks for GPUs as a GPU profile does; this machine has none, so the jobs use the CPU
    smoke["cluster"] = {kind: {**({"gpus": g} if kind != "classifier" else {}), "runtime_minutes": t, "mem_mb": m}
                        for kind, (g, t, m) in REQUESTS.items()}
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    bin_dir, state = tmp_path / "bin", tmp_path / "slurm"
    bin_dir.mkdir()
    for name in ("sbatch", "sacct", "squeue", "sinfo", "scontrol", "srun", "scancel", "sacctmgr", "sshare"):
        (bin_dir / name).symlink_to(ROOT / "tests" / "fake_slurm" / "slurm.py")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SLURM_DIR": str(state),
           "FAKE_SLURM_SYNC": "1"}
    targets = ["results/smoke/teachers/x-snr-s0/model.safetensors"]
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--workflow-profile", "workflows/profiles/slurm",
                           "--slurm-init-seconds-before-status-checks", "1", "--config", "profile=smoke", "--",
                           *targets], cwd=proj, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert json.loads((proj / "results/smoke/teachers/x-snr-s0/summary.json").read_text())["status"] == "completed"
    submitted = [json.loads(line)["args"] for line in (state / "submissions.jsonl").read_text().splitlines()]
    rules = [re.fullmatch(r"rule_(\w+?)(_wildcards_.*)?", args[args.index("--comment") + 1]).group(1)
             for args in submitted]
    assert sorted(rules) == sorted(KIND_OF_RULE), rules
    for rule, args in zip(rules, submitted):
        call = " ".join(args)
        gpus, minutes, mem = REQUESTS[KIND_OF_RULE[rule]]
        assert f"-t {minutes}" in call and f"--mem {mem}" in call, (rule, call)
        assert f"--gpus={gpus}" in call, (rule, call)
