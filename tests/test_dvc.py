"""DVC as users share results: a stage reproduced in one clone is pushed to a local-folder remote, pulled into another
clone byte for byte (then up to date, nothing rerun), and a deleted output is rebuilt by `dvc repro`; the committed
mini lock matches this code. On the smoke profile's knowledge-distillation stage
(the cheapest whole stage: one teacher, its pairs, a one-step student)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}  # as with the environment activated
STAGE = "kd-smoke"
KEPT = "results/smoke/kd"  # the stage's cached output folder


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _git_repo(dest: Path) -> Path:
    from distill.workflow.verify import fresh_copy

    dest.mkdir()
    fresh_copy(dest)
    _run(dest, "git", "init", "-q")
    _run(dest, "git", "add", "-A")
    _run(dest, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "clone")
    return dest


def _in_git(proj: Path) -> list[str]:
    """The stage's outputs DVC does not cache (metrics, plot data, small files): they travel in git."""
    stage = yaml.safe_load((proj / "dvc.yaml").read_text())["stages"][STAGE]
    return [path for key in ("outs", "metrics", "plots") for out in stage.get(key, [])
            for path, opts in out.items() if opts.get("cache") is False]


def _digests(folder: Path) -> dict[str, str]:
    """Every file's sha256 (training state aside)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "train_state.pt"}


def _contents(folder: Path) -> dict[str, str]:
    """What a rebuild must reproduce: every tensor of the weights and every array of the .npz files, bit for bit
    (the records beside them name their own commit, wall times and the sha256 of their inputs' files)."""
    from safetensors.numpy import load_file

    out = {}
    for path in sorted(folder.rglob("*.safetensors")):
        for key, tensor in sorted(load_file(path).items()):
            out[f"{path.relative_to(folder)}:{key}"] = hashlib.sha256(tensor.tobytes()).hexdigest()
    for path in sorted(folder.rglob("*.npz")):
        with np.load(path) as z:
            for key in sorted(z.files):
                if key not in ("meta", "provenance", "wall_seconds"):
                    out[f"{path.relative_to(folder)}:{key}"] = hashlib.sha256(z[key].tobytes()).hexdigest()
    return out


def stale_mini_stages(root: Path, tmp: Path) -> dict:
    """The mini stages `dvc status` calls changed in what git holds at `root` (a clone of its HEAD), not in its working
    tree: a user's run of the main job re-makes the committed mini results and writes over them, which says nothing
    about the lock (`distill remade` judges those numbers). Cached outputs not pulled (a fresh clone) are no change."""
    clone = tmp / "committed"
    _run(tmp, "git", "clone", "-q", str(root), str(clone))
    stages = [s for s in yaml.safe_load((clone / "dvc.yaml").read_text())["stages"] if s.endswith("-mini")]
    status = json.loads(_run(clone, DVC, "status", "--json", *stages).stdout)
    return {stage: change for stage, changes in status.items() for change in changes
            if set(change) != {"changed outs"} or set(change["changed outs"].values()) - {"not in cache", "deleted"}}


def _relock_advice(stale: dict) -> str:
    return (f"{stale}\nthe committed mini lock is stale: `distill dvc-relock <the mini stages>` if this change leaves "
            "the mini results as they are, else re-make them with `dvc repro` and commit the results")


def test_the_committed_mini_lock_is_current(tmp_path):
    """dvc.lock describes the committed mini results with the committed code: after a pull, `dvc repro` has nothing to
    run. A change to the code (distill/, workflows/, Snakefile) or params marks the stages changed; if it does not
    change the mini results, record that with `distill dvc-relock <the mini stages>`, else re-make them (`dvc
    repro`). It reads git's HEAD: commit a change before this test can see it."""
    stale = stale_mini_stages(ROOT, tmp_path)
    assert not stale, _relock_advice(stale)


def test_the_committed_lock_holds_after_a_user_re_made_the_results(readme_project, tmp_path):
    """The README's two commands in either order: after the main job ran in a clone (here the README's commands on
    the smoke profile; on a fresh clone at mini it re-makes the committed mini results and writes over them), the
    lock test still judges what git holds, and the re-made numbers are judged against the committed ones instead."""
    from distill.results.remade import remade

    proj = readme_project.copy(tmp_path / "project")
    metrics = sorted((proj / "results" / "mini" / "metrics").rglob("*.json"))[0]
    record = json.loads(metrics.read_text())
    record["metrics"]["fid"]["min"] += 0.5  # as a re-made teacher on another CPU moves it
    metrics.write_text(json.dumps(record))
    working_tree = json.loads(_run(proj, DVC, "status", "--json", "table1-mini").stdout)
    assert "table1-mini" in working_tree  # the working tree's results are not the committed ones
    stale = stale_mini_stages(proj, tmp_path)
    assert not stale, _relock_advice(stale)
    assert [r.verdict for r in remade(proj, "results/mini")] == ["within"]


@pytest.mark.integration
def test_push_pull_and_repro_through_a_local_folder_remote(tmp_path, readme_project):
    """The first clone starts with the smoke results the README's commands made (tests/readme_run.py), so its `dvc
    repro` records them (rerunning only the KD report); the rebuild in the second clone computes the stage again and
    must give the same weights and samples bit for bit."""
    first = _git_repo(tmp_path / "first")
    remote = tmp_path / "lab-remote"
    _run(first, DVC, "remote", "add", "--default", "--force", "lab", str(remote))  # the README's one command
    _run(first, "git", "commit", "-qam", "remote")
    shutil.copytree(readme_project.require() / "results" / "smoke", first / "results" / "smoke")  # times kept
    for copy in (first / KEPT).glob("*_s[0-9]*"):  # the README's kd_spread made these: its runs, not the stage's
        shutil.rmtree(copy)

    _run(first, DVC, "repro", STAGE)
    assert "train_state.pt" not in (first / "dvc.lock").read_text(), "training state must not be cached"
    _run(first, DVC, "push", STAGE)
    _run(first, "git", "add", "-A")
    _run(first, "git", "add", "-f", *_in_git(first))  # as .gitignore keeps mini's small outputs in git
    _run(first, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "results")

    second = tmp_path / "second"
    _run(tmp_path, "git", "clone", "-q", str(first), str(second))
    _run(second, DVC, "pull", STAGE)
    assert _digests(second / KEPT) == _digests(first / KEPT)
    up_to_date = _run(second, DVC, "repro", STAGE)
    assert "didn't change" in up_to_date.stdout and "Running stage" not in up_to_date.stdout, up_to_date.stdout

    # a deleted output is rebuilt (Snakemake remakes the target's kept files), in a clone that has what the stage
    # reads from other stages (the teacher, the classifier and the reference statistics), as the first one has
    for shared in ("teachers", "classifier", "refs"):
        shutil.copytree(first / "results" / "smoke" / shared, second / "results" / "smoke" / shared)
    shutil.rmtree(second / KEPT)
    _run(second, DVC, "repro", STAGE)
    assert _contents(second / KEPT) == _contents(first / KEPT) and len(_contents(first / KEPT)) >= 2
    assert "modified" not in _run(second, DVC, "status", STAGE).stdout

    # a code change that leaves the results as they are, in a clone without the outputs: relock records it
    third = tmp_path / "third"
    _run(tmp_path, "git", "clone", "-q", str(first), str(third))
    with open(third / "distill" / "__init__.py", "a") as f:
        f.write("# a comment\n")
    assert "changed deps" in _run(third, DVC, "status", STAGE).stdout
    _run(third, sys.executable, "-m", "distill", "dvc-relock", STAGE)
    status = json.loads(_run(third, DVC, "status", "--json", STAGE).stdout)
    assert [set(c) for c in status[STAGE]] == [{"changed outs"}], status  # only the outputs not pulled
    assert set(status[STAGE][0]["changed outs"].values()) <= {"deleted", "not in cache"}, status
