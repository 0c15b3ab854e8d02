"""A command that writes a folder whole (a guided sweep, SFD's budget curve, DisBack's evaluation points) replaces
only what it wrote itself.

It writes its files into a hidden work folder beside the output and renames it into place at the end, so the folder
appears whole or not at all; the files it wrote are listed in the folder's manifest. Before any work, and again
before the swap, an existing output folder is checked: it may hold only the files of its own manifest (or, for a
folder made before manifests, only files named as this command names its own). Anything else (another run's results,
a folder pointed one level too high) is refused, naming what is there, and nothing is removed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from distill.errors import ConfigError

MANIFEST = ".written-by-distill.json"


class ForeignFiles(ConfigError):
    """The output folder holds files its command did not write."""


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} - {MANIFEST}


def check(folder: str | Path, kind: str, own: Callable[[str], bool], option: str = "--out") -> None:
    """Refuse `folder` unless it is absent, empty, or holds only what a `kind` command wrote there: its manifest's
    files and the names `own` accepts (those the command writes)."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ForeignFiles(f"{option} {folder} is a file; give a folder")
    present = _entries(folder)
    manifest = folder / MANIFEST
    if manifest.exists():
        try:
            record = json.loads(manifest.read_text())
            listed, made_by = set(record["files"]), record["kind"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ForeignFiles(f"{option} {folder}: its manifest {MANIFEST} is unreadable; move the folder away "
                               "or give another") from None
        if made_by != kind:
            raise ForeignFiles(f"{option} {folder} holds the output of {made_by!r}, not of {kind!r}; give another "
                               "folder")
        foreign = sorted(name for name in present - listed if not own(name))
    else:
        foreign = sorted(name for name in present if not own(name))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ForeignFiles(f"{option} {folder} holds {len(foreign)} entr{'y' if len(foreign) == 1 else 'ies'} this "
                           f"command did not write ({shown}); it replaces the folder whole, so give a folder of its "
                           "own (an empty or new one)")


def start(folder: str | Path, kind: str, own: Callable[[str], bool], option: str = "--out") -> Path:
    """Check the output folder, then give a fresh hidden work folder beside it."""
    folder = Path(folder)
    check(folder, kind, own, option)
    work = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def finish(work: Path, folder: str | Path, kind: str, own: Callable[[str], bool], option: str = "--out") -> None:
    """Record the work folder's files in its manifest and swap it in for the output folder (checked again: nothing
    foreign may have appeared meanwhile)."""
    folder = Path(folder)
    files: Iterable[str] = sorted(_entries(work))
    (work / MANIFEST).write_text(json.dumps({"kind": kind, "files": list(files)}, indent=1) + "\n")
    check(folder, kind, own, option)
    if folder.exists():
        shutil.rmtree(folder)
    work.rename(folder)
