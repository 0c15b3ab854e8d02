"""Checkpoints: weights as safetensors with the resolved config beside them (model.json), and the full training
state (optimizer, EMA, RNG states, step) written atomically: a temporary file, then an atomic rename."""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors import safe_open
from safetensors.torch import load_file, save_file


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or does not match the network; the message says which file and why."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp_path) on a temporary file in the same folder, then rename it over `path` (atomic on POSIX).
    The file gets the mode a plain open() would give it (0666 less the umask), not the temporary file's 0600, so a
    lab group can read results on a shared file system. A temporary file of this path left by a writer killed
    mid-write (SIGKILL, a node lost) is removed first: one writer per output, as Snakemake and rank 0 ensure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):  # left by a writer killed mid-write
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _finite_or_none(obj: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> None:
    """Write strict JSON atomically (NaN and infinities become null)."""
    text = json.dumps(_finite_or_none(obj), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    atomic_write(path, lambda p: p.write_text(text))


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (recorded with every metric for its extractor weights and reference statistics)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config_path(weights_path: str | Path) -> Path:
    return Path(weights_path).with_suffix(".json")


def _config_sha256(config: Mapping[str, Any]) -> str:
    """sha256 of the config's canonical JSON, without its own `weights_sha256` entry."""
    body = {k: v for k, v in config.items() if k != "weights_sha256"}
    text = json.dumps(_finite_or_none(body), sort_keys=True, default=str, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def save_weights(path: str | Path, state_dict: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> None:
    """Write weights (safetensors) and, beside them, `<name>.json` with the resolved config. Each names the other's
    sha256 (the weights' metadata holds the config's, the config holds the weights'), so a swapped or edited file of
    the pair is refused by load_weights."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    config = {k: v for k, v in dict(config).items() if k != "weights_sha256"}
    # one metadata key: safetensors writes several in an order that changes from run to run (same weights, other bytes)
    metadata = {"config_sha256": _config_sha256(config)}

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp), metadata=metadata)
        write_json(config_path(path), {**config, "weights_sha256": file_sha256(tmp)})

    atomic_write(path, write)


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read weights and their config; a missing, corrupt or mismatched file raises CheckpointError naming it."""
    path = Path(path)
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.safetensors"))
        hint = f"the weights file in it: {path / inside[0]}" if len(inside) == 1 else \
            f"one of its weights files: {', '.join(inside)}" if inside else "a weights file (*.safetensors)"
        raise CheckpointError(f"{path} is a folder; give {hint}")
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist; run the step that trains it first")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"weights file {path} is corrupt or not safetensors ({exc}); delete it and retrain") from exc
    cfg_file = config_path(path)
    try:
        config = json.loads(cfg_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"config {cfg_file} beside the weights is missing or corrupt ({exc})") from exc
    if not isinstance(config, dict) or "weights_sha256" not in config or "config_sha256" not in metadata:
        raise CheckpointError(f"{path} and {cfg_file} carry no hash of each other (written by an older version of "
                              "distill); retrain, or re-run the step that wrote them")
    if file_sha256(path) != config["weights_sha256"]:
        raise CheckpointError(f"weights file {path} is not the one {cfg_file} was written with (sha256 differs): the "
                              "weights were swapped or edited; restore the pair or retrain")
    if _config_sha256(config) != metadata["config_sha256"]:
        raise CheckpointError(f"config {cfg_file} is not the one {path} was written with (sha256 differs): the config "
                              "was edited or comes from another run; restore the pair or retrain")
    return tensors, config


DIFFUSERS_COND_PROJ = "time_embedding.cond_proj.weight"  # a diffusers UNet's timestep_cond input (LCM's)


def load_into(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], source: str | Path,
              new_conditions: tuple[str, ...] = ()) -> None:
    """Load weights strictly. `new_conditions` names scalar conditions the module has and the weights lack (a
    student that gains SFD-v's `steps` or guided distillation's `w`): their embeddings are the only missing keys
    allowed, and each embedding's last layer is zeroed (a diffusers UNet's timestep_cond projection, zeros), so the
    student starts as the network it was loaded from."""
    tensors = dict(tensors)
    if new_conditions:
        own = module.state_dict()
        for name in new_conditions:
            prefix = next((k[:k.index(f"scalars.{name}.") + len(f"scalars.{name}.")] for k in own
                           if f"scalars.{name}." in k), None)
            if prefix is None and DIFFUSERS_COND_PROJ in own:  # a diffusers UNet: its one timestep_cond projection
                if DIFFUSERS_COND_PROJ in tensors:
                    raise CheckpointError(f"weights in {source} already take a timestep_cond; {name!r} is not new")
                tensors[DIFFUSERS_COND_PROJ] = torch.zeros_like(own[DIFFUSERS_COND_PROJ])
                continue
            if prefix is None:
                raise CheckpointError(f"the network has no embedding of the scalar condition {name!r} to add")
            if any(k.startswith(prefix) for k in tensors):
                raise CheckpointError(f"weights in {source} already embed the condition {name!r}; it is not new")
            embedding = module.get_submodule(prefix.rstrip("."))
            last = embedding.mlp[-1]
            torch.nn.init.zeros_(last.weight)
            torch.nn.init.zeros_(last.bias)
            tensors.update({k: v for k, v in own.items() if k.startswith(prefix)})
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"weights in {source} do not match the network built from its config: {exc}") from exc


def save_state(path: str | Path, state: Mapping[str, Any]) -> None:
    atomic_write(path, lambda p: torch.save(dict(state), p))


def load_state(path: str | Path) -> dict[str, Any]:
    """A training state, read by torch's weights-only unpickler: tensors, containers and numbers, never a global that
    would run code (a tampered train_state.pt in a pulled run folder or a shared cache is refused)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        named = [line.strip() for line in str(exc).splitlines() if "GLOBAL" in line]
        if named:
            raise CheckpointError(f"training state {path} names code to run while it is read, which a training state "
                                  f"never does, so it is refused ({named[0][:160]}). Delete it to start the run from "
                                  "scratch, or restore it from where it came") from exc
        raise CheckpointError(f"training state {path} is corrupt (UnpicklingError: {exc}); delete it to start the "
                              "run from scratch") from exc
    except Exception as exc:
        raise CheckpointError(f"training state {path} is corrupt ({type(exc).__name__}: {exc}); delete it to start "
                              "the run from scratch") from exc
