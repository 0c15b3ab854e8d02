"""Make `import torchvision` work for torch-fidelity and clean-fid when the real torchvision cannot be imported.

Both libraries import torchvision at import time although FID/KID with a custom or local-weights extractor never
use it. The real torchvision is always preferred (GPU clusters have it); only when it fails to import is a minimal
in-memory stand-in registered, providing what those imports touch. Anything else raises a clear error when used.
Once both libraries are imported, the stand-in leaves sys.modules again (they keep their references to it), so that
libraries which probe for torchvision later (transformers, diffusers: importlib.util.find_spec) find none.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

import numpy as np
import torch

_FALLBACK_FLAG = "__distill_fallback__"
_STAND_IN: dict[str, types.ModuleType] = {}  # the stand-in's modules by name, once built


def _unavailable(what: str):
    class Unavailable:
        def __init__(self, *args, **kwargs):
            raise RuntimeError(
                f"torchvision.{what} is not available: the real torchvision could not be imported, so distill "
                "registered a minimal stand-in. Install a torchvision build matching torch to use it."
            )

    Unavailable.__name__ = what.rsplit(".", 1)[-1]
    return Unavailable


def _to_tensor(pic):
    arr = np.asarray(pic)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    tensor = torch.from_numpy(arr.transpose(2, 0, 1).copy())
    return tensor.float().div(255) if tensor.dtype == torch.uint8 else tensor.float()


class _Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class _ToTensor:
    def __call__(self, pic):
        return _to_tensor(pic)


def _normalize(tensor, mean, std, inplace=False):
    mean = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    std = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    return tensor.sub_(mean).div_(std) if inplace else (tensor - mean) / std


def _build() -> types.ModuleType:
    tv = types.ModuleType("torchvision")
    setattr(tv, _FALLBACK_FLAG, True)
    # no __version__ and no __file__: transformers counts a module without either as absent (import_utils.py)
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.normalize = _normalize
    functional.to_tensor = _to_tensor
    transforms.functional = functional
    transforms.ToTensor, transforms.Compose = _ToTensor, _Compose
    transforms.Resize, transforms.CenterCrop = _unavailable("transforms.Resize"), _unavailable("transforms.CenterCrop")
    models = types.ModuleType("torchvision.models")
    utils = types.ModuleType("torchvision.models.utils")
    utils.load_state_dict_from_url = torch.hub.load_state_dict_from_url
    inception = types.ModuleType("torchvision.models.inception")
    for name in ("InceptionA", "InceptionC", "InceptionE", "Inception3", "BasicConv2d"):
        setattr(inception, name, _unavailable(f"models.inception.{name}"))
    models.utils, models.inception = utils, inception
    models.vgg16 = _unavailable("models.vgg16")
    models.inception_v3 = _unavailable("models.inception_v3")
    models.VGG16_Weights = _unavailable("models.VGG16_Weights")
    datasets = types.ModuleType("torchvision.datasets")
    for name in ("CIFAR10", "CIFAR100", "STL10"):
        setattr(datasets, name, _unavailable(f"datasets.{name}"))
    tv.transforms, tv.models, tv.datasets = transforms, models, datasets
    for mod in (tv, transforms, functional, models, utils, inception, datasets):
        mod.__spec__ = importlib.machinery.ModuleSpec(mod.__name__, None)
        _STAND_IN[mod.__name__] = mod
    return tv


def ensure_torchvision() -> bool:
    """Import the real torchvision if possible; else register the stand-in. Returns True if the real one is used."""
    existing = sys.modules.get("torchvision")
    if existing is not None:
        return not getattr(existing, _FALLBACK_FLAG, False)
    if _STAND_IN:  # built before, then withdrawn
        sys.modules.update(_STAND_IN)
        return False
    try:
        import torchvision  # noqa: F401

        return True
    except Exception:  # ImportError, or a CUDA build failing at import (operator torchvision::nms does not exist)
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        _build()
        sys.modules.update(_STAND_IN)
        return False


def stand_in() -> types.ModuleType | None:
    """The stand-in torchvision, if this process built one (the real one failed to import)."""
    return _STAND_IN.get("torchvision")


def import_torch_fidelity():
    """torch-fidelity and clean-fid, imported over the real torchvision or over the stand-in, which then leaves
    sys.modules again."""
    real = ensure_torchvision()
    import cleanfid.fid  # noqa: F401
    import torch_fidelity

    if not real:
        for name in _STAND_IN:
            sys.modules.pop(name, None)
    return torch_fidelity
