"""The reader of NVlabs' EDM network pickles (distill/nets/edm_pickle.py), on tiny networks that EDM's own code built
and pickled (tests/data/edm, written by tools/make_edm_fixture.py from an EDM checkout): the suite's implementation
of the architectures gives EDM's outputs, the sha256 is checked, a foreign pickle is refused before anything in it
runs, and the network samples as a suite denoiser."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from distill.nets.edm_pickle import EDMDenoiser, EDMPickleError, load_edm_pickle

DATA = Path(__file__).parent / "data" / "edm"
SHA = json.loads((DATA / "sha256.json").read_text())


@pytest.mark.parametrize("name", sorted(SHA))
def test_the_suite_network_gives_edms_outputs(name):
    net = load_edm_pickle(DATA / f"{name}.pkl", sha256=SHA[name])
    ref = np.load(DATA / f"{name}.npz")
    labels = torch.from_numpy(ref["labels"]).float() if ref["labels"].size else None
    with torch.no_grad():
        d = net(torch.from_numpy(ref["x"]), torch.from_numpy(ref["sigma"]), labels)
    assert torch.allclose(d, torch.from_numpy(ref["d"]), rtol=1e-5, atol=1e-5)
    assert type(net).__name__ in ("VPPrecond", "EDMPrecond") and not net.training


def test_a_changed_file_fails_the_sha256_check(tmp_path):
    bad = tmp_path / "songunet-vp.pkl"
    data = bytearray((DATA / "songunet-vp.pkl").read_bytes())
    data[len(data) // 2] ^= 1
    bad.write_bytes(bytes(data))
    with pytest.raises(EDMPickleError, match="not the published"):
        load_edm_pickle(bad, sha256=SHA["songunet-vp"])


class _Boom:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_foreign_pickle_is_refused_before_anything_runs(tmp_path):
    evil, marker = tmp_path / "evil.pkl", tmp_path / "ran"
    evil.write_bytes(pickle.dumps({"ema": _Boom(marker)}))
    with pytest.raises(EDMPickleError, match=r"refers to (posix|os)\.system.*refusing"):
        load_edm_pickle(evil)
    assert not marker.exists()


def test_edms_source_code_in_the_pickle_is_never_run(tmp_path, monkeypatch):
    """A persistent record in EDM's format whose source would stop the process if it ran: the reader keeps the
    record as data (its class is not one the suite implements) and says so."""
    import sys
    import types

    record = {"type": "class", "version": 6, "module_src": "raise SystemExit('the pickled source ran')",
              "class_name": "Mystery", "state": {}}
    fake = types.ModuleType("torch_utils.persistence")  # only to write the file in EDM's format

    def _reconstruct_persistent_obj(meta):
        raise AssertionError("never called while writing")

    fake._reconstruct_persistent_obj = _reconstruct_persistent_obj
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    monkeypatch.setitem(sys.modules, "torch_utils", types.ModuleType("torch_utils"))
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", fake)

    class Persistent:
        def __reduce__(self):
            return (_reconstruct_persistent_obj, (record,))

    path = tmp_path / "mystery.pkl"
    path.write_bytes(pickle.dumps({"ema": Persistent()}))
    monkeypatch.undo()
    with pytest.raises(EDMPickleError, match="EDM Mystery, which the suite does not implement"):
        load_edm_pickle(path)


def test_other_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="distill fetch"):
        load_edm_pickle(tmp_path / "missing.pkl")
    (tmp_path / "text.pkl").write_text("not a pickle")
    with pytest.raises(EDMPickleError, match="not a readable EDM pickle"):
        load_edm_pickle(tmp_path / "text.pkl")
    with pytest.raises(EDMPickleError, match="holds no 'teacher' network"):
        load_edm_pickle(DATA / "songunet-vp.pkl", key="teacher")


def test_the_edm_network_samples_as_a_suite_denoiser():
    from distill.core.samplers import run_sampler

    net = load_edm_pickle(DATA / "dhariwalunet-edm.pkl", sha256=SHA["dhariwalunet-edm"])
    denoise = EDMDenoiser(net)
    ref = np.load(DATA / "dhariwalunet-edm.npz")
    # the sigma-form view of the suite's VP time gives EDM's D(x; sigma) back
    from distill.core.denoiser import SigmaFormDenoiser

    x, sigma = torch.from_numpy(ref["x"]), torch.from_numpy(ref["sigma"]).double()
    labels = torch.from_numpy(ref["labels"]).argmax(1)
    out = torch.stack([SigmaFormDenoiser(denoise)(x[i:i + 1], sigma[i], {"label": labels[i:i + 1]})[0]
                       for i in range(4)])
    assert torch.allclose(out, torch.from_numpy(ref["d"]), rtol=1e-4, atol=1e-4)
    images = run_sampler("euler", denoise, (3, 8, 8), seeds=range(3), steps=4, cond={"label": torch.tensor([0, 1, 2])},
                         grid="edm", grid_options={"sigma_min": 0.006}, afs=True)
    assert images.shape == (3, 3, 8, 8) and torch.isfinite(images).all()
    with pytest.raises(ValueError, match="class-conditional"):
        denoise(torch.zeros(1, 3, 8, 8), torch.ones(1), None)


def test_an_imported_network_is_a_teacher_every_command_loads(tmp_path, monkeypatch, smoke_cfg):
    from distill.data import artifacts
    from distill.pipeline import import_edm, sample
    from distill.pipeline.common import load_denoiser

    monkeypatch.setitem(artifacts.ARTIFACTS, "edm_fixture", artifacts.Artifact(
        "edm_fixture", "the test's EDM network", url=None, sha256=SHA["songunet-vp"], file="songunet-vp.pkl"))
    import_edm.run("edm_fixture", tmp_path / "teacher", DATA / "songunet-vp.pkl")
    denoiser, cfg = load_denoiser(tmp_path / "teacher" / "model.safetensors")
    assert cfg["network"]["kind"] == "edm" and cfg["data"] == {"shape": [3, 8, 8], "num_classes": 0}
    ref = np.load(DATA / "songunet-vp.npz")
    with torch.no_grad():
        d = denoiser.net(torch.from_numpy(ref["x"]), torch.from_numpy(ref["sigma"]))
    assert torch.allclose(d, torch.from_numpy(ref["d"]), rtol=1e-5, atol=1e-5)
    status = sample.run(smoke_cfg, tmp_path / "teacher" / "model.safetensors", "dpmpp", tmp_path / "s.npz",
                        progress=False, num_samples=3, steps=4, grid="edm", grid_options={"sigma_min": 0.006})
    assert status == "ok" and np.load(tmp_path / "s.npz")["images"].shape == (3, 3, 8, 8)
    with pytest.raises(EDMPickleError, match="not the published"):  # the real artifact's sha256 is checked
        import_edm.run("edm_cifar10_vp", tmp_path / "other", DATA / "songunet-vp.pkl")


def test_sfd_distils_an_imported_edm_network(tmp_path, monkeypatch, smoke_cfg):
    """The paper profile's path on the test's EDM network: SFD's student starts as a copy of the EDM network,
    trains, and samples from its own model folder (rebuilt from the pickle)."""
    from distill.data import artifacts
    from distill.pipeline import import_edm, sample
    from distill.steps.sfd import train_student

    monkeypatch.setitem(artifacts.ARTIFACTS, "edm_fixture", artifacts.Artifact(
        "edm_fixture", "the test's EDM network", url=None, sha256=SHA["songunet-vp"], file="songunet-vp.pkl"))
    import_edm.run("edm_fixture", tmp_path / "teacher", DATA / "songunet-vp.pkl")
    summary = train_student(smoke_cfg, "nfe2", tmp_path / "teacher" / "model.safetensors", tmp_path / "student",
                            progress=False)
    assert summary["status"] == "completed" and summary["steps"] > 0
    status = sample.run(smoke_cfg, tmp_path / "student" / "model.safetensors", None, tmp_path / "s.npz",
                        progress=False, num_samples=2)
    assert status == "ok" and np.load(tmp_path / "s.npz")["nfe"] == 2


def test_sfd_distils_a_class_conditional_edm_network(tmp_path, monkeypatch, smoke_cfg):
    """SFD Table 3's path (paper profile, sfd.experiments.imagenet64) on the test's class-conditional ADM network:
    every trajectory of the student's training draws a label, as sfd-main draws one-hot labels, and sample i takes
    class i mod 5 (the suite's protocol)."""
    from distill.data import artifacts
    from distill.pipeline import import_edm, sample
    from distill.pipeline.common import load_denoiser
    from distill.steps.sfd import train_student

    monkeypatch.setitem(artifacts.ARTIFACTS, "edm_fixture_cond", artifacts.Artifact(
        "edm_fixture_cond", "the test's class-conditional EDM network", url=None, sha256=SHA["dhariwalunet-edm"],
        file="dhariwalunet-edm.pkl"))
    import_edm.run("edm_fixture_cond", tmp_path / "teacher", DATA / "dhariwalunet-edm.pkl")
    _, cfg = load_denoiser(tmp_path / "teacher" / "model.safetensors")
    assert cfg["data"] == {"shape": [3, 8, 8], "num_classes": 5}
    summary = train_student(smoke_cfg, "nfe2", tmp_path / "teacher" / "model.safetensors", tmp_path / "student",
                            progress=False)
    assert summary["status"] == "completed" and summary["steps"] > 0
    status = sample.run(smoke_cfg, tmp_path / "student" / "model.safetensors", None, tmp_path / "s.npz",
                        progress=False, num_samples=4)
    out = np.load(tmp_path / "s.npz")
    assert status == "ok" and out["nfe"] == 2 and out["images"].shape == (4, 3, 8, 8)
