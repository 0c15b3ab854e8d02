"""Read NVlabs' EDM network pickles (edm-cifar10-32x32-uncond-vp.pkl, edm-imagenet-64x64-cond-adm.pkl, ...) without
EDM's code, and wrap the network as a suite denoiser.

EDM pickles its networks with torch_utils/persistence.py: each network object is stored as a call of
`torch_utils.persistence._reconstruct_persistent_obj(meta)`, meta holding the class's module *source code*, the class
name and the object's state (its __dict__). Unpickling such a file with EDM's code installed runs that source code.
This reader never does: `find_class` maps only the names an EDM network pickle needs onto the suite's own functions
(the persistent objects onto the classes of distill/nets/edm.py by class name, tensors through torch's weights-only
loader, plain containers) and refuses every other global, so a foreign pickle stops before anything of it runs. A
persistent object of a class the suite does not implement (EDM's loss or augmentation objects stored beside the
network) is kept as inert data and never used.
"""

from __future__ import annotations

import collections
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from distill.core.schedule import CosineSchedule, alpha_sigma_from_logsnr
from distill.data.download import sha256_of
from distill.data.safe_pickle import AllowListUnpickler, multiarray
from distill.nets import edm

PERSISTENCE = ("torch_utils.persistence", "_reconstruct_persistent_obj")


class EDMPickleError(ValueError):
    """The file is not an EDM network pickle this suite can read (or not one at all)."""


class Unmapped:
    """A persistent object of a class the suite does not implement, kept as data: its class name and state."""

    def __init__(self, class_name: str, state: Mapping[str, Any]):
        self.class_name, self.state = class_name, state


def _reconstruct(meta: Mapping[str, Any]) -> Any:
    if not isinstance(meta, Mapping) or meta.get("type") != "class" or "class_name" not in meta:
        raise EDMPickleError("a persistent object without EDM's class record (type, class_name, state)")
    cls = edm.CLASSES.get(meta["class_name"])
    if cls is None:
        return Unmapped(meta["class_name"], meta.get("state") or {})
    obj = cls.__new__(cls)
    nn.Module.__setstate__(obj, dict(meta["state"]))  # the attributes EDM's object had; none of its code
    return obj


def _storage_from_bytes(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)  # a storage, read by torch's weights-only unpickler


class _EasyDict(dict):
    """dnnlib's EasyDict as plain data (a dict; EDM pickles its settings as one)."""


def _allowed() -> dict[tuple[str, str], Any]:
    """Every global an EDM network pickle names, mapped to what the suite runs for it."""
    return {
        PERSISTENCE: _reconstruct,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("dnnlib.util", "EasyDict"): _EasyDict,
        ("torch.nn.modules.container", "ModuleDict"): nn.ModuleDict,
        ("torch.nn.modules.container", "ModuleList"): nn.ModuleList,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "scalar"): multiarray.scalar,  # numpy < 2 wrote this name, numpy >= 2 the next
        ("numpy._core.multiarray", "scalar"): multiarray.scalar,
        ("builtins", "set"): set,
    }


def load_edm_pickle(path: str | Path, sha256: str | None = None, key: str = "ema") -> nn.Module:
    """The network under `key` (EDM saves its EMA weights as 'ema') of an EDM pickle, as the suite's own modules,
    in eval mode; `sha256` (the artifact registry's) is checked first."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such EDM pickle (`distill fetch` gets the official ones)")
    if sha256 is not None:
        digest = sha256_of(path)
        if not digest.startswith(sha256):
            raise EDMPickleError(f"{path} has sha256 {digest}, not the published {sha256}: a different or damaged "
                                 "file; delete it and fetch it again")
    with open(path, "rb") as f:
        try:
            data = AllowListUnpickler(f, str(path), _allowed(), "an EDM network pickle", EDMPickleError).load()
        except EDMPickleError:
            raise
        except Exception as exc:  # a truncated or non-pickle file
            raise EDMPickleError(f"{path} is not a readable EDM pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, Mapping) or key not in data:
        raise EDMPickleError(f"{path} holds no {key!r} network (keys: {sorted(data) if isinstance(data, Mapping) else type(data).__name__})")
    net = data[key]
    if isinstance(net, Unmapped):
        raise EDMPickleError(f"{path}: its {key!r} network is an EDM {net.class_name}, which the suite does not "
                             f"implement (it implements {', '.join(edm.PRECONDS)} over SongUNet or DhariwalUNet)")
    if type(net).__name__ not in edm.PRECONDS:
        raise EDMPickleError(f"{path}: its {key!r} object is a {type(net).__name__}, not a preconditioned network")
    for name, module in net.named_modules():
        if isinstance(module, Unmapped):  # pragma: no cover - nn.Module refuses non-modules as children
            raise EDMPickleError(f"{path}: {name} is an EDM {module.class_name}, which the suite does not implement")
    return net.eval().requires_grad_(False)


class EDMDenoiser(nn.Module):
    """An EDM network D(x; sigma, class) as a suite denoiser x-hat(z_t, t, cond): VP time t of the suite's schedule
    gives sigma = sigma_t / alpha_t and x = z_t / alpha_t (the sigma-form view distill/core/denoiser.py uses);
    cond['label'] (class indices) becomes EDM's one-hot class labels."""

    def __init__(self, net: nn.Module, schedule: CosineSchedule | None = None):
        super().__init__()
        self.net, self.schedule = net, schedule or CosineSchedule()

    @property
    def num_classes(self) -> int:
        return int(self.net.label_dim)

    def forward(self, z: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        alpha, sigma_t = alpha_sigma_from_logsnr(self.schedule.logsnr(t).to(torch.float64))
        sigma = (sigma_t / alpha).to(torch.float32)
        x = z / alpha.to(z.dtype).reshape(-1, *([1] * (z.ndim - 1)))
        labels = None
        if self.num_classes:
            if not cond or "label" not in cond:
                raise ValueError("this EDM network is class-conditional: pass cond={'label': LongTensor[B]}")
            labels = nn.functional.one_hot(cond["label"].long(), self.num_classes).to(torch.float32)
        return self.net(x.to(torch.float32), sigma, labels).to(z.dtype)


def denoiser_from_pickle(cfg: Mapping[str, Any]) -> EDMDenoiser:
    """An EDM network with its preconditioning from its official pickle (network section {kind: edm, pickle,
    pickle_sha256}, written by distill/pipeline/import_edm.py)."""
    return EDMDenoiser(load_edm_pickle(cfg["pickle"], sha256=cfg["pickle_sha256"]))
