import pytest
import torch

from distill.core.checkpoint import (CheckpointError, atomic_write, load_into, load_state, load_weights, save_state,
                                     save_weights)
from distill.nets.unet import UNet


def test_weights_round_trip_with_config_beside(tmp_path):
    net = UNet(1, 1, 8, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    save_weights(tmp_path / "model.safetensors", net.state_dict(), {"network": {"ch": 8}})
    assert (tmp_path / "model.json").is_file()
    tensors, cfg = load_weights(tmp_path / "model.safetensors")
    assert cfg["network"] == {"ch": 8} and len(cfg["weights_sha256"]) == 64
    other = UNet(1, 1, 8, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    load_into(other, tensors, "x")
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))


def test_corrupt_or_missing_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_weights(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_weights(bad)
    (tmp_path / "state.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="delete it"):
        load_state(tmp_path / "state.pt")
    net = UNet(1, 1, 8, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    with pytest.raises(CheckpointError, match="do not match"):
        load_into(net, {"w": torch.zeros(1)}, "file")


def _pair(folder, seed):
    torch.manual_seed(seed)
    net = UNet(1, 1, 8, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    save_weights(folder / "model.safetensors", net.state_dict(), {"network": {"ch": 8}, "parameterization": "v"})
    return folder / "model.safetensors"


def test_weights_and_config_name_each_other(tmp_path):
    import json
    import shutil

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = _pair(tmp_path / "a", 0), _pair(tmp_path / "b", 1)
    shutil.copy(b, a)  # weights of another run beside this run's config
    with pytest.raises(CheckpointError, match="weights were swapped or edited"):
        load_weights(a)
    cfg = json.loads((tmp_path / "b" / "model.json").read_text())
    cfg["parameterization"] = "eps"  # an edited config beside its weights
    (tmp_path / "b" / "model.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="config was edited"):
        load_weights(b)
    del cfg["weights_sha256"]
    (tmp_path / "b" / "model.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="carry no hash"):
        load_weights(b)


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.pt"
    save_state(target, {"step": 1})

    def fail(path):
        path.write_text("half")
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert load_state(target) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.pt"]


def test_a_killed_writers_temporary_file_goes_with_the_next_write(tmp_path):
    (tmp_path / ".out.pt.k2j4.tmp").write_text("half")  # SIGKILL mid-write: no handler ran
    (tmp_path / ".other.pt.x1.tmp").write_text("another output's")
    save_state(tmp_path / "out.pt", {"step": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.x1.tmp", "out.pt"]


def test_json_records_are_strict(tmp_path):
    import json

    from distill.core.checkpoint import write_json

    write_json(tmp_path / "r.json", {"fid": float("nan"), "loss": [1.0, float("inf")]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"fid": None, "loss": [1.0, None]}


def test_atomic_writes_get_the_mode_the_umask_gives(tmp_path):
    import os

    old = os.umask(0o002)  # a lab group's umask: group-writable
    try:
        save_state(tmp_path / "a.pt", {"step": 1})
        os.umask(0o077)  # a private one
        save_state(tmp_path / "b.pt", {"step": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "a.pt").stat().st_mode & 0o777 == 0o664
    assert (tmp_path / "b.pt").stat().st_mode & 0o777 == 0o600
