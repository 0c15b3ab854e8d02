"""Reading .npz files (samples, reference statistics, image sets, data batches) with one clear error for a missing,
truncated or foreign file, naming the file. Pickled objects are never loaded."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from distill.data.base import DataError


def read_npz(path: str | Path, what: str, required: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Every array of the .npz at `path` (read eagerly); `what` says what the file should be, for the messages."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single .npy array, not an .npz archive")
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise DataError(f"{what} {path} is not a readable .npz (truncated, or another kind of file: {exc}); "
                        "re-create it") from exc
    missing = [k for k in required if k not in arrays]
    if missing:
        raise DataError(f"{what} {path} lacks the array(s) {missing} (it holds {sorted(arrays)}); re-create it")
    return arrays
