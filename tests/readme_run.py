"""Every command the README shows, run in the README's order in a fresh copy of the project (once per test session:
tests/test_readme.py checks they all succeed; tests/test_pipeline.py checks the smoke pipeline's outputs on the
project they built). The substitutions (the only differences from the README's text):

- the copy's params.yaml selects the `smoke` profile, and an explicit `mini` profile becomes `smoke` (minutes, not
  the half hour of the real job);
- `bash tools/install.sh && ` is dropped: the suite runs in the installed environment, and `.venv/bin/<file>` (a
  tool, or `activate`) is that environment's;
- the README's example inputs exist: `path/to/real_images.zip` (PNG digits) and `generated.npz` (the samples of the
  README's own `distill sample` command);
- the DVC commands act on the smoke stages (`table1-mini` becomes `table1-smoke`), and the default remote (a folder
  under the home directory) is one under the test's temporary folder;
- `distill verify` judges committed results; no smoke results are committed, so the smoke results table is built
  (`snakemake -- results/smoke/results.csv`) before it runs.
Commands not run here are listed in NOT_RUN with the reason; a README command that is neither run nor listed fails.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

NOT_RUN = {
    "bash tools/install.sh && .venv/bin/python -m pytest": "the test suite itself (what CI runs)",
    "bash tools/bench.sh": "minutes of wall-clock timings, for an idle machine; the judge it ends with is tested in "
                           "tests/test_bench.py and its overhead benchmarks run in the test command",
    ".venv/bin/distill fetch --profile paper": "downloads from the internet (no network here); the download path is "
                                               "tested offline against a local server in tests/test_fetch.py",
    ".venv/bin/distill import-diffusers --profile paper --name sd15 --folder data/sd15 --resolution 512 --out "
    "results/paper/teachers/sd15": "needs the real Stable Diffusion folder (gigabytes, from the hub); the same command "
                                   "runs on a tiny pipeline in tests/test_diffusers_teacher.py",
    ".venv/bin/distill sample-text --profile paper --model results/paper/teachers/sd15/model.safetensors --prompts "
    "data/coco/captions.txt --sampler dpmpp --steps 5 --num-samples 30000 --grid-option sigma_min=0.0292 "
    "--grid-option sigma_max=14.6146 --out results/paper/sd15/dpmpp5.npz": "needs the real Stable Diffusion teacher "
                                   "and a GPU; the same command runs on a tiny pipeline in "
                                   "tests/test_diffusers_teacher.py",
    ".venv/bin/distill fetch --profile paper sd15 sdxl clip_vit_g14 coco_captions coco_fid_stats "
    "coco_train2014_images coco_train2014_captions inception":
        "downloads gigabytes from the Hugging Face hub, GitHub and cocodataset.org (no network here); the "
        "pinned-commit fetch runs against a stand-in hub in tests/test_text_artifacts.py, a recorded archive's fetch "
        "and unpacking against a local server in tests/test_fetch.py",
    ".venv/bin/snakemake --workflow-profile workflows/profiles/slurm --config profile=paper -- text_to_image":
        "needs the real teachers, a SLURM cluster and GPUs; the same target runs end to end on tiny models in "
        "tests/test_text_to_image_workflow.py",
    ".venv/bin/snakemake --workflow-profile workflows/profiles/slurm --config profile=paper -- "
    "reports/sfd_imagenet64.pdf": "needs NVlabs' ImageNet-64 network, the ImageNet-64 data, a SLURM cluster and GPUs; "
                                  "the paper's dry run through the same profile plans it in tests/test_cluster.py, "
                                  "and SFD distils a class-conditional EDM network in tests/test_edm_pickle.py",
    "dvc remote add --default lab ssh://server/srv/distill-dvc": "a lab server: push and pull through a local-folder "
                                                                   "remote are tested in tests/test_dvc.py",
}


def readme_commands(text: str) -> list[str]:
    """The commands of the README's ```bash blocks, without comments, in order."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def substitute(command: str) -> str:
    bin_dir = Path(sys.executable).parent
    command = command.replace("bash tools/install.sh && ", "")
    command = re.sub(r"\.venv/bin/(\w+)", lambda m: str(bin_dir / m.group(1)), command)
    command = re.sub(r"^dvc ", f"{bin_dir / 'dvc'} ", command)
    command = re.sub(r"\b(\w+)-mini\b", r"\1-smoke", command).replace("results/mini/", "results/smoke/")
    return command.replace("--profile mini", "--profile smoke").replace("profile=mini", "profile=smoke")


@dataclass
class ReadmeRun:
    proj: Path
    failure: str | None  # the first README command that failed, with its output; None when all ran

    def require(self) -> Path:
        """The built project; fails the calling test when a README command failed."""
        assert self.failure is None, f"the README run the test reads failed:\n{self.failure}"
        return self.proj

    def copy(self, dest: Path) -> Path:
        """A copy of the built project (modification times and Snakemake's records kept) for a test that changes it."""
        shutil.copytree(self.require(), dest, symlinks=True)
        return dest


def run_readme(tmp: Path) -> ReadmeRun:
    from distill.workflow.verify import fresh_copy

    proj = tmp / "clone"  # the tracked files of this working tree, as a clone of it would have them
    fresh_copy(proj, ROOT, results=True)
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params["profile"] = "smoke"
    text = (proj / "params.yaml").read_text()
    (proj / "params.yaml").write_text(re.sub(r"(?m)^profile: mini$", "profile: smoke", text))
    assert yaml.safe_load((proj / "params.yaml").read_text()) == params
    subprocess.run("git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm copy", shell=True,
                   cwd=proj, check=True)
    _example_inputs(proj)
    for command in readme_commands((ROOT / "README.md").read_text()):
        if command in NOT_RUN:
            continue
        if "generated.npz" in command and not (proj / "generated.npz").exists():
            shutil.copy(proj / "runs" / "x-trunc" / "ddim.npz", proj / "generated.npz")
        if "distill verify" in command:
            failure = run_in(proj, substitute(".venv/bin/snakemake --cores all -- results/smoke/results.csv"))
            if failure:
                return ReadmeRun(proj, failure)
        start = time.perf_counter()
        failure = run_in(proj, substitute(command), command)
        SECONDS.append((command, time.perf_counter() - start))
        if failure:
            return ReadmeRun(proj, failure)
    return ReadmeRun(proj, None)


SECONDS: list[tuple[str, float]] = []  # each README command's wall time in this session's run (--durations' view)


def run_in(proj: Path, command: str, shown: str | None = None) -> str | None:
    """Run a command in the project; None on success, else what failed."""
    home = proj.parent / "home"  # the default DVC remote lives under ~: not the real home's
    home.mkdir(exist_ok=True)
    with STARTING:  # stop() sees every command started, or keeps the next one from starting
        if STOPPED.is_set():  # the session ended: start nothing more
            return f"README run stopped before: {shown or command}"
        proc = subprocess.Popen(command, shell=True, cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, executable="/bin/bash", env={**os.environ, "HOME": str(home)},
                                start_new_session=True)
        RUNNING.append(proc)
    try:
        out, _ = proc.communicate()
    finally:
        RUNNING.remove(proc)
    if proc.returncode == 0:
        return None
    return f"README command failed: {shown or command}\n{out[-3000:]}"


RUNNING: list[subprocess.Popen] = []  # the README command now running (a background run can be stopped: stop())
STOPPED, STARTING = threading.Event(), threading.Lock()


def stop() -> None:
    """Kill the README command now running, with every process it started (its own session), and start no other."""
    with STARTING:
        STOPPED.set()
    for proc in list(RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _example_inputs(proj: Path) -> None:
    from PIL import Image

    from distill.data import load_dataset

    images = load_dataset({"name": "digits"}).data[:80]
    (proj / "path" / "to").mkdir(parents=True)
    with zipfile.ZipFile(proj / "path" / "to" / "real_images.zip", "w") as z:
        for i, img in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(img[0]).save(buf, format="PNG")
            z.writestr(f"img{i:05d}.png", buf.getvalue())
