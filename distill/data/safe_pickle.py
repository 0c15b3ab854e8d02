"""Unpickle plain data only: containers, numbers, strings, bytes and numpy arrays.

Unpickling runs whatever a file names (`os.system`, a class's code), so a pickle from outside the suite (the CIFAR-10
python batches) goes through this allow-list: numpy's array reconstruction and nothing else. Any other global stops
the read before anything of the file runs. (The suite's own training state is read by torch's weights-only loader,
distill/core/checkpoint.py; EDM's network pickles by distill/nets/edm_pickle.py.)
"""

from __future__ import annotations

import pickle
from typing import Any, BinaryIO

import numpy as np

try:
    from numpy._core import multiarray  # numpy >= 2
except ImportError:  # pragma: no cover - numpy < 2
    from numpy.core import multiarray


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""


def _allowed() -> dict[tuple[str, str], Any]:
    out = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # the name numpy < 2 and >= 2 write
        out[(module, "_reconstruct")] = multiarray._reconstruct
        out[(module, "scalar")] = multiarray.scalar
    return out


class AllowListUnpickler(pickle.Unpickler):
    """An unpickler that maps only the allowed (module, name) globals, raising `error` naming any other (and any
    persistent id); `kind` says what a file of this sort holds, in the message."""

    def __init__(self, file: BinaryIO, source: str, allowed: dict[tuple[str, str], Any], kind: str,
                 error: type[Exception] = UnsafePickleError, **kwargs):
        super().__init__(file, **kwargs)
        self.source, self.allowed, self.kind, self.error = source, allowed, kind, error

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed.get((module, name))
        if found is None:
            raise self.error(f"{self.source} refers to {module}.{name}, which {self.kind} does not need; refusing to "
                             "unpickle it (unpickling runs what a file names)")
        return found

    def persistent_load(self, pid):
        raise self.error(f"{self.source} uses persistent ids; {self.kind} does not")


def load(file: BinaryIO, source: str, encoding: str = "ASCII") -> Any:
    """pickle.load of plain data and numpy arrays only; `source` names the file in the error."""
    return AllowListUnpickler(file, source, _allowed(), "a plain-data pickle (containers, numbers, numpy arrays)",
                              encoding=encoding).load()
