import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import torch

from distill.config import load_profile
from distill.warm import SOCKET_VARIABLE
from readme_run import SECONDS, run_readme, stop as stop_readme

ROOT = Path(__file__).resolve().parents[1]


def make_project(tmp_path: Path) -> Path:
    """A copy of the project's workflow (Snakefile, params, rule files, the default profile, published numbers)."""
    proj = tmp_path / "project"
    proj.mkdir(parents=True)
    for name in ("Snakefile", "params.yaml"):
        shutil.copy(ROOT / name, proj / name)
    for name in ("workflows", "profiles"):
        shutil.copytree(ROOT / name, proj / name)
    shutil.copytree(ROOT / "results" / "published", proj / "results" / "published")
    return proj


def run_snakemake(proj: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=proj, capture_output=True,
                          text=True)


def pytest_addoption(parser):
    parser.addoption("--throughput", action="store_true",
                     help="also run the benchmarks of tests/benchmarks that only measure throughput (no portable "
                          "aim): tools/bench.sh, on an idle machine")
    parser.addoption("--bench-device", choices=("cpu", "cuda"), default="cpu",
                     help="the device tests/benchmarks run their networks on (cuda: the timers synchronise the GPU; "
                          "the run is filed under the GPU's fingerprint)")
    parser.addoption("--bench-profile", default="mini",
                     help="the params.yaml profile whose networks and batch sizes tests/benchmarks time")


def pytest_collection_modifyitems(config, items):
    """Without --throughput, the benchmarks not marked `overhead` are deselected."""
    if config.getoption("--throughput"):
        return
    keep, drop = [], []
    for item in items:
        bench = "benchmark" in getattr(item, "fixturenames", ())
        (drop if bench and item.get_closest_marker("overhead") is None else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    _readme_run_in_background(config, items)


def _readme_run_in_background(config, items):
    """When some collected test reads the README run's project: start that run now, in the background, and order
    the tests so that those reading it come after the rest, and the benchmarks (timings) after it has finished."""
    late = [i for i in items if i.get_closest_marker("readme_late") is not None]
    needs = [i for i in items if "readme_project" in getattr(i, "fixturenames", ()) and i not in late]
    if not (needs or late) or config.option.collectonly:
        return
    bench = [i for i in items if "benchmark" in getattr(i, "fixturenames", ()) and i not in needs + late]
    first = [i for i in items if i not in needs and i not in bench and i not in late]
    items[:] = first + late + needs + bench
    config._readme_run = _BackgroundReadme(config._tmp_path_factory.mktemp("readme"))


def pytest_terminal_summary(terminalreporter, config):
    """With --durations: the README run's commands, slowest first (it runs in the background, outside any test)."""
    if getattr(config, "_readme_run", None) is None or not config.getoption("durations", None):
        return
    terminalreporter.write_sep("=", "README run: seconds per command")
    for command, seconds in sorted(SECONDS, key=lambda c: -c[1]):
        terminalreporter.write_line(f"{seconds:7.1f}s  {command[:110]}")


def pytest_configure(config):
    """Every `python -m distill` the session runs (the README run's Snakemake jobs, the workflow tests' jobs, the
    commands the tests call) starts as a fork of one warm process that has imported torch and the suite
    (distill/warm.py), not as a fresh interpreter: about 3 s saved per command. A command that starts before the
    server listens runs as a fresh process, with the same result."""
    if config.option.collectonly or os.environ.get(SOCKET_VARIABLE):
        return
    folder = Path(tempfile.mkdtemp(prefix="distill-warm-"))
    with open(folder / "server.log", "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "distill.warm_server", "--socket", str(folder / "sock"),
                                   "--owner", str(os.getpid())],
                                  cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
    os.environ[SOCKET_VARIABLE] = str(folder / "sock")
    config._warm_server = (server, folder)


def pytest_sessionfinish(session):
    """A session that ends early (-x, Ctrl-C) stops the background README run with it; then the warm server."""
    background = getattr(session.config, "_readme_run", None)
    if background is not None and background.thread.is_alive():
        stop_readme()
        background.thread.join(timeout=30)
    warm = getattr(session.config, "_warm_server", None)
    if warm is not None:
        server, folder = warm
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        os.environ.pop(SOCKET_VARIABLE, None)
        shutil.rmtree(folder, ignore_errors=True)


class _BackgroundReadme:
    """The README run, started in a thread as soon as the collected tests are known to need it, so that its
    Snakemake jobs and the unit tests share the machine's cores; the tests that read its project run after the
    others (pytest_collection_modifyitems)."""

    def __init__(self, tmp: Path):
        self.result, self.error = None, None
        self.thread = threading.Thread(target=self._run, args=(tmp,), name="readme-run", daemon=True)
        self.thread.start()

    def _run(self, tmp: Path) -> None:
        try:
            self.result = run_readme(tmp)
        except BaseException as e:  # raised again in the test that asks for the project
            self.error = e

    def get(self):
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture(scope="session")
def readme_project(request, tmp_path_factory):
    """The README's commands run once on the smoke profile in a fresh copy (tests/readme_run.py): the README test
    checks they all succeed, the pipeline tests read (copies of) the project they built. A test that does its own
    work first and reads the project only at its end is marked `readme_late` and asks for it then
    (request.getfixturevalue): it runs while the README run is still going."""
    background = getattr(request.config, "_readme_run", None)
    return background.get() if background is not None else run_readme(tmp_path_factory.mktemp("readme"))


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)


@pytest.fixture
def smoke_cfg():
    """The smoke profile of the project's params.yaml (a fresh copy per test)."""
    return copy.deepcopy(load_profile(ROOT / "params.yaml", "smoke"))


class GaussianDenoiser:
    """Analytic x-hat for data x ~ N(mu, s^2 I): the exact posterior mean E[x | z_t] under the VP schedule."""

    def __init__(self, mu: float, s: float, schedule=None):
        from distill.core.schedule import CosineSchedule

        self.mu, self.s, self.schedule = mu, s, schedule or CosineSchedule()

    def __call__(self, z, t, cond=None):
        from distill.core.schedule import broadcast_like

        alpha, sigma = self.schedule.alpha_sigma(t)
        a, sg = broadcast_like(alpha, z), broadcast_like(sigma, z)
        # x | z ~ Gaussian: E[x|z] = mu + a s^2 (z - a mu) / (a^2 s^2 + sigma^2)
        return self.mu + a * self.s**2 * (z - a * self.mu) / (a**2 * self.s**2 + sg**2)


@pytest.fixture
def gaussian_denoiser():
    return GaussianDenoiser(0.3, 0.2)


class TwoClassGaussian:
    """The two-class extension of GaussianDenoiser for classifier-free guidance: class c has x ~ N(MUS[c], S^2 I),
    and the null label (2) is the equal mixture of both. Exact E[x | z_t, c] per class (GaussianDenoiser's) and, for
    the null label, E[x | z_t] of the mixture (the class posterior p(c | z_t) weighting the class means). A `w`
    condition, when given, makes it the ideal stage-one student: it returns the guided x-hat^w itself."""

    MUS, S, NULL = (-0.5, 0.4), 0.2, 2

    def __init__(self, schedule=None):
        from distill.core.schedule import CosineSchedule

        self.schedule, self.calls = schedule or CosineSchedule(), 0
        self.classes = [GaussianDenoiser(mu, self.S, self.schedule) for mu in self.MUS]

    def posterior_means(self, z, t):
        from distill.core.schedule import broadcast_like

        alpha, sigma = self.schedule.alpha_sigma(t)
        a, sg = broadcast_like(alpha, z), broadcast_like(sigma, z)
        means = [c(z, t) for c in self.classes]
        var = a**2 * self.S**2 + sg**2  # z_t | c ~ N(a mu_c, a^2 S^2 + sigma^2) per dimension
        logp = torch.stack([(-(z - a * mu) ** 2 / (2 * var)).flatten(1).sum(1) for mu in self.MUS])
        post = torch.softmax(logp, dim=0).reshape(2, -1, *([1] * (z.ndim - 1)))
        return means, post[0] * means[0] + post[1] * means[1]

    def __call__(self, z, t, cond):
        self.calls += 1
        means, mixture = self.posterior_means(z, t)
        label = cond["label"].reshape(-1, *([1] * (z.ndim - 1)))
        x = torch.where(label == 0, means[0], torch.where(label == 1, means[1], mixture))
        if "w" in cond:  # x-hat^w = (1 + w) x-hat_c - w x-hat_null
            w = cond["w"].to(z.dtype).reshape(-1, *([1] * (z.ndim - 1)))
            x = (1 + w) * x - w * mixture
        return x
